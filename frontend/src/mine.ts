// "My questions": what I asked, with status; opens one to follow it and accept an answer.
import { html, nothing, type PropertyValues } from "lit";
import type { Question } from "./api";
import { Panel } from "./base";
import { formatDate, labelOf, plural } from "./i18n";

export class MinePanel extends Panel {
  static properties = { ...Panel.properties, items: { state: true } };
  declare items: Question[] | null;

  constructor() {
    super();
    this.items = null;
  }

  protected updated(changed: PropertyValues) {
    if (changed.has("active") && this.active) this.load();
  }

  async load() {
    const page = await this.run(() => this.ctx.api.myQuestions());
    if (page) this.items = page.items;
  }

  render() {
    const t = this.t;
    return html`<h2>${t("mine.heading")}</h2>
      <div class="actions"><button type="button" @click=${() => this.load()}>${t("refresh")}</button></div>
      ${this.messages()}
      ${this.items === null ? html`<p class="status">${t("loading")}</p>`
        : this.items.length === 0 ? html`<p class="meta">${t("mine.none")}</p>`
        : html`<ul class="plain">${this.items.map((q) => html`<li class="card">
            <button type="button" class="link" @click=${() => this.openQuestion(q.id)}>${q.title}</button>
            <p class="meta"><span class="badge ${q.status === "open" ? "" : "ok"}">${labelOf(t, "q.status", q.status)}</span>
              · ${plural(t, "q.answers", q.answer_count)} · ${formatDate(this.ctx.lang, q.created_at)}
              ${q.anonymous ? html` · ${t("q.anonymous")}` : nothing}</p>
          </li>`)}</ul>`}`;
  }
}
customElements.get("relais-mine") || customElements.define("relais-mine", MinePanel);
