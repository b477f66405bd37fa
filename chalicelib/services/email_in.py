"""The email channel's way in: one ingest for the local SMTP gateway and the SES/S3 Lambda."""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import asdict, dataclass
from datetime import timedelta

from ..auth import Caller
from ..clock import iso
from ..config import Settings
from ..domain import OPEN_RELAY_STATES, Profile, Question, person_name_key
from ..errors import Conflict, NotFound, RelaisError, field_error
from ..mail_ports import InboundRecord, MailLedger, RawMailStore
from ..mailparse import Limits, MailError, ParsedMail, message_key, parse
from ..mailtext import (ReplyCommand, auto_reply_reason, away_until, is_delivery_report,
                        question_from_subject, reply_command, reply_text, shorten,
                        signature_free)
from ..ports import Clock, Page, ProfileStore, QuestionStore
from ..schemas import MAX_NOTE_CHARS, MAX_SNOOZE_HOURS, AnswerIn, ProfilePatch, QuestionIn
from ..schemas import parse as parse_body
from .notify import Notifier
from .profiles import ProfileService
from .questions import MAX_RETRIES, QuestionService
from .routing import Draft, RoutingService

log = logging.getLogger("relais.email")

CLAIM_STALE_MINUTES = 5  # a claim this old never finished: its process died
MAX_BODY = 20_000  # QuestionIn / AnswerIn limits
SIMILAR_IN_ACK = 3
VERDICTS = ("spamVerdict", "virusVerdict", "spfVerdict", "dkimVerdict", "dmarcVerdict")
REPLY_LOCAL = re.compile(r"^reply\+([a-z2-7]{8,64})$")
NAME_MATCHES = 50  # people read when a colleague is named instead of addressed
REFUSED_COMMAND = {"decline": "the decline was refused", "snooze": "the snooze was refused",
                   "pass": "the question was not passed on"}


@dataclass
class IngestResult:
    """What became of one inbound message. `outcome` is one of question, addition, answer,
    declined, snoozed, passed_on, invited (a reply's command), away, ignored, quarantined,
    duplicate, busy (being processed elsewhere; deliver again later) or failed (not stored;
    deliver again later)."""

    outcome: str
    reason: str = ""
    message_id: str = ""
    question_id: str | None = None
    answer_id: str | None = None
    stored: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def retry_later(self) -> bool:
        return self.outcome in ("busy", "failed")


class Refused(Exception):
    """The mail cannot be used; it goes to the quarantine with `reason`."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Target:
    """Who a mail is for: a new question (ask), or a person's thread about a question."""

    kind: str  # ask | thread
    question_id: str = ""
    person_id: str = ""
    role: str = ""  # expert | asker


