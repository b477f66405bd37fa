// What every part of the widget shares: the API client, the language, messages, events.
import { LitElement, html, nothing } from "lit";
import { ApiError, type Api } from "./api";
import type { Lang, T } from "./i18n";
import { styles } from "./styles";

export interface Ctx {
  api: Api;
  t: T;
  lang: Lang;
}

/** A part of the widget: gets the context from the shell, shows one error and one notice. */
export class Panel extends LitElement {
  static styles = styles;
  static properties = {
    ctx: { attribute: false },
    active: { type: Boolean },
    error: { state: true },
    notice: { state: true },
    busy: { state: true },
  };
  declare ctx: Ctx;
  declare active: boolean;
  declare error: string;
  declare notice: string;
  declare busy: boolean;

  constructor() {
    super();
    this.active = false;
    this.error = "";
    this.notice = "";
    this.busy = false;
  }

  get t(): T {
    return this.ctx.t;
  }

  /** Runs an API call, showing a readable error instead of throwing. */
  protected async run<R>(work: () => Promise<R>, done = ""): Promise<R | undefined> {
    this.busy = true;
    this.error = "";
    this.notice = "";
    try {
      const result = await work();
      this.notice = done;
      return result;
    } catch (err) {
      this.error = this.describe(err);
      return undefined;
    } finally {
      this.busy = false;
    }
  }

  protected describe(err: unknown): string {
    if (err instanceof ApiError) {
      if (err.status === 401) return this.t("error.auth");
      if (err.status === 0) return this.t("error.network");
      const fields = err.details.map((d) => `${d.field}: ${d.message}`).join("; ");
      return this.t("error", { message: fields || err.message });
    }
    return this.t("error", { message: String(err) });
  }

  /** The error (role=alert) and the notice (role=status) of this part. */
  protected messages() {
    return html`<div role="alert">${this.error ? html`<p class="error">${this.error}</p>` : nothing}</div>
      <div role="status">${this.notice ? html`<p class="notice">${this.notice}</p>` : nothing}</div>`;
  }

  /** Asks the shell to show one question (detail view). */
  protected openQuestion(id: string) {
    this.dispatchEvent(new CustomEvent("relais-open", { detail: { id }, bubbles: true, composed: true }));
  }
}
