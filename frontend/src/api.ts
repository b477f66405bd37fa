// A small client for the Relais JSON API (bearer token, JSON errors).

export interface Person {
  id: string;
  name: string;
  department?: string;
  site?: string;
  languages?: string[];
  skills?: string[];
}

export interface Profile extends Person {
  email: string;
  bio: string;
  away_until: string | null;
  routing_opt_out: boolean;
  muted_tags: string[];
  watched_tags: string[];
  notify: "immediate" | "daily";
  version: number;
}

export interface InferredTag {
  tag: string;
  answers: number;
  accepted: number;
  last_answered_at: string;
  weight: number;
  declared: boolean;
  muted: boolean;
}

export interface Expertise {
  person_id: string;
  declared: string[];
  muted: string[];
  inferred: InferredTag[];
}

export interface Evidence {
  kind: "skills" | "bio" | "answer" | "tags" | "activity" | "profile" | "topics";
  share: number;
  question_id: string | null;
  question_title?: string;
  accepted: boolean;
  text: string;
  matched: string[];
}

export interface Expert {
  person: Person;
  score: number;
  damped_by_load: boolean;
  /** False when suggested mostly for being active lately, with little on the question's topic. */
  on_topic: boolean;
  explanation: Evidence[];
}

export interface SimilarQuestion {
  id: string;
  title: string;
  status: string;
  answer_count: number;
  accepted: boolean;
}

export interface Answer {
  id: string;
  body: string;
  author: { id: string | null; name: string };
  accepted: boolean;
  mine: boolean;
  created_at: string;
}

export interface Question {
  id: string;
  title: string;
  body: string;
  tags: string[];
  anonymous: boolean;
  status: string;
  accepted_answer_id: string | null;
  answer_count: number;
  asker: { id: string | null; name: string } | null;
  asked_by_me: boolean;
  created_at: string;
  answers?: Answer[];
}

export interface Relay {
  question_id: string;
  expert: { id: string | null; name: string };
  state: string;
  reason: string;
  rank: number;
  explanation: Evidence[];
  due_at: string | null;
  // Who invited them or passed it on; name null for an anonymous asker who invited them.
  invited_by: { id: string | null; name: string | null } | null;
  note: string;
  question?: Question;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
  total?: number;
}

// GET /me/export: the whole document, or, when it is too large for a response (on AWS), a
// link to it that expires.
export interface MyData {
  format: string;
  exported_at: string;
  download?: { url: string; expires_at: string; bytes: number; filename: string };
  [part: string]: unknown;
}

export interface Draft {
  title: string;
  body: string;
  tags: string[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: { field: string; message: string }[] = [],
  ) {
    super(message);
  }
}

export type TokenSource = () => Promise<string | null>;

export class Api {
  constructor(
    private readonly base: string,
    private readonly token: TokenSource,
  ) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: "application/json" };
    const token = await this.token();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(this.base.replace(/\/+$/, "") + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "network", "network error");
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const error = data?.error ?? {};
      throw new ApiError(response.status, error.code ?? "http", error.message ?? response.statusText,
        error.details ?? []);
    }
    return data as T;
  }

  get<T>(path: string, query: Record<string, string | number | boolean | null | undefined> = {}) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== null && value !== undefined && value !== "") params.set(key, String(value));
    }
    const qs = params.toString();
    return this.call<T>("GET", qs ? `${path}?${qs}` : path);
  }

  // The API, one method a route the widget uses.
  me = () => this.get<Profile>("/me");
  profiles = (q: string, skill: string, cursor: string | null) =>
    this.get<Page<Profile>>("/profiles", { q, skill, cursor, limit: 12 });
  expertise = (id: string) => this.get<Expertise>(`/profiles/${encodeURIComponent(id)}/expertise`);
  editProfile = (id: string, patch: Partial<Profile>) =>
    this.call<Profile>("PATCH", `/profiles/${encodeURIComponent(id)}`, patch);
  suggestExperts = (draft: Draft) =>
    this.call<{ experts: Expert[] }>("POST", "/suggestions/experts", draft);
  suggestQuestions = (draft: Draft) =>
    this.call<{ questions: SimilarQuestion[] }>("POST", "/suggestions/questions", draft);
  ask = (draft: Draft & { anonymous: boolean }) => this.call<Question>("POST", "/questions", draft);
  myQuestions = () => this.get<Page<Question>>("/questions", { mine: true, limit: 50 });
  question = (id: string) => this.get<Question>(`/questions/${encodeURIComponent(id)}`);
  relaysOf = (id: string) => this.get<Page<Relay>>(`/questions/${encodeURIComponent(id)}/relays`);
  answer = (id: string, body: string) =>
    this.call<Answer>("POST", `/questions/${encodeURIComponent(id)}/answers`, { body });
  accept = (id: string, answerId: string) =>
    this.call<Question>("POST", `/questions/${encodeURIComponent(id)}/accept`, { answer_id: answerId });
  inbox = () => this.get<Page<Relay>>("/relays", { state: "open", limit: 100 });
  watchedQuestions = () => this.get<Page<Question>>("/questions", { watched: true, status: "open", limit: 20 });
  decline = (id: string) => this.call<Relay>("POST", `/questions/${encodeURIComponent(id)}/decline`);
  invite = (id: string, personId: string, note: string) =>
    this.call<Relay>("POST", `/questions/${encodeURIComponent(id)}/invite`, { person_id: personId, note });
  handOff = (id: string, personId: string, note: string) =>
    this.call<Relay>("POST", `/questions/${encodeURIComponent(id)}/handoff`, { person_id: personId, note });
  exportMine = () => this.get<MyData>("/me/export");
  deleteMe = () =>
    this.call<{ id: string; deleted: boolean; answers_kept: number }>("DELETE", "/me?confirm=true");
  snooze = (id: string, hours: number) =>
    this.call<Relay>("POST", `/questions/${encodeURIComponent(id)}/snooze`, { hours });
}
