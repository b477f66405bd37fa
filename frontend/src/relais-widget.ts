// <relais-widget api="https://relais.example.com" token="..."></relais-widget>
// One script tag and one element: ask, follow my questions, answer what is relayed to me, the
// directory and my profile, in English or French. The token comes from, in this order: the
// `tokenProvider` property (a function, may be async), the `token` attribute, or a global function
// named by the `token-provider` attribute (default `relaisToken`, e.g. window.relaisToken = async
// () => "...").
import { LitElement, css, html, nothing, type PropertyValues } from "lit";
import { Api } from "./api";
import "./ask";
import type { Ctx } from "./base";
import "./directory";
import { pickLang, safeStorage, translator, type Key, type Lang } from "./i18n";
import "./inbox";
import "./mine";
import "./profile";
import "./question";
import { styles } from "./styles";

export { Api, ApiError } from "./api";
export { toSafeHtml } from "./markdown";

export const TABS = ["ask", "mine", "inbox", "directory", "profile"] as const;
type Tab = (typeof TABS)[number];

export class RelaisWidget extends LitElement {
  static styles = [styles, css`
    .shell { border: 1px solid var(--line); border-radius: 10px; background: var(--bg); overflow: hidden; }
    header { display: flex; align-items: center; justify-content: space-between; gap: .5rem; padding: .5rem .75rem; background: var(--accent); color: #fff; }
    header h1 { font-size: 1.05rem; margin: 0; }
    header select { width: auto; padding: .15rem .3rem; color: var(--text); background: #fff; }
    [role="tablist"] { display: flex; flex-wrap: wrap; border-bottom: 1px solid var(--line); }
    [role="tab"] { flex: 0 0 auto; border: 0; margin-bottom: -1px; border-radius: 0; border-bottom: 3px solid transparent; padding: .55rem .75rem; color: var(--muted); background: none; }
    [role="tab"][aria-selected="true"] { color: var(--accent); border-bottom-color: var(--accent); font-weight: 600; }
    [role="tabpanel"] { padding: .75rem; }
    .count { display: inline-block; min-width: 1.3em; margin-left: .25rem; border-radius: 999px; background: var(--accent); color: #fff; font-size: .75rem; padding: 0 .35rem; }
  `];

  static properties = {
    api: { type: String },
    token: { type: String },
    poll: { type: Number },
    tab: { type: String, reflect: true },
    locale: { state: true },
    questionId: { state: true },
    visited: { state: true },
  };
  declare api: string;
  declare token: string;
  declare poll: number;
  declare tab: Tab;
  declare locale: Lang;
  declare questionId: string;
  declare visited: Set<Tab>;
  /** A function returning the bearer token (or a promise of it); wins over the attribute. */
  tokenProvider?: () => string | null | Promise<string | null>;
  private client?: Api;
  private ctx?: Ctx;

  constructor() {
    super();
    this.api = "";
    this.token = "";
    this.poll = 15;
    this.tab = "ask";
    this.locale = "en";
    this.questionId = "";
    this.visited = new Set();
  }

  connectedCallback() {
    super.connectedCallback();
    this.locale = pickLang(this.getAttribute("lang"));
    this.addEventListener("relais-open", (e) => this.open((e as CustomEvent).detail.id));
    this.addEventListener("relais-asked", (e) => this.select("mine", (e as CustomEvent).detail.id));
    this.addEventListener("relais-back", () => {
      this.questionId = "";
      this.updateComplete.then(() => this.tabButton(this.tab)?.focus());
    });
  }

  private async resolveToken(): Promise<string | null> {
    if (this.tokenProvider) return (await this.tokenProvider()) || null;
    if (this.token) return this.token;
    const provider = (window as unknown as Record<string, unknown>)[this.getAttribute("token-provider") || "relaisToken"];
    return typeof provider === "function" ? ((await provider()) as string) || null : null;
  }

  protected willUpdate(changed: PropertyValues) {
    if (!TABS.includes(this.tab)) this.tab = "ask";
    if (!this.client || changed.has("api")) this.client = new Api(this.api || "", () => this.resolveToken());
    if (!this.ctx || changed.has("api") || changed.has("locale")) {
      this.ctx = { api: this.client, t: translator(this.locale), lang: this.locale };
    }
    if (!this.visited.has(this.tab)) this.visited = new Set([...this.visited, this.tab]);
  }

  private select(tab: Tab, questionId = "") {
    this.tab = tab;
    this.questionId = questionId;
  }

  private open(id: string) {
    this.questionId = id;
  }

  private tabButton(tab: Tab) {
    return this.renderRoot.querySelector(`#tab-${tab}`) as HTMLButtonElement | null;
  }

  private onTabKey(event: KeyboardEvent) {
    const index = TABS.indexOf(this.tab);
    const next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: TABS.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    const tab = TABS[(next + TABS.length) % TABS.length];
    this.select(tab);
    this.updateComplete.then(() => this.tabButton(tab)?.focus());
  }

  private setLang(lang: Lang) {
    this.locale = lang;
    safeStorage("relais-lang", lang);
  }

  render() {
    const ctx = this.ctx!;
    const t = ctx.t;
    return html`<div class="shell" lang=${this.locale}>
      <header>
        <h1>${t("title")}</h1>
        <div>
          <label for="lang" class="sr-only">${t("language")}</label>
          <select id="lang" @change=${(e: Event) => this.setLang((e.target as HTMLSelectElement).value as Lang)}>
            <option value="en" lang="en" ?selected=${this.locale === "en"}>English</option>
            <option value="fr" lang="fr" ?selected=${this.locale === "fr"}>Français</option>
          </select>
        </div>
      </header>
      <div role="tablist" aria-label=${t("tabs")} @keydown=${this.onTabKey}>
        ${TABS.map((tab) => html`<button type="button" role="tab" id="tab-${tab}" aria-controls="panel-${tab}"
          aria-selected=${tab === this.tab ? "true" : "false"} tabindex=${tab === this.tab ? 0 : -1}
          @click=${() => this.select(tab)}>${t(`tab.${tab}` as Key)}</button>`)}
      </div>
      ${TABS.map((tab) => {
        const current = tab === this.tab;
        const detail = current && this.questionId;
        return html`<div role="tabpanel" id="panel-${tab}" aria-labelledby="tab-${tab}" ?hidden=${!current}>
          ${this.visited.has(tab) ? this.panel(tab, ctx, current && !detail) : nothing}
          ${detail ? html`<relais-question .ctx=${ctx} .poll=${this.poll} question-id=${this.questionId}></relais-question>` : nothing}
        </div>`;
      })}
    </div>`;
  }

  private panel(tab: Tab, ctx: Ctx, shown: boolean) {
    switch (tab) {
      case "ask": return html`<relais-ask .ctx=${ctx} ?active=${shown} ?hidden=${!shown}></relais-ask>`;
      case "mine": return html`<relais-mine .ctx=${ctx} ?active=${shown} ?hidden=${!shown}></relais-mine>`;
      case "inbox": return html`<relais-inbox .ctx=${ctx} ?active=${shown} ?hidden=${!shown}></relais-inbox>`;
      case "directory": return html`<relais-directory .ctx=${ctx} ?active=${shown} ?hidden=${!shown}></relais-directory>`;
      case "profile": return html`<relais-profile .ctx=${ctx} ?active=${shown} ?hidden=${!shown}></relais-profile>`;
    }
  }
}

customElements.get("relais-widget") || customElements.define("relais-widget", RelaisWidget);

declare global {
  interface HTMLElementTagNameMap {
    "relais-widget": RelaisWidget;
  }
}