class EmailIngestService:
    """Turns one inbound mail into a question, an answer, an addition to a question, a
    decline, snooze or hand-off (a reply's command) or an away notice, and keeps every
    message it accepted with what became of it. An employee whose mail did nothing is told
    why.

    Trust: the sender must be an active employee (From matched to Profile.email), SES verdicts
    that FAIL are refused, and locally the sender's domain must be on the allow-list. Automatic
    replies and our own mails never become answers and are never answered. The same
    Message-ID twice makes one outcome. Nothing raises out of `ingest`.
    """

    def __init__(self, settings: Settings, ledger: MailLedger, raw_store: RawMailStore, *,
                 profile_store: ProfileStore, question_store: QuestionStore,
                 profiles: ProfileService, questions: QuestionService, routing: RoutingService,
                 notifier: Notifier, clock: Clock, modules=None, limits: Limits | None = None):
        self.settings = settings
        self.ledger = ledger
        self.raw_store = raw_store
        self.profile_store = profile_store
        self.question_store = question_store
        self.profiles = profiles
        self.questions = questions
        self.routing = routing
        self.notifier = notifier
        self.clock = clock
        self.modules = modules  # ModuleService: the email module may be switched off
        self.limits = limits or Limits(max_bytes=settings.mail_max_bytes)

    # Addresses ---------------------------------------------------------------------------
    def is_relais_address(self, address: str) -> bool:
        """Whether Relais receives mail at `address` (the gateway refuses the others)."""
        local, _, host = address.strip().strip("<>").lower().rpartition("@")
        if host != self.settings.mail_host:
            return False
        return (f"{local}@{host}" in (self.settings.ask_mailbox, self.settings.mail_from.lower())
                or bool(REPLY_LOCAL.match(local)))

    def is_open(self) -> bool:
        """Whether the email module is on (off: the gateway refuses mail, the rest is kept)."""
        return self.modules is None or self.modules.is_on("email")

    def inbound_log(self, *, outcome: str | None, limit: int, cursor: str | None) -> Page:
        """Inbound records for admins. A mail that asked or added to an anonymous question
        is shown without its sender: admins are "anyone else" too."""
        page = self.ledger.list_inbound(limit=limit, cursor=cursor, outcome=outcome)
        items = []
        for record in page.items:
            data = record.to_dict()
            if record.question_id and record.outcome in ("question", "addition"):
                question = self.question_store.get_question(record.question_id)
                if question is None or question.anonymous:
                    data["sender"] = data["envelope_from"] = None
            items.append(data)
        return Page(items=items, next_cursor=page.next_cursor, total=page.total)

    # The one way in ------------------------------------------------------------------------
    def ingest(self, raw: bytes, envelope_from: str | None, recipients: list[str],
               verdicts: dict | None = None, *, stored_at: str = "") -> IngestResult:
        """Read, keep and act on one raw message. `envelope_from` is the SMTP MAIL FROM
        ("" or "<>" for a bounce, None when unknown), `recipients` the RCPT TO addresses,
        `verdicts` SES's receipt verdicts, `stored_at` where the raw message already is."""
        try:
            return self._ingest(raw, envelope_from, list(recipients or [])[:100], verdicts or {},
                                stored_at)
        except Exception as exc:  # the store itself failed: nothing kept, so ask for a retry
            log.exception("mail ingest failed")
            return IngestResult("failed", f"internal error ({type(exc).__name__}); retry later")

    def _ingest(self, raw: bytes, envelope_from, recipients, verdicts, stored_at) -> IngestResult:
        raw = bytes(raw or b"")
        key = message_key(raw, self.limits)
        now = self.clock.now()
        record = InboundRecord(
            message_id=key, received_at=iso(now), updated_at=iso(now),
            envelope_from=str(envelope_from or "")[:254],
            recipients=[str(r)[:254] for r in recipients[:20]])
        existing = self.ledger.claim_inbound(
            record, iso(now - timedelta(minutes=CLAIM_STALE_MINUTES)))
        if existing is not None:
            if existing.outcome == "processing":
                return IngestResult("busy", "this message is being processed", key)
            return IngestResult("duplicate", f"already received: {existing.outcome}", key,
                                existing.question_id, existing.answer_id, existing.stored)
        try:
            record.stored = stored_at or self.raw_store.keep(key, raw)
        except Exception:
            # Release the claim at once, so that the sender's next try is not told "busy".
            self.ledger.finish_inbound(InboundRecord(**{**record.to_dict(), "updated_at": ""}))
            raise
        try:
            result, mail = self._process(raw, envelope_from, recipients, verdicts, key)
        except Exception as exc:  # a bug must not lose the mail: it waits in the quarantine
            log.exception("mail %s could not be processed", ref(key))
            result, mail = IngestResult("quarantined", f"internal error ({type(exc).__name__})",
                                        key), None
        if result.outcome == "quarantined":
            try:
                record.stored = self.raw_store.quarantine(record.stored)
            except Exception:  # it stays where it was kept; the record still says quarantined
                log.exception("mail %s could not be moved to the quarantine", ref(key))
        if mail is not None:
            record.sender = mail.sender
            record.subject = shorten(mail.subject, 200)
        record.outcome, record.reason = result.outcome, result.reason[:500]
        record.question_id, record.answer_id = result.question_id, result.answer_id
        record.updated_at = iso(self.clock.now())
        self.ledger.finish_inbound(record)
        result.stored = record.stored
        # Never a sender nor a Message-ID (which may name the sender's machine) in the log: the
        # question may be anonymous.
        log.info("mail %s: %s %s", ref(key), result.outcome, result.reason)
        return result

    def _process(self, raw, envelope_from, recipients, verdicts, key):
        try:
            mail = parse(raw, self.limits)
        except MailError as err:
            return IngestResult("quarantined", err.reason, key), None
        try:
            return self._act(mail, envelope_from, recipients, verdicts, key), mail
        except Refused as refused:
            return IngestResult("quarantined", refused.reason, key), mail

    def _act(self, mail: ParsedMail, envelope_from, recipients, verdicts, key) -> IngestResult:
        if not self.is_open():
            raise Refused("the email module is switched off")
        if mail.header("x-relais-kind") or self.is_relais_address(mail.sender):
            return IngestResult("ignored", "a mail Relais sent came back (loop prevented)", key)
        if (envelope_from is not None and not str(envelope_from).strip("<> ")) \
                or is_delivery_report(mail):
            return IngestResult("ignored", "a delivery report (bounce)", key)
        self._check_trust(mail, envelope_from, verdicts)
        sender = self._sender(mail)
        target = self._target(mail, recipients, sender)
        if target is None:
            raise Refused("not addressed to a Relais address")
        if target.kind == "thread" and target.person_id != sender.id:
            raise Refused("the reply address belongs to someone else")
        automatic = auto_reply_reason(mail, by_subject=target.kind == "thread")
        if automatic:
            if target.kind == "thread" and target.role == "expert":
                return self._away(mail, sender, target, automatic, key)
            return IngestResult("ignored", f"automatic reply ({automatic})", key)
        try:
            if target.kind == "ask":
                return self._ask(mail, sender, key)
            command = reply_command(reply_text(mail.text))
            if command is not None:
                return self._command(mail, sender, target, command, key)
            if target.role == "expert":
                return self._answer(mail, sender, target, key)
            return self._add(mail, sender, target, key)
        except Refused as refused:
            # A colleague's own mail that did nothing: they are told, or they would believe
            # they had asked, answered or passed the question on.
            question = (self.question_store.get_question(target.question_id)
                        if target.question_id else None)
            self.notifier.not_used(sender, mail.subject, refused.reason, question=question,
                                   in_reply_to=mail.message_id)
            raise

    # Trust -------------------------------------------------------------------------------
    def _check_trust(self, mail: ParsedMail, envelope_from, verdicts: dict) -> None:
        if not mail.sender:
            raise Refused("no readable From address")
        failed = [name for name in VERDICTS
                  if str((verdicts.get(name) or {}).get("status", "")).upper() == "FAIL"]
        if failed:
            raise Refused("refused by the mail service: " + ", ".join(f"{n} FAIL" for n in failed))
        allowed = self.settings.allowed_mail_domains
        if allowed:
            domains = {mail.sender.rpartition("@")[2]}
            if envelope_from:
                domains.add(str(envelope_from).strip("<> ").lower().rpartition("@")[2])
            refused = sorted(d for d in domains if d not in allowed)
            if refused:
                raise Refused(f"sender domain not allowed: {refused[0][:100]}")

    def _sender(self, mail: ParsedMail) -> Profile:
        person = self.profile_store.find(email=mail.sender)
        if person is None or person.deleted or not person.active:
            raise Refused("the sender is not an active employee")
        return person

    def _target(self, mail: ParsedMail, recipients: list[str], sender: Profile) -> Target | None:
        addresses = [str(a).strip().strip("<>").lower() for a in recipients] + mail.recipients
        ours = [a for a in dict.fromkeys(addresses) if self.is_relais_address(a)]
        for address in ours:
            match = REPLY_LOCAL.match(address.rpartition("@")[0])
            if match:
                found = self.ledger.find_reply_address(match.group(1))
                if found is None:
                    raise Refused("unknown reply address")
                return Target("thread", found.question_id, found.person_id, found.role)
        if not ours:
            return None
        # A reply to our From address (Reply-To dropped by a client) still threads.
        thread = self.ledger.find_thread([*reversed(mail.in_reply_to),
                                          *reversed(mail.references)])
        if thread is not None and thread[1] == sender.id:
            question = self.question_store.get_question(thread[0])
            if question is not None:
                role = "asker" if question.asker_id == sender.id else "expert"
                return Target("thread", question.id, sender.id, role)
        if self.settings.ask_mailbox in ours:
            return Target("ask")
        raise Refused("a reply Relais cannot match to a question")

    # Outcomes ----------------------------------------------------------------------------
    def _ask(self, mail: ParsedMail, sender: Profile, key: str) -> IngestResult:
        title, anonymous, tags = question_from_subject(mail.subject)
        body = signature_free(mail.text)
        if anonymous:
            body = redact(body, sender)
        if len(title) < 3:
            title = shorten(" ".join(body.split("\n", 1)[0].split()), 120)
        if len(title) < 3:
            raise Refused("the mail has neither a subject nor text to ask")
        question_id = derived_id("q", key)
        try:
            data = parse_body(QuestionIn, {"title": title, "body": shorten(body, MAX_BODY),
                                           "tags": valid_tags(tags), "anonymous": anonymous})
            if self.modules is not None:
                self.modules.check_question(data)  # "[anonymous]" needs its module on
            question = self.questions.ask(Caller(sender.id), data, question_id=question_id)
        except Conflict:  # a retry of a delivery whose first attempt died after asking
            question = self.questions.get(question_id)
        except RelaisError as err:
            raise Refused(f"the question was refused: {in_words(err)}") from None
        if mail.message_id:
            self.ledger.add_thread_message(mail.message_id, question.id, sender.id)
        relays = self.question_store.relays_for_question(question.id)
        similar = [q for q in self.routing.similar_questions(
            Draft(question.title, question.body, tuple(question.tags)), sender.id,
            SIMILAR_IN_ACK + 1) if q["id"] != question.id][:SIMILAR_IN_ACK]
        self.notifier.acknowledged(question, relays, similar, in_reply_to=mail.message_id)
        return IngestResult("question", "", key, question_id=question.id)

    def _answer(self, mail: ParsedMail, expert: Profile, target: Target, key: str) -> IngestResult:
        text = reply_text(mail.text)
        if not text:
            raise Refused("the reply has no text of its own (only quoted text or a signature)")
        answer_id = derived_id("a", key)
        try:
            answer = self.questions.answer(Caller(expert.id), target.question_id,
                                           parse_body(AnswerIn, {"body": shorten(text, MAX_BODY)}),
                                           answer_id=answer_id)
        except Conflict as err:
            if self.question_store.get_answer(answer_id) is None:
                raise Refused(f"the answer was refused: {in_words(err)}") from None
            answer = self.question_store.get_answer(answer_id)
        except RelaisError as err:
            raise Refused(f"the answer was refused: {in_words(err)}") from None
        if mail.message_id:
            self.ledger.add_thread_message(mail.message_id, target.question_id, expert.id)
        return IngestResult("answer", "", key, question_id=target.question_id,
                            answer_id=answer.id)

    def _command(self, mail: ParsedMail, sender: Profile, target: Target, command: ReplyCommand,
                 key: str) -> IngestResult:
        """A reply that declines, snoozes or passes the question on, as the widget's buttons
        do. "Pass to" hands the sender's open relay to the colleague; from someone the
        question was not relayed to (a watcher, the asker), it invites them."""
        caller = Caller(sender.id)
        try:
            if command.action == "decline":
                self.routing.decline(caller, target.question_id)
                outcome, reason = "declined", ""
            elif command.action == "snooze":
                if not 0 < command.hours <= MAX_SNOOZE_HOURS:  # schemas.Snooze's bounds
                    raise field_error("hours", f"a question can be snoozed for "
                                               f"{MAX_SNOOZE_HOURS // 24} days at most, an hour "
                                               "at least")
                relay = self.routing.snooze(caller, target.question_id, command.hours)
                outcome, reason = "snoozed", f"until {relay.snoozed_until}"
            else:
                outcome, reason = self._pass(caller, target.question_id, command)
        except RelaisError as err:
            raise Refused(f"{REFUSED_COMMAND[command.action]} ({in_words(err)})") from None
        if mail.message_id:
            self.ledger.add_thread_message(mail.message_id, target.question_id, sender.id)
        return IngestResult(outcome, reason, key, question_id=target.question_id)

    def _pass(self, caller: Caller, question_id: str, command: ReplyCommand) -> tuple[str, str]:
        colleague = self._colleague(command)
        question = self.questions.get(question_id)
        note = shorten(command.note, MAX_NOTE_CHARS)
        held = self.question_store.get_relay(question_id, caller.id)
        if held is not None and held.state in OPEN_RELAY_STATES:
            self.routing.hand_off(caller, question, colleague.id, note)
            return "passed_on", f"to {colleague.id}"
        self.routing.invite(caller, question, colleague.id, note)
        return "invited", colleague.id

    def _colleague(self, command: ReplyCommand) -> Profile:
        """The colleague a "pass to" names: by address, else by a name only one active
        colleague has (case and accents aside)."""
        if command.address:
            colleague = self.profile_store.find(email=command.address)
            if colleague is None:
                raise NotFound(f"no colleague has the address {command.address}")
            return colleague
        key = person_name_key(command.name)
        found = self.profile_store.search(text=command.name, limit=NAME_MATCHES).items
        named = [p for p in found if person_name_key(p.name) == key]
        if len(named) != 1:
            who = "no colleague is" if not named else f"{len(named)} colleagues are"
            raise NotFound(f"{who} called {command.name}: write their mail address after "
                           "\"pass to\"")
        return named[0]

    def _add(self, mail: ParsedMail, asker: Profile, target: Target, key: str) -> IngestResult:
        """The asker replied to an acknowledgement or an answer: the text is appended to the
        question's body (Relais has no comments), and experts still holding it are told."""
        text = reply_text(mail.text)
        question = self.question_store.get_question(target.question_id)
        if question is None:
            raise Refused("the question no longer exists")
        if question.anonymous:
            text = redact(text, asker)
        if not text:
            raise Refused("the reply has no text of its own (only quoted text or a signature)")
        if question.status == "closed":
            raise Refused("the question is closed")
        stamp = self.clock.now().strftime("%Y-%m-%d %H:%M UTC")
        addition = f"\n\n[Added by email, {stamp}]\n{text}"
        if len(question.body) + len(addition) > MAX_BODY:
            raise Refused("the question would grow over its size limit")
        updated = self._append(question.id, addition)
        if mail.message_id:
            self.ledger.add_thread_message(mail.message_id, question.id, asker.id)
        holding = [r.expert_id for r in self.question_store.relays_for_question(question.id)
                   if r.state in ("notified", "snoozed")]
        self.notifier.added(updated, text, holding)
        return IngestResult("addition", "", key, question_id=question.id)

    def _append(self, question_id: str, addition: str) -> Question:
        for _ in range(MAX_RETRIES):
            current = self.questions.get(question_id)
            try:
                return self.question_store.update_question(current.replace(
                    body=(current.body + addition).strip(), updated_at=iso(self.clock.now())))
            except Conflict:
                continue
        raise Refused("the question kept changing; deliver again later")

    def _away(self, mail: ParsedMail, expert: Profile, target: Target, why: str,
              key: str) -> IngestResult:
        """An out-of-office reply to a relay: the expert is away until the date it states
        (else for a few days), and their open questions go to the next person."""
        today = self.clock.now().date()
        until = (away_until(reply_text(mail.text) or mail.text, today)
                 or today + timedelta(days=self.settings.away_default_days))
        if not expert.away_until or expert.away_until < until.isoformat():
            self.profiles.edit(Caller(expert.id), expert.id, ProfilePatch(away_until=until))
        moved = self.routing.mark_away(expert.id, until.isoformat())
        return IngestResult("away", f"automatic reply ({why}); away until {until.isoformat()},"
                                    f" {len(moved)} open question(s) passed on", key,
                            question_id=target.question_id)


def in_words(err: RelaisError) -> str:
    """An API error's message without the field name it starts with ("person_id: they are
    away" says "they are away"): a person reads it in a mail."""
    for detail in err.details[:1]:
        named = f"{detail.get('field')}: "
        if err.message.startswith(named):
            return err.message[len(named):]
    return err.message


def ref(key: str) -> str:
    """A short, stable name for a message in log lines."""
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:12]


def derived_id(prefix: str, key: str) -> str:
    """The same Message-ID always makes the same record id: a redelivery cannot add twice."""
    return prefix + hashlib.sha256(("mail:" + key).encode("utf-8", "replace")).hexdigest()[:16]


TAG_RE = re.compile(r"^[^\s,]{1,50}$")


def valid_tags(tags: list[str]) -> list[str]:
    return [t for t in tags if TAG_RE.match(t)][:10]


def redact(text: str, person: Profile) -> str:
    """An anonymous asker's name and address taken out of what experts will read (a
    signature the cleaner missed, a "my name is")."""
    for needle in sorted({person.email, person.name, *person.name.split()}, key=len,
                         reverse=True):
        if needle and len(needle) >= 3:
            text = re.sub(rf"(?i)\b{re.escape(needle)}\b", "[…]", text)
    return text
