// One question: its status, to whom it was relayed (for the asker), its answers; accept, answer,
// invite a colleague by name.
import { html, nothing, type PropertyValues } from "lit";
import type { Answer, Question, Relay } from "./api";
import { Panel } from "./base";
import { formatDate, labelOf } from "./i18n";
import { markdown } from "./markdown";
import "./colleague";

export class QuestionView extends Panel {
  static properties = {
    ...Panel.properties,
    questionId: { attribute: "question-id" },
    poll: { type: Number },
    question: { state: true },
    relays: { state: true },
    inviting: { state: true },
  };
  declare questionId: string;
  declare poll: number;
  declare question: Question | null;
  declare relays: Relay[];
  declare inviting: boolean;
  private timer?: number;

  constructor() {
    super();
    this.questionId = "";
    this.poll = 15;
    this.question = null;
    this.relays = [];
    this.inviting = false;
  }

  disconnectedCallback() {
    super.disconnectedCallback();
    window.clearInterval(this.timer);
  }

  protected updated(changed: PropertyValues) {
    if (changed.has("questionId") && this.questionId) {
      this.question = null;
      this.load();
      window.clearInterval(this.timer);
      // The asker follows the status: relays and answers are fetched again every `poll` seconds.
      if (this.poll > 0) this.timer = window.setInterval(() => this.load(true), this.poll * 1000);
    }
  }

  async load(quiet = false) {
    const id = this.questionId;
    try {
      const question = await this.ctx.api.question(id);
      const relays = question.asked_by_me ? (await this.ctx.api.relaysOf(id)).items : [];
      if (id !== this.questionId) return;
      this.question = question;
      this.relays = relays;
      if (!quiet) this.error = "";
    } catch (err) {
      if (!quiet) this.error = this.describe(err);
    }
  }

  private async accept(answer: Answer) {
    const question = await this.run(() => this.ctx.api.accept(this.questionId, answer.id), this.t("q.acceptedDone"));
    if (question) await this.load(true);
  }

  // Errors are the picker's to show, beside the colleague chosen.
  private invite = async (personId: string, note: string) => {
    await this.ctx.api.invite(this.questionId, personId, note);
    this.inviting = false;
    this.notice = this.t("q.invited");
    await this.load(true);
    return true;
  };

  private async sendAnswer(event: Event) {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const body = (form.elements.namedItem("answer") as HTMLTextAreaElement).value.trim();
    if (!body) return;
    const answer = await this.run(() => this.ctx.api.answer(this.questionId, body), this.t("q.answerSent"));
    if (answer) {
      form.reset();
      await this.load(true);
    }
  }

  render() {
    const t = this.t;
    const q = this.question;
    const back = html`<div class="actions">
      <button type="button" @click=${() => this.dispatchEvent(new CustomEvent("relais-back", { bubbles: true, composed: true }))}>← ${t("back")}</button>
      <button type="button" @click=${() => this.load()}>${t("refresh")}</button></div>`;
    if (!q) return html`${back}${this.messages()}${this.error ? nothing : html`<p class="status">${t("loading")}</p>`}`;
    const answers = q.answers ?? [];
    return html`${back}
      <article class="question" aria-labelledby="question-title">
        <h2 id="question-title">${q.title}</h2>
        <p class="meta">
          <span class="badge ${q.status === "open" ? "" : "ok"}" data-status=${q.status}>${labelOf(t, "q.status", q.status)}</span>
          · ${t("q.askedBy", { name: q.asker?.name ?? t("q.anonymous") })} · ${formatDate(this.ctx.lang, q.created_at)}
        </p>
        ${q.tags.length ? html`<ul class="chips">${q.tags.map((tag) => html`<li class="chip">${tag}</li>`)}</ul>` : nothing}
        ${q.body ? markdown(q.body) : nothing}
        ${q.asked_by_me ? this.relayList() : nothing}
        ${q.status === "open" ? this.inviteForm(q) : nothing}
        <h3>${t("q.answersHeading")}</h3>
        ${answers.length ? html`<ul class="plain answers">${answers.map((a) => this.answerItem(q, a))}</ul>`
          : html`<p class="meta">${t("q.noAnswer")}</p>`}
        ${this.messages()}
        ${q.asked_by_me || q.status === "closed" ? nothing : html`<form @submit=${this.sendAnswer}>
          <label for="answer">${t("q.yourAnswer")}</label>
          <textarea id="answer" name="answer" required maxlength="20000"></textarea>
          <div class="actions"><button class="primary" type="submit" ?disabled=${this.busy}>${t("q.sendAnswer")}</button></div>
        </form>`}
      </article>`;
  }

  private relayList() {
    const t = this.t;
    return html`<h3>${t("q.relayedTo")}</h3>
      ${this.relays.length ? html`<ul class="plain relays">${this.relays.map((r) => html`<li class="meta relay">
          <strong>${r.expert.name}</strong> — <span data-state=${r.state}>${labelOf(t, "relay", r.state)}</span>
          ${r.invited_by?.name ? html` · <span class="invited-by">${r.invited_by.id === this.question?.asker?.id
            ? t("q.invitedByYou") : t(r.reason === "handoff" ? "q.passedBy" : "q.invitedBy", { name: r.invited_by.name })}</span>` : nothing}
        </li>`)}</ul>` : html`<p class="meta">${t("q.noRelay")}</p>`}`;
  }

  // Anyone who knows who knows may ask them by name; the people already asked are not offered.
  private inviteForm(q: Question) {
    const t = this.t;
    if (!this.inviting) {
      return html`<div class="actions"><button type="button" class="invite" @click=${() => { this.inviting = true; }}>${t("q.invite")}</button></div>`;
    }
    const asked = this.relays.map((r) => r.expert.id);
    return html`<relais-colleague-picker .ctx=${this.ctx} .send=${this.invite} .action=${"q.inviteTo"}
      .exclude=${[q.asker?.id, ...asked].filter((id): id is string => !!id)}
      @relais-picked=${() => { this.inviting = false; }}></relais-colleague-picker>`;
  }

  private answerItem(q: Question, a: Answer) {
    const t = this.t;
    return html`<li class="card answer ${a.accepted ? "accepted" : ""}">
      <p class="meta">${t("q.by", { name: a.author.name })} · ${formatDate(this.ctx.lang, a.created_at)}
        ${a.accepted ? html` · <span class="badge ok">${t("q.accepted")}</span>` : nothing}</p>
      ${markdown(a.body)}
      ${q.asked_by_me && !a.accepted && !a.mine
        ? html`<div class="actions"><button type="button" @click=${() => this.accept(a)}>${t("q.accept")}</button></div>`
        : nothing}
    </li>`;
  }
}
customElements.get("relais-question") || customElements.define("relais-question", QuestionView);
