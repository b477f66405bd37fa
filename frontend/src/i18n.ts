// English and French strings. `t(key, {name: ...})` fills {name} placeholders.
const en = {
  title: "Relais",
  language: "Language",
  tabs: "Relais sections",
  "tab.ask": "Ask",
  "tab.mine": "My questions",
  "tab.inbox": "For me",
  "tab.directory": "Directory",
  "tab.profile": "My profile",
  loading: "Loading…",
  refresh: "Refresh",
  back: "Back",
  error: "Something went wrong: {message}",
  "error.auth": "Sign-in needed: the widget has no valid token.",
  "error.network": "Relais cannot be reached.",
  // Ask
  "ask.heading": "Ask a question",
  "ask.title": "Your question",
  "ask.titleHint": "A short sentence, e.g. “How do I profile a slow Python service?”",
  "ask.body": "Details (optional, Markdown)",
  "ask.tags": "Tags (optional, separated by commas)",
  "ask.anonymous": "Ask anonymously (the experts will not see your name)",
  "ask.submit": "Ask",
  "ask.sent": "Your question was sent.",
  "ask.searching": "Looking for experts…",
  "ask.summary": "{experts} suggested experts, {questions} similar questions",
  "ask.experts": "Suggested experts",
  "ask.similar": "Similar answered questions",
  "ask.noExperts": "No expert found yet: add a few words.",
  "ask.noSimilar": "No similar question answered yet.",
  "ask.tooShort": "The question needs at least 3 characters.",
  "why.label": "Why {name}",
  "why.skills": "Declared skills",
  "why.answer": "Answered",
  "why.accepted": "accepted",
  "why.bio": "Profile description",
  "why.tags": "Often answers on",
  "why.activity": "Recently active",
  "why.profile": "All their answers together match these words",
  "why.topics": "Answers on close topics overall",
  "why.share": "{share} of the match",
  "why.busy": "Already has several open questions",
  // Questions
  "q.answers": "{count} answers",
  "q.answers1": "1 answer",
  "q.status.open": "open",
  "q.status.answered": "answered",
  "q.status.closed": "closed",
  "q.askedBy": "Asked by {name}",
  "q.anonymous": "Anonymous",
  "q.relayedTo": "Relayed to",
  "q.noRelay": "Not relayed to anyone yet.",
  "q.answersHeading": "Answers",
  "q.noAnswer": "No answer yet. You will see it here as soon as it comes.",
  "q.accepted": "Accepted answer",
  "q.accept": "Accept this answer",
  "q.acceptedDone": "Answer accepted. Thank you!",
  "q.yourAnswer": "Your answer (plain text or Markdown)",
  "q.sendAnswer": "Send the answer",
  "q.answerSent": "Your answer was sent.",
  "q.by": "by {name}",
  "relay.notified": "notified",
  "relay.snoozed": "snoozed",
  "relay.declined": "declined",
  "relay.answered": "answered",
  "relay.expired": "no reply in time",
  "mine.heading": "My questions",
  "mine.none": "You have not asked anything yet.",
  // Inbox
  "inbox.heading": "Questions for me",
  "inbox.none": "Nothing for you right now. Thank you!",
  "inbox.whyYou": "Why you",
  "inbox.due": "Please reply by {date}",
  "inbox.answer": "Answer",
  "inbox.decline": "Decline",
  "inbox.declined": "Declined: the question goes to someone else.",
  "inbox.snooze": "Snooze",
  "inbox.snoozeFor": "Snooze for",
  "inbox.snoozed": "Snoozed: someone else gets it meanwhile.",
  "inbox.open": "Open the question",
  "snooze.4": "4 hours",
  "snooze.24": "1 day",
  "snooze.72": "3 days",
  "snooze.168": "1 week",
  // Directory
  "dir.heading": "Directory",
  "dir.search": "Name, skill or any words",
  "dir.skill": "Skill",
  "dir.go": "Search",
  "dir.total": "{count} people",
  "dir.total1": "1 person",
  "dir.none": "Nobody found.",
  "dir.more": "Show more",
  "dir.languages": "Languages",
  "dir.skills": "Skills",
  "dir.filterSkill": "Show people with the skill {skill}",
  "dir.email": "Write",
  "dir.coffee": "Propose a coffee",
  "dir.ics": "Calendar invite (.ics)",
  "dir.away": "Away until {date}",
  "dir.optOut": "Not taking relayed questions",
  "mail.subject": "Relais: a question for you",
  "coffee.subject": "Coffee? (via Relais)",
  "coffee.body": "Hello {name},\n\nI found you on Relais. Would you have 30 minutes for a coffee in {site} this week?\n\nThanks!",
  "coffee.summary": "Coffee with {name}",
  // Profile
  "profile.heading": "My profile",
  "profile.bio": "About me",
  "profile.skills": "My skills",
  "profile.addSkill": "Add a skill",
  "profile.add": "Add",
  "profile.remove": "Remove {skill}",
  "profile.languages": "Languages (codes separated by commas, e.g. fr, en)",
  "profile.site": "Site",
  "profile.optOut": "Leave routing: do not relay questions to me (I stay in the directory)",
  "profile.away": "Away until",
  "profile.save": "Save",
  "profile.saved": "Profile saved.",
  "profile.conflict": "Your profile changed elsewhere; it was reloaded. Please apply your change again.",
  "profile.inferred": "What your answers show",
  "profile.inferredHelp": "Relais finds you for questions on these tags from the answers you wrote (recent and accepted ones weigh more). Add one to your skills, or stop questions on it.",
  "profile.inferredNone": "No answers yet: Relais knows you by the skills you declare.",
  "profile.accepted": "{count} accepted",
  "profile.accepted1": "1 accepted",
  "profile.declare": "Add to my skills",
  "profile.mute": "No questions on {tag}",
};

