// "Questions for me": what was relayed to me, why me; answer, decline, snooze or pass it to a
// colleague who knows more. Below, the open questions on the tags I watch.
import { html, nothing, type PropertyValues } from "lit";
import type { Question, Relay } from "./api";
import { Panel } from "./base";
import { formatDate, plural, type Key } from "./i18n";
import { markdown } from "./markdown";
import { whyList } from "./why";
import "./colleague";

const SNOOZE_HOURS = [4, 24, 72, 168];
// Why a relay that was not the question's first choice came to me (its `reason`).
const RELAY_REASONS: Record<string, Key> = {
  reroute: "relay.why.reroute",
  escalation_peer: "relay.why.escalation_peer",
  community_manager: "relay.why.community_manager",
  escalation_manager: "relay.why.escalation_manager",
  invited: "relay.why.invited",
  handoff: "relay.why.handoff",
};

export class InboxPanel extends Panel {
  static properties = {
    ...Panel.properties, items: { state: true }, watched: { state: true }, answering: { state: true },
    passing: { state: true },
  };
  declare items: Relay[] | null;
  declare watched: Question[] | null;
  declare answering: string;
  declare passing: string; // the question whose "pass to a colleague" form is open

  constructor() {
    super();
    this.items = null;
    this.watched = null;
    this.answering = "";
    this.passing = "";
  }

  protected updated(changed: PropertyValues) {
    if (changed.has("active") && this.active) this.load();
  }

  async load(done = "") {
    const got = await this.run(() => Promise.all([this.ctx.api.inbox(), this.ctx.api.watchedQuestions()]), done);
    if (got) [this.items, this.watched] = [got[0].items, got[1].items];
  }

  private async answer(event: Event, relay: Relay) {
    event.preventDefault();
    const body = ((event.target as HTMLFormElement).elements.namedItem("answer") as HTMLTextAreaElement).value.trim();
    if (!body) return;
    if (await this.run(() => this.ctx.api.answer(relay.question_id, body))) {
      this.answering = "";
      await this.load(this.t("q.answerSent"));
    }
  }

  private async decline(relay: Relay) {
    if (await this.run(() => this.ctx.api.decline(relay.question_id))) await this.load(this.t("inbox.declined"));
  }

  // Errors are the picker's to show, beside the colleague chosen.
  private passOn = (relay: Relay) => async (personId: string, note: string) => {
    await this.ctx.api.handOff(relay.question_id, personId, note);
    this.passing = "";
    await this.load(this.t("inbox.passed"));
    return true;
  };

  private async snooze(relay: Relay) {
    const select = this.renderRoot.querySelector(`#snooze-${relay.question_id}`) as HTMLSelectElement;
    if (await this.run(() => this.ctx.api.snooze(relay.question_id, Number(select.value))))
      await this.load(this.t("inbox.snoozed"));
  }

  render() {
    const t = this.t;
    return html`<h2>${t("inbox.heading")}</h2>
      <div class="actions"><button type="button" @click=${() => this.load()}>${t("refresh")}</button></div>
      ${this.messages()}
      ${this.items === null ? html`<p class="status">${t("loading")}</p>`
        : this.items.length === 0 ? html`<p class="meta">${t("inbox.none")}</p>`
        : html`<ul class="plain">${this.items.map((r) => this.item(r))}</ul>`}
      ${this.renderWatched()}`;
  }

