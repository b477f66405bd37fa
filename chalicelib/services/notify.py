"""Notifications: who is told what, through the Mailer port. Anonymous askers stay hidden."""
from __future__ import annotations

import logging
from collections import defaultdict
from email.utils import make_msgid

from ..clock import SystemClock, iso
from ..domain import Answer, Profile, Question, Relay
from ..mail_ports import PRIVATE_HEADER, MailLedger
from ..mailtext import shorten
from ..ports import Clock, Mailer, MailNotSent, ProfileStore
from ..views import named_inviter

log = logging.getLogger("relais.notify")
MAX_REFERENCES = 10


def send_or_log(mailer: Mailer, about: str, **mail) -> str | None:
    """Send one mail; its Message-ID, or None (logged, with `about`) when the mail service
    did not take it. What a mail tells of is already in Relais (a relay in the person's list,
    an answer on the question, thanks on a profile): a refused mail must not undo the request
    that caused it."""
    try:
        return mailer.send(**mail)
    except MailNotSent as error:
        log.warning("%s mail %s not sent: %s", mail.get("kind", "notification"), about, error)
        return None


# Why a relay that is not the question's first match was sent, said before its evidence.
RELAY_REASONS = {
    "reroute": "someone asked before you could not take it",
    "escalation_peer": "the people asked first did not answer in time",
    "community_manager": "nobody answered in time, and you manage its community",
    "escalation_manager": "nobody answered in time, and you are the asker's manager",
    "invited": "{inviter} asked you by name",
    "handoff": "{inviter} was asked and passed it to you",
}
ESCALATED_TO_MANAGERS = ("community_manager", "escalation_manager")
# How each kind of evidence reads in a relay mail: the widget's "Why you", in words.
WHY_YOU = {"bio": "your profile description",
           "activity": "you answered questions lately",
           "profile": "your answers, taken together, use the question's words",
           "topics": "your answers, taken together, are on close topics"}
TITLE_CHARS = 90


def why_you(explanation: list[dict], reason: str = "match",
            inviter: str = "A colleague") -> list[str]:
    """Why a relay was sent, as phrases addressed to the expert: its reason (`inviter`: who
    invited them or passed it on), then its evidence (matching.explain's items, heaviest
    first)."""
    phrases = ([RELAY_REASONS[reason].format(inviter=inviter)] if reason in RELAY_REASONS
               else [])
    for item in explanation:
        kind, matched = item.get("kind"), ", ".join(item.get("matched") or [])
        if kind == "answer":
            title = (item.get("text") or "").split("\n")[0].strip()
            if len(title) > TITLE_CHARS:
                title = title[:TITLE_CHARS - 1].rstrip() + "…"
            phrase = f'you answered "{title}"' + (" (accepted)" if item.get("accepted") else "")
        elif kind == "skills":
            phrase = f"you declared {matched}" if matched else "your declared skills"
        elif kind == "tags":
            phrase = f"you often answer on {matched}"
        elif kind in WHY_YOU:
            phrase = WHY_YOU[kind]
        else:
            continue
        phrases.append(phrase)
    return phrases


# What a mail that can be answered by mail (a relay, a watched tag) says about replying.
ANSWER_BY_REPLY = ("Reply to this mail to answer: your reply, without the quoted text, becomes "
                   "your answer.\n")
# And what a relay mail adds: the other replies it takes (mailtext.reply_command).
COMMANDS_BY_REPLY = ("Or reply with one line instead: \"decline\", \"snooze 3 days\", or "
                     "\"pass to\" a colleague's address, with a word for them below it.\n")


