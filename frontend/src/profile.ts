// My profile: bio, skills, languages, site, "leave routing" and "away until".
import { html, type PropertyValues } from "lit";
import { ApiError, type Profile } from "./api";
import { Panel } from "./base";

export class ProfilePanel extends Panel {
  static properties = { ...Panel.properties, profile: { state: true }, skills: { state: true } };
  declare profile: Profile | null;
  declare skills: string[];

  constructor() {
    super();
    this.profile = null;
    this.skills = [];
  }

  protected updated(changed: PropertyValues) {
    if (changed.has("active") && this.active && !this.profile) this.load();
  }

  async load(done = "") {
    const profile = await this.run(() => this.ctx.api.me(), done);
    if (profile) {
      this.profile = profile;
      this.skills = [...(profile.skills ?? [])];
    }
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
    };
    try {
      this.busy = true;
      this.error = this.notice = "";
      this.profile = await this.ctx.api.editProfile(p.id, patch);
      this.skills = [...(this.profile.skills ?? [])];
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

  render() {
    const t = this.t;
    const p = this.profile;
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
    </form>`;
  }
}
customElements.get("relais-profile") || customElements.define("relais-profile", ProfilePanel);
