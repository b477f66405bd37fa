// My profile: bio, skills, what my answers show (declare or mute a tag), the tags I watch and
// how mail reaches me, languages, site, "leave routing" and "away until"; my data, to download
// or delete.
import { html, nothing, type PropertyValues } from "lit";
import { ApiError, type InferredTag, type Profile } from "./api";
import { Panel } from "./base";
import { plural } from "./i18n";

// A tag and a declared skill are the same when they differ only by case, accents, or
// hyphens for spaces ("appels-d'offres" is the skill "Appels d'offres").
const skillKey = (s: string) =>
  s.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/[-_\s]+/g, " ").trim();

export class ProfilePanel extends Panel {
  static properties = {
    ...Panel.properties, profile: { state: true }, skills: { state: true },
    inferred: { state: true }, muted: { state: true }, confirmingDelete: { state: true },
    deleted: { state: true },
  };
  declare profile: Profile | null;
  declare skills: string[];
  declare inferred: InferredTag[] | null;
  declare muted: string[];
  declare confirmingDelete: boolean;
  declare deleted: boolean;

  constructor() {
    super();
    this.profile = null;
    this.skills = [];
    this.inferred = null;
    this.muted = [];
    this.confirmingDelete = false;
    this.deleted = false;
  }

  protected updated(changed: PropertyValues) {
    if (changed.has("active") && this.active && !this.profile) this.load();
  }

  async load(done = "") {
    const profile = await this.run(() => this.ctx.api.me(), done);
    if (profile) {
      this.show(profile);
      const expertise = await this.run(() => this.ctx.api.expertise(profile.id));
      this.inferred = expertise ? expertise.inferred : [];
    }
  }

  private show(profile: Profile) {
    this.profile = profile;
    this.skills = [...(profile.skills ?? [])];
    this.muted = [...(profile.muted_tags ?? [])];
  }

  private declare(tag: string) {  // declared as written in a profile: "appels d'offres"
    if (!this.skills.some((s) => skillKey(s) === skillKey(tag))) this.skills = [...this.skills, tag.replace(/[-_]+/g, " ")];
  }

  private toggleMuted(tag: string, on: boolean) {
    this.muted = on ? [...this.muted.filter((m) => m !== tag), tag] : this.muted.filter((m) => m !== tag);
  }

  private input(name: string) {
    return this.renderRoot.querySelector(`[name="${name}"]`) as HTMLInputElement;
  }

  private addSkill(event?: Event) {
    event?.preventDefault();
    const input = this.input("new-skill");
    const skill = input.value.trim();
    if (skill && !this.skills.some((s) => s.toLowerCase() === skill.toLowerCase())) this.skills = [...this.skills, skill];
    input.value = "";
    input.focus();
  }

  private removeSkill(skill: string) {
    this.skills = this.skills.filter((s) => s !== skill);
    this.input("new-skill").focus();
  }