  // Open questions on the tags I watch, less those relayed to me (they are above).
  private renderWatched() {
    const t = this.t;
    if (this.watched === null) return nothing;
    const relayed = new Set((this.items ?? []).map((r) => r.question_id));
    const shown = this.watched.filter((q) => !relayed.has(q.id));
    return html`<section class="watched" aria-labelledby="watched-heading">
      <h3 id="watched-heading">${t("inbox.watched")}</h3>
      ${shown.length === 0 ? html`<p class="meta">${t("inbox.watchedNone")}</p>`
        : html`<ul class="plain">${shown.map((q) => html`<li class="card watched-item" data-question=${q.id}>
            <button type="button" class="link" @click=${() => this.openQuestion(q.id)}>${q.title}</button>
            <p class="meta">${t("q.askedBy", { name: q.asker?.name ?? t("q.anonymous") })}
              · ${plural(t, "q.answers", q.answer_count)} · ${formatDate(this.ctx.lang, q.created_at)}</p>
            <ul class="chips" aria-label=${t("inbox.tags")}>${q.tags.map((tag) => html`<li class="chip">${tag}</li>`)}</ul>
          </li>`)}</ul>`}
    </section>`;
  }

  private item(relay: Relay) {
    const t = this.t;
    const q = relay.question!;
    const id = relay.question_id;
    return html`<li class="card relay-item" data-question=${id}>
      <h3><button type="button" class="link" @click=${() => this.openQuestion(id)}>${q.title}</button></h3>
      <p class="meta">${t("q.askedBy", { name: q.asker?.name ?? t("q.anonymous") })}
        ${relay.state === "snoozed" ? html` · <span class="badge">${t("relay.snoozed")}</span>` : nothing}
        ${relay.due_at ? html` · ${t("inbox.due", { date: formatDate(this.ctx.lang, relay.due_at) })}` : nothing}</p>
      ${q.body ? markdown(q.body) : nothing}
      <h4>${t("inbox.whyYou")}</h4>
      ${Object.hasOwn(RELAY_REASONS, relay.reason) ? html`<p class="meta relay-reason">${t(RELAY_REASONS[relay.reason],
        { name: relay.invited_by?.name ?? t("relay.someone") })}</p>` : nothing}
      ${relay.note ? html`<blockquote class="relay-note">${relay.note}</blockquote>` : nothing}
      ${whyList(relay.explanation, t, this.ctx.lang, t("inbox.whyYou"))}
      ${this.answering === id ? html`<form @submit=${(e: Event) => this.answer(e, relay)}>
          <label for="answer-${id}">${t("q.yourAnswer")}</label>
          <textarea id="answer-${id}" name="answer" required maxlength="20000"></textarea>
          <div class="actions"><button class="primary" type="submit" ?disabled=${this.busy}>${t("q.sendAnswer")}</button></div>
        </form>` : nothing}
      <div class="actions">
        ${this.answering === id ? nothing : html`<button type="button" class="primary" @click=${() => this.startAnswer(id)}>${t("inbox.answer")}</button>`}
        <button type="button" @click=${() => this.decline(relay)} ?disabled=${this.busy}>${t("inbox.decline")}</button>
        <label class="sr-only" for="snooze-${id}">${t("inbox.snoozeFor")}</label>
        <select id="snooze-${id}" style="width:auto">${SNOOZE_HOURS.map((h) => html`<option value=${h} ?selected=${h === 24}>${t(`snooze.${h}` as never)}</option>`)}</select>
        <button type="button" @click=${() => this.snooze(relay)} ?disabled=${this.busy}>${t("inbox.snooze")}</button>
        <button type="button" aria-expanded=${this.passing === id ? "true" : "false"}
          @click=${() => { this.passing = this.passing === id ? "" : id; }}>${t("inbox.pass")}</button>
      </div>
      ${this.passing === id ? html`<relais-colleague-picker .ctx=${this.ctx} .send=${this.passOn(relay)}
          .action=${"inbox.passTo"} .exclude=${[relay.expert.id, q.asker?.id].filter((id): id is string => !!id)}
          @relais-picked=${() => { this.passing = ""; }}></relais-colleague-picker>` : nothing}
    </li>`;
  }

  private async startAnswer(id: string) {
    this.answering = id;
    await this.updateComplete;
    (this.renderRoot.querySelector(`#answer-${id}`) as HTMLTextAreaElement | null)?.focus();
  }
}
customElements.get("relais-inbox") || customElements.define("relais-inbox", InboxPanel);
