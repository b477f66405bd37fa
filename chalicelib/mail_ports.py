"""Ports of the email channel: what the mail services need besides a Mailer.

Kept apart from `ports.py` because the channel can be switched off (no ledger wired, no mail
services); the records live beside the other records of the same backend.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol, Sequence

from .ports import Page

OUTCOMES = ("processing", "question", "addition", "answer", "declined", "snoozed", "passed_on",
            "invited", "away", "ignored", "quarantined")

# Set by the Notifier on a mail to an anonymous asker about their question. Mailers take it
# off before sending and keep such mails out of what admins can list: the recipient is the
# one thing about that question nobody else may learn.
PRIVATE_HEADER = "X-Relais-Private"


@dataclass
class ReplyAddress:
    """An unguessable reply+<token>@ address bound to one person about one question.
    `role` says what a reply from that person does: an expert answers, the asker adds."""

    token: str
    question_id: str
    person_id: str
    role: str  # expert | asker


@dataclass
class InboundRecord:
    """One inbound message (keyed by its Message-ID) and what became of it."""

    message_id: str
    received_at: str
    updated_at: str = ""
    envelope_from: str = ""
    sender: str = ""
    recipients: list[str] = field(default_factory=list)
    subject: str = ""
    outcome: str = "processing"
    reason: str = ""
    question_id: str | None = None
    answer_id: str | None = None
    stored: str = ""  # where the raw message is kept: a maildir path or s3://bucket/key

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class DigestItem:
    """A notification held for a person who reads mail once a day."""

    id: int | str  # opaque to callers: whatever mark_digests_sent takes back
    person_id: str
    kind: str
    question_id: str | None
    subject: str
    text: str
    created_at: str
    private: bool = False  # about an anonymous question, to its asker


class MailLedger(Protocol):
    """The email channel's records: reply addresses, thread Message-IDs, the inbound log and
    the digest queue."""

    def reply_address(self, question_id: str, person_id: str, role: str) -> ReplyAddress:
        """The address of this person about this question, created on first use."""

    def find_reply_address(self, token: str) -> ReplyAddress | None:
        """The address with this token (case does not matter), or None."""

    def add_thread_message(self, message_id: str, question_id: str, person_id: str) -> None:
        """Remember that `message_id` belongs to the thread of this person about this question
        (a mail Relais sent them, or one they sent); known ids are ignored."""

    def thread(self, question_id: str, person_id: str) -> list[str]:
        """The Message-IDs of that thread, oldest first."""

    def find_thread(self, message_ids: Sequence[str]) -> tuple[str, str] | None:
        """(question_id, person_id) of the first of `message_ids` Relais knows, or None."""

    def claim_inbound(self, record: InboundRecord, stale_before: str) -> InboundRecord | None:
        """Start processing a message: None if this caller now owns it (new, or a claim older
        than `stale_before` that never finished); else the existing record."""

    def finish_inbound(self, record: InboundRecord) -> None:
        """Store the outcome of a claimed message."""

    def get_inbound(self, message_id: str) -> InboundRecord | None:
        """The record of a message, or None."""

    def list_inbound(self, *, limit: int, cursor: str | None = None,
                     outcome: str | None = None) -> Page:
        """Inbound records, newest first, optionally of one outcome."""

    def queue_digest(self, person_id: str, kind: str, question_id: str | None, subject: str,
                     text: str, created_at: str, private: bool = False) -> None:
        """Hold a notification for the person's next digest."""

    def pending_digests(self) -> list[DigestItem]:
        """Every held notification not yet sent, oldest first."""

    def mark_digests_sent(self, ids: Sequence[int | str], sent_at: str) -> None:
        """Mark held notifications as sent."""


class RawMailStore(Protocol):
    """Keeps every accepted raw message (a maildir locally, S3 on AWS)."""

    def keep(self, key: str, raw: bytes) -> str:
        """Store `raw` (named after `key`, its Message-ID) and return where it is."""

    def quarantine(self, location: str) -> str:
        """Move a kept message to the quarantine and return where it is now."""