class Notifier:
    """Composes and threads the mails Relais sends: a relay to an expert, an acknowledgement
    and answers to the asker, the asker's additions to the experts, and the daily digest of
    people who asked for one instead of a mail each time.

    With a ledger, every mail about a question carries a Reply-To address of its own
    (reply+<token>@<mail host>, bound to that person and question) and Message-ID,
    In-Reply-To and References headers, so that replies come back to Relais and thread in the
    reader's client. Mails go from Relais, never from a person: an expert learns nothing of an
    anonymous asker, not even an address.
    """

    def __init__(self, mailer: Mailer, profiles: ProfileStore, base_url: str, *,
                 ledger: MailLedger | None = None, mail_host: str = "localhost",
                 clock: Clock | None = None):
        self.mailer = mailer
        self.profiles = profiles
        self.base_url = base_url.rstrip("/")
        self.ledger = ledger
        self.mail_host = mail_host
        self.clock = clock or SystemClock()

    # What is sent ------------------------------------------------------------------------
    def relayed(self, question: Question, relay: Relay) -> None:
        expert = self._reachable(relay.expert_id)
        if expert is None:
            return
        asked = ("a question that is still unanswered" if relay.reason in ESCALATED_TO_MANAGERS
                 else "a question you are likely to answer well")
        details = f"{question.body}\n\n" if question.body else ""
        inviter_id = named_inviter(relay, question)
        inviter = self._name(inviter_id) if inviter_id else "A colleague"
        phrases = why_you(relay.explanation, relay.reason, inviter)
        why = "Why you:\n" + "".join(f"- {p}\n" for p in phrases) + "\n" if phrases else ""
        if relay.note:
            why += f"{inviter} wrote: {relay.note}\n\n"
        asker = "A colleague" if question.anonymous else self._name(question.asker_id)
        reply_to = self._reply_to(question.id, expert.id, "expert")
        how = ANSWER_BY_REPLY + COMMANDS_BY_REPLY if reply_to else ""
        self._deliver(
            expert, question.id, kind="relay", reply_to=reply_to,
            subject=f"[Relais] A question for you: {question.title}",
            text=(f"Hello {expert.name},\n\n{asker} asked {asked}.\n\n{question.title}\n\n"
                  f"{details}{why}{how}Answer, decline, snooze or pass it to a colleague: "
                  f"{self._url(question)}\n"))

    def watched(self, question: Question, watcher: Profile, tags: list[str], *,
                hold: bool = False) -> None:
        """A question was asked on `tags`, which `watcher` asked to hear of (`hold`: in their
        next digest, whatever their rhythm)."""
        asker = "A colleague" if question.anonymous else self._name(question.asker_id)
        reply_to = self._reply_to(question.id, watcher.id, "expert")
        how = ANSWER_BY_REPLY if reply_to else ""
        self._deliver(
            watcher, question.id, kind="watch", reply_to=reply_to, automatic="auto-generated",
            hold=hold,
            subject=f"[Relais] New question on {', '.join(tags)}: {question.title}",
            text=(f"Hello {watcher.name},\n\n{asker} asked a question on {', '.join(tags)}, "
                  f"which you watch.\n\n{question.title}\n\n{question.body}\n\n{how}"
                  f"{self._url(question)}\n\nTo stop hearing of a tag, remove it from the tags "
                  "you watch, in your profile.\n"))

    def answered(self, question: Question, answer: Answer) -> None:
        asker = self._reachable(question.asker_id)
        if asker is None or answer.author_id == question.asker_id:
            return
        reply_to = self._reply_to(question.id, asker.id, "asker")
        how = "Reply to this mail to add to your question.\n" if reply_to else ""
        self._deliver(
            asker, question.id, kind="answer", reply_to=reply_to, automatic="auto-generated",
            private=question.anonymous,
            subject=f"[Relais] New answer: {question.title}",
            text=(f"{self._name(answer.author_id)} answered your question "
                  f"\"{question.title}\":\n\n{answer.body}\n\n{how}{self._url(question)}\n"))

    def acknowledged(self, question: Question, relays: list[Relay], similar: list[dict],
                     in_reply_to: str = "") -> None:
        """Tell an asker by mail that the question arrived, who it went to, and which answered
        questions look alike. Sent at once (never in a digest) and marked as an automatic
        reply, so that no responder answers it back."""
        asker = self._reachable(question.asker_id)
        if asker is None:
            return
        people = self.profiles.get_many(r.expert_id for r in relays)
        lines = [f"Hello {asker.name},", "",
                 f"Relais received your question \"{question.title}\"."]
        if question.anonymous:
            lines.append("You asked anonymously: the people it goes to are not told who asked.")
        lines.append("")
        if relays:
            lines.append("It was relayed to:")
            for relay in relays:
                person = people.get(relay.expert_id)
                if person is not None:
                    where = f" ({person.department})" if person.department else ""
                    lines.append(f"- {person.name}{where}")
        else:
            lines.append("No one matches it yet; it stays open and Relais will try again.")
        if similar:
            lines += ["", "Answered questions that look similar:"]
            lines += [f"- {item['title']}: {self.base_url}/questions/{item['id']}"
                      for item in similar]
        reply_to = self._reply_to(question.id, asker.id, "asker")
        lines += ["", "Answers will come to you by mail."
                  + (" Reply to this mail to add details to your question." if reply_to else ""),
                  self._url(question), ""]
        self._deliver(asker, question.id, kind="acknowledgement", reply_to=reply_to,
                      automatic="auto-replied", digest=False, in_reply_to=in_reply_to,
                      private=question.anonymous,
                      subject=f"[Relais] Received: {question.title}", text="\n".join(lines))

    def added(self, question: Question, addition: str, expert_ids: list[str]) -> None:
        """The asker added to a question: the experts still holding it hear of it."""
        for expert_id in expert_ids:
            expert = self._reachable(expert_id)
            if expert is None:
                continue
            reply_to = self._reply_to(question.id, expert.id, "expert")
            self._deliver(
                expert, question.id, kind="addition", reply_to=reply_to,
                subject=f"[Relais] More about: {question.title}",
                text=(f"Hello {expert.name},\n\nThe question \"{question.title}\" now says "
                      f"more:\n\n{addition}\n\n"
                      + ("Reply to this mail to answer.\n" if reply_to else "")
                      + f"{self._url(question)}\n"))

    def not_used(self, person: Profile, subject: str, reason: str, *,
                 question: Question | None = None, in_reply_to: str = "") -> None:
        """Tell a colleague that a mail they sent (`subject`) did nothing, and why: an answer
        or a command Relais refused, a question it could not take. Sent at once, in the
        mail's thread, so that nobody believes they answered, passed on or asked when they
        did not (the mail itself waits in the quarantine)."""
        lines = [f"Hello {person.name},", "",
                 f"Relais could not use your mail \"{shorten(subject, 120)}\": {reason}.", "",
                 "Nothing was changed."]
        if question is not None:
            lines += ["", f"{question.title}: {self._url(question)}"]
        self._deliver(person, question.id if question else "", kind="not_used",
                      automatic="auto-replied", digest=False, in_reply_to=in_reply_to,
                      private=bool(question and question.anonymous
                                   and question.asker_id == person.id),
                      subject=f"[Relais] Not done: {shorten(subject, 120)}",
                      text="\n".join(lines) + "\n")

    def send_digests(self) -> dict:
        """Send each person who reads mail once a day everything held for them, in one mail."""
        if self.ledger is None:
            return {"people": 0, "items": 0}
        held: dict[str, list] = defaultdict(list)
        for item in self.ledger.pending_digests():
            held[item.person_id].append(item)
        people = items = 0
        for person_id, pending in held.items():
            person = self._reachable(person_id)
            if person is not None:
                parts = [f"Hello {person.name},", "",
                         f"What Relais has for you today ({len(pending)}):", ""]
                for item in pending:
                    parts += ["-" * 60, item.subject, "", item.text.rstrip(), ""]
                headers = {"Message-ID": make_msgid(domain=self.mail_host),
                           "Auto-Submitted": "auto-generated", "X-Relais-Kind": "digest"}
                if any(item.private for item in pending):
                    headers[PRIVATE_HEADER] = "1"
                if send_or_log(self.mailer, f"to {person_id}", to=person.email,
                               subject=f"[Relais] Your digest ({len(pending)})",
                               text="\n".join(parts), kind="digest", headers=headers) is None:
                    continue  # held for the next run
                people += 1
                items += len(pending)
            self.ledger.mark_digests_sent([i.id for i in pending], iso(self.clock.now()))
        return {"people": people, "items": items}

    # How it is sent ----------------------------------------------------------------------
    def _deliver(self, person: Profile, question_id: str, *, kind: str, subject: str, text: str,
                 reply_to: str = "", automatic: str = "", digest: bool = True,
                 in_reply_to: str = "", private: bool = False, hold: bool = False) -> None:
        if digest and (person.notify == "daily" or hold) and self.ledger is not None:
            if reply_to:
                text += f"\nTo reply by mail, write to {reply_to}\n"
            self.ledger.queue_digest(person.id, kind, question_id, subject, text,
                                     iso(self.clock.now()), private)
            return
        message_id = make_msgid(domain=self.mail_host)
        # X-Relais-Kind lets the ingest recognise our own mails coming back (no loops).
        headers = {"Message-ID": message_id, "X-Relais-Kind": kind}
        if private:
            headers[PRIVATE_HEADER] = "1"
        if reply_to:
            headers["Reply-To"] = f"Relais <{reply_to}>"
        if automatic:
            # RFC 3834: responders must not answer these. Relays are not marked, so that an
            # expert's out-of-office notice comes back and re-routes the question.
            headers["Auto-Submitted"] = automatic
        # A mail about no question (a question that could not be asked) threads under the
        # sender's own mail only.
        thread = (self.ledger.thread(question_id, person.id)
                  if self.ledger is not None and question_id else [])
        if in_reply_to and in_reply_to not in thread:
            thread.append(in_reply_to)
        if thread:
            headers["In-Reply-To"] = thread[-1]
            references = thread[:1] + thread[1 - MAX_REFERENCES:]
            headers["References"] = " ".join(dict.fromkeys(references))
        sent_id = send_or_log(self.mailer, f"to {person.id} about {question_id}",
                              to=person.email, subject=subject, text=text, headers=headers,
                              kind=kind)
        if sent_id is None:
            return
        if self.ledger is not None and question_id:
            for known in dict.fromkeys([message_id, sent_id]):
                self.ledger.add_thread_message(known, question_id, person.id)

    def _reply_to(self, question_id: str, person_id: str, role: str) -> str:
        if self.ledger is None:
            return ""
        address = self.ledger.reply_address(question_id, person_id, role)
        return f"reply+{address.token}@{self.mail_host}"

    @staticmethod
    def reaches(person: Profile) -> bool:
        """Relais mails only active, listed people with an address."""
        return person.active and not person.deleted and bool(person.email)

    def _reachable(self, person_id: str) -> Profile | None:
        person = self.profiles.get(person_id)
        return person if person is not None and self.reaches(person) else None

    def _url(self, question: Question) -> str:
        return f"{self.base_url}/questions/{question.id}"

    def _name(self, person_id: str) -> str:
        person = self.profiles.get(person_id)
        return person.name if person and not person.deleted else "A former colleague"