export type Key = keyof typeof en;

const fr: Record<Key, string> = {
  title: "Relais",
  language: "Langue",
  tabs: "Sections de Relais",
  "tab.ask": "Demander",
  "tab.mine": "Mes questions",
  "tab.inbox": "Pour moi",
  "tab.directory": "Annuaire",
  "tab.profile": "Mon profil",
  loading: "Chargement…",
  refresh: "Actualiser",
  back: "Retour",
  error: "Un problème est survenu : {message}",
  "error.auth": "Connexion nécessaire : le widget n'a pas de jeton valide.",
  "error.network": "Relais est injoignable.",
  "ask.heading": "Poser une question",
  "ask.title": "Votre question",
  "ask.titleHint": "Une phrase courte, par ex. « Comment profiler un service Python lent ? »",
  "ask.body": "Détails (facultatif, Markdown)",
  "ask.tags": "Mots-clés (facultatif, séparés par des virgules)",
  "ask.anonymous": "Demander anonymement (les experts ne verront pas votre nom)",
  "ask.submit": "Demander",
  "ask.sent": "Votre question est envoyée.",
  "ask.searching": "Recherche d'experts…",
  "ask.summary": "{experts} experts suggérés, {questions} questions similaires",
  "ask.experts": "Experts suggérés",
  "ask.similar": "Questions similaires déjà répondues",
  "ask.noExperts": "Pas encore d'expert : ajoutez quelques mots.",
  "ask.noSimilar": "Aucune question similaire n'a encore de réponse.",
  "ask.tooShort": "La question doit faire au moins 3 caractères.",
  "why.label": "Pourquoi {name}",
  "why.skills": "Compétences déclarées",
  "why.answer": "A répondu à",
  "why.accepted": "acceptée",
  "why.bio": "Description du profil",
  "why.tags": "Répond souvent sur",
  "why.activity": "Actif récemment",
  "why.profile": "L'ensemble de ses réponses correspond à ces mots",
  "why.topics": "Répond dans l'ensemble sur des sujets proches",
  "why.share": "{share} de la correspondance",
  "why.busy": "A déjà plusieurs questions en attente",
  "q.answers": "{count} réponses",
  "q.answers1": "1 réponse",
  "q.status.open": "ouverte",
  "q.status.answered": "répondue",
  "q.status.closed": "close",
  "q.askedBy": "Posée par {name}",
  "q.anonymous": "Anonyme",
  "q.relayedTo": "Relayée à",
  "q.noRelay": "Pas encore relayée.",
  "q.answersHeading": "Réponses",
  "q.noAnswer": "Pas encore de réponse. Elle s'affichera ici dès qu'elle arrive.",
  "q.accepted": "Réponse acceptée",
  "q.accept": "Accepter cette réponse",
  "q.acceptedDone": "Réponse acceptée. Merci !",
  "q.yourAnswer": "Votre réponse (texte ou Markdown)",
  "q.sendAnswer": "Envoyer la réponse",
  "q.answerSent": "Votre réponse est envoyée.",
  "q.by": "par {name}",
  "relay.notified": "prévenu·e",
  "relay.snoozed": "en pause",
  "relay.declined": "a décliné",
  "relay.answered": "a répondu",
  "relay.expired": "pas de réponse à temps",
  "mine.heading": "Mes questions",
  "mine.none": "Vous n'avez encore rien demandé.",
  "inbox.heading": "Questions pour moi",
  "inbox.none": "Rien pour vous en ce moment. Merci !",
  "inbox.whyYou": "Pourquoi vous",
  "inbox.due": "Merci de répondre avant le {date}",
  "inbox.answer": "Répondre",
  "inbox.decline": "Décliner",
  "inbox.declined": "Déclinée : la question part vers quelqu'un d'autre.",
  "inbox.snooze": "Reporter",
  "inbox.snoozeFor": "Reporter de",
  "inbox.snoozed": "Reportée : quelqu'un d'autre la reçoit en attendant.",
  "inbox.open": "Ouvrir la question",
  "snooze.4": "4 heures",
  "snooze.24": "1 jour",
  "snooze.72": "3 jours",
  "snooze.168": "1 semaine",
  "dir.heading": "Annuaire",
  "dir.search": "Nom, compétence ou mots",
  "dir.skill": "Compétence",
  "dir.go": "Chercher",
  "dir.total": "{count} personnes",
  "dir.total1": "1 personne",
  "dir.none": "Personne trouvé.",
  "dir.more": "Voir plus",
  "dir.languages": "Langues",
  "dir.skills": "Compétences",
  "dir.filterSkill": "Voir les personnes ayant la compétence {skill}",
  "dir.email": "Écrire",
  "dir.coffee": "Proposer un café",
  "dir.ics": "Invitation agenda (.ics)",
  "dir.away": "Absent·e jusqu'au {date}",
  "dir.optOut": "Ne reçoit pas de questions relayées",
  "mail.subject": "Relais : une question pour vous",
  "coffee.subject": "Un café ? (via Relais)",
  "coffee.body": "Bonjour {name},\n\nJe vous ai trouvé·e sur Relais. Auriez-vous 30 minutes pour un café à {site} cette semaine ?\n\nMerci !",
  "coffee.summary": "Café avec {name}",
  "profile.heading": "Mon profil",
  "profile.bio": "À propos de moi",
  "profile.skills": "Mes compétences",
  "profile.addSkill": "Ajouter une compétence",
  "profile.add": "Ajouter",
  "profile.remove": "Retirer {skill}",
  "profile.languages": "Langues (codes séparés par des virgules, par ex. fr, en)",
  "profile.site": "Site",
  "profile.optOut": "Quitter le routage : ne plus me relayer de questions (je reste dans l'annuaire)",
  "profile.away": "Absent·e jusqu'au",
  "profile.save": "Enregistrer",
  "profile.saved": "Profil enregistré.",
  "profile.conflict": "Votre profil a changé ailleurs ; il a été rechargé. Refaites votre modification.",
  "profile.inferred": "Ce que montrent vos réponses",
  "profile.inferredHelp": "Relais vous trouve pour les questions sur ces tags d'après les réponses que vous avez écrites (les récentes et les acceptées comptent plus). Ajoutez-en un à vos compétences, ou arrêtez les questions sur l'un d'eux.",
  "profile.inferredNone": "Pas encore de réponses : Relais vous connaît par les compétences que vous déclarez.",
  "profile.accepted": "{count} acceptées",
  "profile.accepted1": "1 acceptée",
  "profile.declare": "Ajouter à mes compétences",
  "profile.mute": "Pas de questions sur {tag}",
};