  private async save(event: Event) {
    event.preventDefault();
    const p = this.profile!;
    const patch = {
      version: p.version,
      bio: (this.renderRoot.querySelector("[name=bio]") as HTMLTextAreaElement).value,
      skills: this.skills,
      languages: this.input("languages").value.split(/[,;\s]+/).map((l) => l.trim()).filter(Boolean),
      site: this.input("site").value.trim(),
      routing_opt_out: this.input("routing_opt_out").checked,
      away_until: this.input("away_until").value || null,
      muted_tags: this.muted,
      watched_tags: [...new Set(this.input("watched_tags").value.split(/[,;\s]+/)
        .map((tag) => tag.trim().toLowerCase()).filter(Boolean))],
      notify: (this.renderRoot.querySelector("[name=notify]") as HTMLSelectElement).value as Profile["notify"],
    };
    try {
      this.busy = true;
      this.error = this.notice = "";
      this.show(await this.ctx.api.editProfile(p.id, patch));
      this.notice = this.t("profile.saved");
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        this.profile = null;
        await this.load();
        this.error = this.t("profile.conflict");
      } else {
        this.error = this.describe(err);
      }
    } finally {
      this.busy = false;
    }
  }

  // Everything Relais holds about me, as the JSON file GET /me/export gives; an export too
  // large for a response comes as a link to the file (it downloads under its own name).
  private async download() {
    const data = await this.run(() => this.ctx.api.exportMine(), this.t("profile.downloaded"));
    if (!data) return;
    const link = document.createElement("a");
    if (data.download) {
      link.href = data.download.url;
    } else {
      link.href = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
      link.download = "relais-my-data.json";
      setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    }
    document.body.append(link);
    link.click();
    link.remove();
  }

  private async deleteMe() {
    const done = await this.run(() => this.ctx.api.deleteMe());
    if (done) {
      this.confirmingDelete = false;
      this.deleted = true;
    }
  }

  render() {
    const t = this.t;
    const p = this.profile;
    if (this.deleted) return html`<h2>${t("profile.heading")}</h2><p class="status" role="status">${t("profile.deletedDone")}</p>`;
    if (!p) return html`<h2>${t("profile.heading")}</h2>${this.messages()}<p class="status">${t("loading")}</p>`;
    return html`<form @submit=${this.save} class="profile" novalidate>
      <h2>${t("profile.heading")}</h2>
      <p class="meta">${p.name} — ${[p.department, p.email].filter(Boolean).join(" — ")}</p>
      <label for="bio">${t("profile.bio")}</label>
      <textarea id="bio" name="bio" maxlength="4000" .value=${p.bio ?? ""}></textarea>
      <fieldset style="border:0;padding:0;margin:0">
        <legend style="font-weight:600;margin:.6rem 0 .2rem;padding:0">${t("profile.skills")}</legend>
        <ul class="chips skills" aria-label=${t("profile.skills")}>${this.skills.map((s) => html`<li class="chip">${s}
          <button type="button" class="link" style="color:inherit" aria-label=${t("profile.remove", { skill: s })} @click=${() => this.removeSkill(s)}>×</button></li>`)}</ul>
        <div class="row">
          <div><label for="new-skill" class="sr-only">${t("profile.addSkill")}</label>
            <input type="text" id="new-skill" name="new-skill" maxlength="80" placeholder=${t("profile.addSkill")}
              @keydown=${(e: KeyboardEvent) => e.key === "Enter" && this.addSkill(e)}></div>
          <div style="flex:0 0 auto"><button type="button" @click=${() => this.addSkill()}>${t("profile.add")}</button></div>
        </div>
      </fieldset>
      ${this.renderInferred()}
      <label for="watched_tags">${t("profile.watched")}</label>
      <input type="text" id="watched_tags" name="watched_tags" aria-describedby="watched-help"
        .value=${(p.watched_tags ?? []).join(", ")}>
      <p class="hint" id="watched-help">${t("profile.watchedHelp")}</p>
      <label for="notify">${t("profile.notify")}</label>
      <select id="notify" name="notify" style="max-width:24rem" .value=${p.notify ?? "immediate"}>
        <option value="immediate" ?selected=${p.notify !== "daily"}>${t("profile.notifyImmediate")}</option>
        <option value="daily" ?selected=${p.notify === "daily"}>${t("profile.notifyDaily")}</option>
      </select>
      <label for="languages">${t("profile.languages")}</label>
      <input type="text" id="languages" name="languages" .value=${(p.languages ?? []).join(", ")}>
      <label for="site">${t("profile.site")}</label>
      <input type="text" id="site" name="site" maxlength="200" .value=${p.site ?? ""}>
      <label class="check"><input type="checkbox" name="routing_opt_out" .checked=${p.routing_opt_out}>
        <span>${t("profile.optOut")}</span></label>
      <label for="away_until">${t("profile.away")}</label>
      <input type="date" id="away_until" name="away_until" style="max-width:14rem" .value=${p.away_until ?? ""}>
      <div class="actions"><button class="primary" type="submit" ?disabled=${this.busy}>${t("profile.save")}</button></div>
      ${this.messages()}
    </form>
    <section class="my-data" aria-labelledby="my-data-heading">
      <h3 id="my-data-heading">${t("profile.data")}</h3>
      <p class="meta">${t("profile.dataHelp")}</p>
      <div class="actions">
        <button type="button" @click=${this.download} ?disabled=${this.busy}>${t("profile.download")}</button>
        <button type="button" @click=${() => (this.confirmingDelete = true)} ?disabled=${this.busy}
          aria-expanded=${this.confirmingDelete ? "true" : "false"}>${t("profile.delete")}</button>
      </div>
      ${this.confirmingDelete ? html`<div class="card" role="group" aria-label=${t("profile.delete")}>
        <p>${t("profile.deleteWarning")}</p>
        <div class="actions">
          <button type="button" class="danger" @click=${this.deleteMe} ?disabled=${this.busy}>${t("profile.deleteConfirm")}</button>
          <button type="button" @click=${() => (this.confirmingDelete = false)}>${t("profile.cancel")}</button>
        </div>
      </div>` : nothing}
    </section>`;
  }

  // The tags of the questions I answered (and any I muted), each with how much it counts,
  // a way to declare it and a way to stop questions on it; saved with the rest of the form.
  private renderInferred() {
    const t = this.t;
    if (this.inferred === null) return nothing;
    const known = new Set(this.inferred.map((e) => e.tag));
    const rows = [...this.inferred, ...this.muted.filter((m) => !known.has(m)).map((tag) => ({
      tag, answers: 0, accepted: 0, last_answered_at: "", weight: 0, declared: false, muted: true }))];
    const declared = (tag: string) => this.skills.some((s) => skillKey(s) === skillKey(tag));
    return html`<fieldset class="inferred" style="border:0;padding:0;margin:0">
      <legend style="font-weight:600;margin:.6rem 0 .2rem;padding:0">${t("profile.inferred")}</legend>
      <p class="meta">${rows.length ? t("profile.inferredHelp") : t("profile.inferredNone")}</p>
      <ul style="list-style:none;padding:0;margin:0">${rows.map((e) => html`<li class="inferred-tag" data-tag=${e.tag}
          style="display:flex;flex-wrap:wrap;gap:.2rem .8rem;align-items:center;padding:.25rem 0">
        <strong>${e.tag}</strong>
        ${e.answers ? html`<span class="meta">${plural(t, "q.answers", e.answers)}, ${plural(t, "profile.accepted", e.accepted)}</span>` : nothing}
        ${declared(e.tag) ? nothing : html`<button type="button" class="link" @click=${() => this.declare(e.tag)}>${t("profile.declare")}</button>`}
        <label class="check" style="margin:0"><input type="checkbox" name="mute" .checked=${this.muted.includes(e.tag)}
          @change=${(ev: Event) => this.toggleMuted(e.tag, (ev.target as HTMLInputElement).checked)}>
          <span>${t("profile.mute", { tag: e.tag })}</span></label>
      </li>`)}</ul>
    </fieldset>`;
  }
}
customElements.get("relais-profile") || customElements.define("relais-profile", ProfilePanel);
