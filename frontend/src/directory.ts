// The directory: search people by skill or free text; cards with site, languages, ways to meet.
import { html, nothing, type PropertyValues } from "lit";
import type { InferredTag, Profile } from "./api";
import { DEBOUNCE_MS } from "./ask";
import { Panel } from "./base";
import { formatDate, plural } from "./i18n";
import { coffeeInvite, mailto } from "./meet";

const ANSWERED_TAGS = 8;

export class DirectoryPanel extends Panel {
  static properties = {
    ...Panel.properties,
    items: { state: true },
    total: { state: true },
    cursor: { state: true },
    shown: { state: true },
  };
  declare items: Profile[] | null;
  declare total: number;
  declare cursor: string | null;
  // What each person's answers show, read when their card asks for it.
  declare shown: Record<string, InferredTag[]>;
  private timer?: number;
  private sequence = 0;

  constructor() {
    super();
    this.items = null;
    this.total = 0;
    this.cursor = null;
    this.shown = {};
  }

  private async toggleAnswers(id: string) {
    if (this.shown[id]) {
      const { [id]: _, ...rest } = this.shown;
      this.shown = rest;
      return;
    }
    const expertise = await this.run(() => this.ctx.api.expertise(id));
    if (expertise) this.shown = { ...this.shown, [id]: expertise.inferred.slice(0, ANSWERED_TAGS) };
  }

  private answered(p: Profile) {
    const t = this.t;
    const tags = this.shown[p.id];
    return html`<button type="button" class="link answered-toggle" aria-expanded=${tags ? "true" : "false"}
        @click=${() => this.toggleAnswers(p.id)}>${t("dir.answered")}</button>
      ${tags ? html`<p class="meta answered">${tags.length
        ? tags.map((e) => `${e.tag} (${e.answers})`).join(", ")
        : t("dir.answeredNone")}</p>` : nothing}`;
  }

  protected updated(changed: PropertyValues) {
    if (changed.has("active") && this.active && this.items === null) this.search();
  }

  private value(name: string): string {
    return (this.renderRoot.querySelector(`[name="${name}"]`) as HTMLInputElement | null)?.value.trim() ?? "";
  }

  async search(more = false) {
    window.clearTimeout(this.timer);
    const sequence = ++this.sequence;
    const page = await this.run(() => this.ctx.api.profiles(this.value("q"), this.value("skill"), more ? this.cursor : null));
    if (!page || sequence !== this.sequence) return;
    this.items = more ? [...(this.items ?? []), ...page.items] : page.items;
    this.total = page.total ?? this.items.length;
    this.cursor = page.next_cursor;
  }

  private filterSkill(skill: string) {
    (this.renderRoot.querySelector("[name=skill]") as HTMLInputElement).value = skill;
    (this.renderRoot.querySelector("[name=q]") as HTMLInputElement).value = "";
    this.search();
  }

  render() {
    const t = this.t;
    return html`<h2>${t("dir.heading")}</h2>
      <form role="search" class="row" @submit=${(e: Event) => { e.preventDefault(); this.search(); }}
        @input=${() => { window.clearTimeout(this.timer); this.timer = window.setTimeout(() => this.search(), DEBOUNCE_MS); }}>
        <div><label for="dir-q">${t("dir.search")}</label><input type="search" id="dir-q" name="q" autocomplete="off"></div>
        <div><label for="dir-skill">${t("dir.skill")}</label><input type="search" id="dir-skill" name="skill" autocomplete="off"></div>
        <div style="flex:0 0 auto"><button class="primary" type="submit">${t("dir.go")}</button></div>
      </form>
      ${this.messages()}
      ${this.items === null ? html`<p class="status">${t("loading")}</p>` : html`
        <p class="status" role="status">${this.items.length ? plural(t, "dir.total", this.total) : t("dir.none")}</p>
        <ul class="plain grid people">${this.items.map((p) => this.card(p))}</ul>
        ${this.cursor ? html`<div class="actions"><button type="button" @click=${() => this.search(true)}>${t("dir.more")}</button></div>` : nothing}`}`;
  }

  private card(p: Profile) {
    const t = this.t;
    const coffee = t("coffee.body", { name: p.name.split(" ")[0], site: p.site || "…" });
    return html`<li class="card person" data-person=${p.id}>
      <h3>${p.name}</h3>
      <p class="meta">${[p.department, p.site].filter(Boolean).join(" — ")}</p>
      ${p.languages?.length ? html`<p class="meta">${t("dir.languages")}: ${p.languages.map((l) => l.toUpperCase()).join(", ")}</p>` : nothing}
      ${p.away_until ? html`<p class="meta">${t("dir.away", { date: formatDate(this.ctx.lang, p.away_until) })}</p>` : nothing}
      ${p.routing_opt_out ? html`<p class="meta">${t("dir.optOut")}</p>` : nothing}
      ${p.skills?.length ? html`<ul class="chips" aria-label=${t("dir.skills")}>${p.skills.map((s) => html`<li>
          <button type="button" class="chip" aria-label=${t("dir.filterSkill", { skill: s })} @click=${() => this.filterSkill(s)}>${s}</button></li>`)}</ul>` : nothing}
      ${p.bio ? html`<p>${p.bio}</p>` : nothing}
      ${this.answered(p)}
      <div class="actions">
        ${p.email ? html`
          <a class="button" href=${mailto(p.email, t("mail.subject"))}>${t("dir.email")}</a>
          <a class="button" href=${mailto(p.email, t("coffee.subject"), coffee)}>${t("dir.coffee")}</a>` : nothing}
        <a class="button" href=${coffeeInvite(p, t("coffee.summary", { name: p.name }))} download="relais-coffee-${p.id}.ics">${t("dir.ics")}</a>
      </div>
    </li>`;
  }
}
customElements.get("relais-directory") || customElements.define("relais-directory", DirectoryPanel);