export type Lang = "en" | "fr";
export type T = (key: Key, values?: Record<string, string | number>) => string;

export function pickLang(explicit: string | null): Lang {
  const wanted = explicit || safeStorage("relais-lang") || navigator.language || "en";
  return wanted.toLowerCase().startsWith("fr") ? "fr" : "en";
}

export function safeStorage(key: string, value?: string): string | null {
  try {
    if (value !== undefined) localStorage.setItem(key, value);
    return localStorage.getItem(key);
  } catch {
    return null; // storage can be blocked in embedded pages
  }
}

export function translator(lang: Lang): T {
  const table = lang === "fr" ? fr : en;
  return (key, values) =>
    (table[key] ?? en[key] ?? key).replace(/\{(\w+)\}/g, (_, name) => String(values?.[name] ?? ""));
}

export function formatDate(lang: Lang, iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso.length === 10 ? iso + "T12:00:00" : iso);
  return isNaN(date.getTime()) ? iso : date.toLocaleDateString(lang, { dateStyle: "medium" });
}

export function formatShare(lang: Lang, share: number): string {
  return new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 0 }).format(share);
}

/** The translation of `prefix.value`, or `value` itself when there is none (a new state, say). */
export function labelOf(t: T, prefix: string, value: string): string {
  const key = `${prefix}.${value}`;
  const text = t(key as Key);
  return text === key ? value : text;
}

/** "1 answer" or "3 answers": `key1` for one, `key` with {count} otherwise (0 is plural in
 * English; French says "0 réponse" but "0 réponses" reads fine). */
export function plural(t: T, key: "q.answers" | "dir.total" | "profile.accepted", count: number): string {
  return count === 1 ? t(`${key}1` as Key) : t(key, { count });
}
