// "Why this person": the evidence that counted (declared skills, past answers, profile text).
import { html, nothing } from "lit";
import type { Evidence, Expert } from "./api";
import { formatShare, type Lang, type T } from "./i18n";

export function whyList(evidence: Evidence[], t: T, lang: Lang, label: string, onOpen?: (id: string) => void) {
  return html`<ul class="why" aria-label=${label}>
    ${evidence.map((e) => {
      const share = formatShare(lang, e.share);
      return html`<li>
        <span>${evidenceText(e, t, onOpen)}</span>
        <span class="share" title=${t("why.share", { share })}>${share}</span>
        <span class="bar" aria-hidden="true"><span style="width:${Math.round(e.share * 100)}%"></span></span>
      </li>`;
    })}
  </ul>`;
}

function evidenceText(e: Evidence, t: T, onOpen?: (id: string) => void) {
  if (e.kind === "answer") {
    const title = e.question_title || e.text.split("\n")[0];
    const accepted = e.accepted ? html` <span class="badge ok">${t("why.accepted")}</span>` : nothing;
    const link = onOpen && e.question_id
      ? html`<button type="button" class="link" @click=${() => onOpen(e.question_id!)}>“${title}”</button>`
      : html`“${title}”`;
    return html`${t("why.answer")} ${link}${accepted}`;
  }
  const labels = {
    skills: "why.skills", bio: "why.bio", tags: "why.tags", activity: "why.activity",
    profile: "why.profile", topics: "why.topics",
  } as const;
  const label = t(labels[e.kind]);
  const matched = e.matched.length
    ? html` <span class="chips" style="display:inline-flex">${e.matched.map((m) => html`<span class="chip match">${m}</span>`)}</span>`
    : nothing;
  return html`${label}${matched}`;
}

export function expertCard(expert: Expert, t: T, lang: Lang, onOpen?: (id: string) => void) {
  const p = expert.person;
  const where = [p.department, p.site, (p.languages ?? []).map((l) => l.toUpperCase()).join(" · ")]
    .filter(Boolean).join(" — ");
  return html`<li class="card expert">
    <h4 style="margin:0;color:inherit">${p.name}</h4>
    <p class="meta">${where}</p>
    ${expert.damped_by_load ? html`<p class="meta">${t("why.busy")}</p>` : nothing}
    ${expert.on_topic === false ? html`<p class="meta">${t("why.offTopic")}</p>` : nothing}
    ${whyList(expert.explanation, t, lang, t("why.label", { name: p.name }), onOpen)}
  </li>`;
}
