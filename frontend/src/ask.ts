// Asking: suggested experts (with why) and similar answered questions while typing; submit.
import { html, nothing } from "lit";
import type { Draft, Expert, SimilarQuestion } from "./api";
import { Panel } from "./base";
import { labelOf, plural } from "./i18n";
import { expertCard } from "./why";

export const DEBOUNCE_MS = 300;

export function parseTags(text: string): string[] {
  const tags = text.split(/[,;\s]+/).map((tag) => tag.trim().toLowerCase()).filter(Boolean);
  return [...new Set(tags)].slice(0, 10);
}

export class AskPanel extends Panel {
  static properties = {
    ...Panel.properties,
    experts: { state: true },
    similar: { state: true },
    searching: { state: true },
    searched: { state: true },
  };
  declare experts: Expert[];
  declare similar: SimilarQuestion[];
  declare searching: boolean;
  declare searched: boolean;
  private timer?: number;
  private sequence = 0;

  constructor() {
    super();
    this.experts = [];
    this.similar = [];
    this.searching = false;
    this.searched = false;
  }

  private field(name: string): HTMLInputElement & HTMLTextAreaElement {
    return this.renderRoot.querySelector(`[name="${name}"]`)!;
  }

  private draft(): Draft {
    return { title: this.field("title").value.trim(), body: this.field("body").value.trim(),
      tags: parseTags(this.field("tags").value) };
  }

  private onInput() {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.suggest(), DEBOUNCE_MS);
  }

  private async suggest() {
    const draft = this.draft();
    const sequence = ++this.sequence;
    if ((draft.title + draft.body).length < 3 && !draft.tags.length) {
      this.experts = [];
      this.similar = [];
      this.searched = false;
      return;
    }
    this.searching = true;
    try {
      const [experts, similar] = await Promise.all([
        this.ctx.api.suggestExperts(draft), this.ctx.api.suggestQuestions(draft)]);
      if (sequence !== this.sequence) return; // a newer draft is on its way
      this.experts = experts.experts;
      this.similar = similar.questions;
      this.searched = true;
      this.error = "";
    } catch (err) {
      if (sequence === this.sequence) this.error = this.describe(err);
    } finally {
      if (sequence === this.sequence) this.searching = false;
    }
  }

  private async submit(event: Event) {
    event.preventDefault();
    const draft = this.draft();
    if (draft.title.length < 3) {
      this.error = this.t("ask.tooShort");
      this.field("title").focus();
      return;
    }
    const anonymous = (this.renderRoot.querySelector("[name=anonymous]") as HTMLInputElement).checked;
    const question = await this.run(() => this.ctx.api.ask({ ...draft, anonymous }), this.t("ask.sent"));
    if (!question) return;
    (this.renderRoot.querySelector("form") as HTMLFormElement).reset();
    this.sequence++;
    this.experts = [];
    this.similar = [];
    this.searched = false;
    this.dispatchEvent(new CustomEvent("relais-asked", { detail: { id: question.id }, bubbles: true, composed: true }));
  }

  render() {
    const t = this.t;
    const summary = this.searching
      ? t("ask.searching")
      : this.searched
        ? `${plural(t, "ask.expertsFound", this.experts.length)}, ${plural(t, "ask.similarFound", this.similar.length)}`
        : "";
    return html`<div class="split">
      <form @submit=${this.submit} @input=${this.onInput} novalidate>
        <h2>${t("ask.heading")}</h2>
        <label for="title">${t("ask.title")}</label>
        <p class="hint" id="title-hint">${t("ask.titleHint")}</p>
        <input type="text" id="title" name="title" maxlength="300" required aria-describedby="title-hint" autocomplete="off">
        <label for="body">${t("ask.body")}</label>
        <textarea id="body" name="body" maxlength="20000"></textarea>
        <label for="tags">${t("ask.tags")}</label>
        <input type="text" id="tags" name="tags" autocomplete="off">
        <label class="check"><input type="checkbox" name="anonymous"> <span>${t("ask.anonymous")}</span></label>
        <div class="actions"><button class="primary" type="submit" ?disabled=${this.busy}>${t("ask.submit")}</button></div>
        ${this.messages()}
      </form>
      <section aria-label=${t("ask.experts")} aria-busy=${this.searching ? "true" : "false"}>
        <p class="status" role="status" aria-live="polite" id="suggestion-status">${summary}</p>
        ${this.searched ? this.results() : nothing}
      </section>
    </div>`;
  }

  private results() {
    const t = this.t;
    const open = (id: string) => this.openQuestion(id);
    return html`
      <h3>${t("ask.experts")}</h3>
      ${this.experts.length
        ? html`<ul class="plain experts">${this.experts.map((e) => expertCard(e, t, this.ctx.lang, open))}</ul>`
        : html`<p class="meta">${t("ask.noExperts")}</p>`}
      <h3>${t("ask.similar")}</h3>
      ${this.similar.length
        ? html`<ul class="plain similar">${this.similar.map((q) => html`<li class="card">
            <button type="button" class="link" @click=${() => open(q.id)}>${q.title}</button>
            <p class="meta">${labelOf(t, "q.status", q.status)} · ${plural(t, "q.answers", q.answer_count)}
              ${q.accepted ? html` · <span class="badge ok">${t("q.accepted")}</span>` : nothing}</p>
          </li>`)}</ul>`
        : html`<p class="meta">${t("ask.noSimilar")}</p>`}`;
  }
}
customElements.get("relais-ask") || customElements.define("relais-ask", AskPanel);
