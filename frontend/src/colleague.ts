// Choosing a colleague by name, with a word for them: to invite them to answer a question, or
// to pass on a question relayed to me. The caller does the sending (`send`); the API says
// when someone cannot be asked (away, out of routing, too many open questions).
import { html, nothing } from "lit";
import type { Profile } from "./api";
import { Panel } from "./base";
import type { Key } from "./i18n";

const SEARCH_DELAY_MS = 250;
const SHOWN = 6;

export class ColleaguePicker extends Panel {
  static properties = {
    ...Panel.properties,
    send: { attribute: false },
    action: { attribute: false },
    exclude: { attribute: false },
    found: { state: true },
    chosen: { state: true },
  };
  declare send: (personId: string, note: string) => Promise<boolean>;
  declare action: Key; // the submit button's text, with {name}
  declare exclude: string[]; // people not to offer (the caller, the asker, those already asked)
  declare found: Profile[];
  declare chosen: Profile | null;
  private timer?: number;
  private searched = "";

  constructor() {
    super();
    this.exclude = [];
    this.found = [];
    this.chosen = null;
  }

  disconnectedCallback() {
    super.disconnectedCallback();
    window.clearTimeout(this.timer);
  }

  private typed(event: Event) {
    const words = (event.target as HTMLInputElement).value.trim();
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.search(words), SEARCH_DELAY_MS);
  }

  private async search(words: string) {
    this.searched = words;
    if (words.length < 2) {
      this.found = [];
      return;
    }
    const page = await this.run(() => this.ctx.api.profiles(words, "", null));
    if (page && words === this.searched) {
      this.found = page.items.filter((p) => !this.exclude.includes(p.id)).slice(0, SHOWN);
    }
  }

  private async submit(event: Event) {
    event.preventDefault();
    if (!this.chosen) return;
    const note = ((event.target as HTMLFormElement).elements.namedItem("note") as HTMLTextAreaElement).value.trim();
    this.busy = true;
    this.error = "";
    try {
      if (await this.send(this.chosen.id, note)) this.close();
    } catch (err) {
      this.error = this.describe(err);
    } finally {
      this.busy = false;
    }
  }

  private close() {
    this.dispatchEvent(new CustomEvent("relais-picked", { bubbles: true, composed: true }));
  }

  render() {
    const t = this.t;
    return html`<form class="card colleague-picker" @submit=${this.submit}>
      <label for="colleague">${t("pick.name")}</label>
      <input id="colleague" type="search" autocomplete="off" @input=${this.typed}>
      ${this.found.length ? html`<ul class="plain" aria-label=${t("pick.found")}>${this.found.map((p) => html`<li>
          <button type="button" class="link colleague" aria-pressed=${this.chosen?.id === p.id ? "true" : "false"}
            @click=${() => { this.chosen = p; }}>${p.name}</button>
          <span class="meta">${[p.department, p.site].filter(Boolean).join(" · ")}</span>
          ${p.routing_opt_out ? html` <span class="badge">${t("pick.optedOut")}</span>` : nothing}
        </li>`)}</ul>` : nothing}
      <label for="note">${t("pick.note")}</label>
      <textarea id="note" name="note" maxlength="500"></textarea>
      ${this.messages()}
      <div class="actions">
        <button class="primary" type="submit" ?disabled=${!this.chosen || this.busy}>${
          this.chosen ? t(this.action, { name: this.chosen.name }) : t("pick.choose")}</button>
        <button type="button" @click=${this.close}>${t("pick.cancel")}</button>
      </div>
    </form>`;
  }
}
customElements.get("relais-colleague-picker") || customElements.define("relais-colleague-picker", ColleaguePicker);
