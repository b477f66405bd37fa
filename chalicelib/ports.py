"""The ports of Relais: what services need from the outside world.

Each backend (SQLite, DynamoDB, in-process search, OpenSearch, SMTP, SES) implements these
Protocols; `tests/contract/` runs one suite against every implementation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Iterable, Protocol, Sequence

if TYPE_CHECKING:
    import numpy as np

from .domain import (Answer, AuditEntry, Community, CommunityRole, Membership, Profile, Question,
                     Relay, Thanks)


@dataclass
class Page:
    """One page of a listing; `next_cursor` is opaque and None on the last page."""

    items: list
    next_cursor: str | None = None
    total: int | None = None


class ProfileStore(Protocol):
    """Profiles of the directory, with optimistic concurrency on `version`."""

    def get(self, profile_id: str) -> Profile | None:
        """The profile, deleted ones included, or None."""

    def get_many(self, profile_ids: Iterable[str]) -> dict[str, Profile]:
        """The profiles that exist among `profile_ids`, keyed by id."""

    def find(self, *, user_name: str | None = None, email: str | None = None,
             external_id: str | None = None) -> Profile | None:
        """The one non-deleted profile with this user name, email or external id."""

    def add(self, profile: Profile) -> Profile:
        """Store a new profile at version 1.

        :raises Conflict: a profile with this id (or user name) already exists.
        """

    def update(self, profile: Profile) -> Profile:
        """Store `profile` if the stored version still equals `profile.version`; returns it
        with the version incremented.

        :raises Conflict: the stored version differs (someone else wrote first).
        :raises NotFound: there is no such profile.
        """

    def list(self, *, limit: int, cursor: str | None = None, include_inactive: bool = False,
             department: str | None = None) -> Page:
        """Non-deleted profiles ordered by id."""

    def search(self, *, text: str = "", skill: str = "", limit: int = 20,
               cursor: str | None = None) -> Page:
        """Active profiles matching a name, skill or free text (any word, accents ignored),
        best match first; `skill` keeps only people with that declared skill."""

    def all_ids(self) -> list[str]:
        """Every profile id, deleted included (for reindexing)."""

    def watchers(self, tags: Iterable[str]) -> set[str]:
        """Ids of the listed people (active, not deleted) who watch any of `tags`."""


class QuestionStore(Protocol):
    """Questions, answers, votes and relays, with optimistic concurrency on `version`."""

    def add_question(self, question: Question) -> Question:
        """Store a new question at version 1. :raises Conflict: the id exists."""

    def get_question(self, question_id: str) -> Question | None:
        """The question or None."""

    def get_questions(self, question_ids: Iterable[str]) -> dict[str, Question]:
        """The questions that exist among `question_ids`, by id, read in batches."""

    def update_question(self, question: Question) -> Question:
        """Compare-and-set on version. :raises Conflict: stale version."""

    def list_questions(self, *, limit: int, cursor: str | None = None,
                       asker_id: str | None = None, status: str | None = None,
                       tag: str | None = None) -> Page:
        """Questions, newest first, filtered by asker, status and tag."""

    def questions_on_tags(self, tags: Sequence[str], *, limit: int, cursor: str | None = None,
                          status: str | None = None) -> Page:
        """Questions carrying any of `tags` (each once), newest first, optionally only in
        `status`; `total` counts each question once."""

    def community_questions_changed_since(self, community_id: str,
                                          since: str) -> list[Question]:
        """The questions of a community whose record changed (asked, answered, accepted,
        closed) at or after `since` (ISO time), whatever their age: what was done in a
        window without reading the community's whole past."""

    def add_answer(self, answer: Answer) -> Answer:
        """Store a new answer at version 1. :raises Conflict: the id exists."""

    def get_answer(self, answer_id: str) -> Answer | None:
        """The answer or None."""

    def update_answer(self, answer: Answer) -> Answer:
        """Compare-and-set on version. :raises Conflict: stale version."""

    def answers_for(self, question_id: str) -> list[Answer]:
        """Non-deleted answers of a question, oldest first."""

    def answers_for_questions(self, question_ids: Iterable[str]) -> dict[str, list[Answer]]:
        """answers_for of many questions at once: one entry per id given (empty when the
        question has no answer or does not exist)."""

    def answers_by(self, author_id: str) -> list[Answer]:
        """Non-deleted answers written by a person, oldest first."""

    def set_vote(self, answer_id: str, voter_id: str, value: int) -> int:
        """Record the voter's vote (-1, 0 or +1; one per voter) and return the answer's score."""

    def put_relay(self, relay: Relay) -> Relay:
        """Store a new relay (version 1) or compare-and-set an existing one on version."""

    def get_relay(self, question_id: str, expert_id: str) -> Relay | None:
        """The relay of this question to this person, or None."""

    def relays_for_question(self, question_id: str) -> list[Relay]:
        """Every relay of a question, oldest first."""

    def relays_for_questions(self, question_ids: Iterable[str]) -> dict[str, list[Relay]]:
        """relays_for_question of many questions at once: one entry per id given (empty when
        the question has no relay or does not exist)."""

    def relays_for_expert(self, expert_id: str, states: Sequence[str] | None = None) -> list[Relay]:
        """The relays sent to a person, newest first, optionally only in `states`."""

    def list_relays(self, expert_id: str, *, limit: int, cursor: str | None = None,
                    states: Sequence[str] | None = None) -> Page:
        """relays_for_expert one page at a time (newest first), with their total."""

    def open_relay_counts(self, expert_ids: Iterable[str]) -> dict[str, int]:
        """How many open relays (notified or snoozed) each person holds."""

    def relays_due(self, now: str) -> list[Relay]:
        """Open relays whose deadline is at or before `now` (ISO time)."""


@dataclass
class EvidenceDoc:
    """One piece of evidence that a person knows something: a declared skill list, a bio,
    or a past answer together with its question."""

    id: str  # e.g. "skills:u1", "bio:u1", "answer:a17"
    person_id: str
    kind: str  # skills | bio | answer
    text: str  # the question (title and body), the skills, or the bio
    tags: list[str] = field(default_factory=list)  # the question's tags, or the declared skills
    answer: str = ""  # the answer's own text
    question_id: str | None = None
    accepted: bool = False
    score: int = 0
    created_at: str = ""
    vector: Sequence[float] | None = None


@dataclass
class TagExpertise:
    """Per person, weight of their answers on each tag; and the tag's weight over everyone."""

    people: dict[str, dict[str, float]]
    totals: dict[str, float]


@dataclass
class PersonMatches:
    """Matches against each person taken as a whole, from all their answers at once.

    `profile`: BM25 of one document per person that holds every question they answered with
    their answer (higher is better). `topics`: cosine of the query with the mean vector of the
    questions they answered, recent ones weighing more (0.5**(age/half-life)); positive only.
    """

    profile: dict[str, float]
    topics: dict[str, float]


@dataclass
class Hit:
    """A document returned by the search index with its raw score."""

    doc: EvidenceDoc
    score: float


class SearchIndex(Protocol):
    """Retrieves evidence documents; it never ranks people (that is `matching`'s job)."""

    def upsert(self, docs: Sequence[EvidenceDoc]) -> None:
        """Add or replace documents by id; each carries its vector."""

    def delete(self, doc_ids: Sequence[str]) -> None:
        """Remove documents by id; unknown ids are ignored."""

    def delete_person(self, person_id: str) -> None:
        """Remove every document of a person."""

    def person_doc_ids(self, person_id: str) -> set[str]:
        """The ids of every document of a person."""

    def bm25(self, text: str, k: int, exclude_people: Iterable[str] = ()) -> list[Hit]:
        """Top `k` documents by BM25 (higher score is better), active people only."""

    def knn(self, vector: Sequence[float], k: int, exclude_people: Iterable[str] = ()) -> list[Hit]:
        """Top `k` documents by cosine similarity, active people only."""

    def retrieve(self, text: str, vector: Sequence[float], k: int,
                 exclude_people: Iterable[str] = (), tags: Sequence[str] = (),
                 k_knn: int | None = None) -> tuple[list[Hit], list[Hit]]:
        """Both candidate lists at once: top `k` by BM25 (`tags` matched as whole tokens in
        the tags field, which weighs double) and top `k_knn` (default `k`) by cosine; one
        round trip where the engine can."""

    def doc_ids(self) -> set[str]:
        """Every indexed document id (for reindexing)."""

    def tag_expertise(self, tags: Sequence[str], now: datetime, limit: int,
                      exclude_people: Iterable[str] = ()) -> "TagExpertise":
        """Inferred expertise on `tags` from answers: each answer counts 0.5**(age/half-life)
        (the index's half-life, a setting).
        Returns the `limit` people with the largest sum over tags of their weight on the tag
        over the square root of the tag's total weight (how matching reads it), their weight
        per tag, and each tag's total weight."""

    def activity(self, person_ids: Iterable[str], now: datetime, top: int,
                 exclude_people: Iterable[str] = ()) -> dict[str, float]:
        """Recency-weighted answer counts of `person_ids` and of the `top` most active."""

    def people(self, text: str, vector: Sequence[float], k: int,
               exclude_people: Iterable[str] = (), tags: Sequence[str] = ()) -> "PersonMatches":
        """The top `k` people by their profile document (BM25, `tags` as whole tokens) and,
        separately, by their topics vector (cosine). Only answers count, not declared
        skills; people with no answer left are absent."""


class Embedder(Protocol):
    """Turns texts into unit-length vectors."""

    dimensions: int

    def embed(self, texts: Sequence[str]) -> "np.ndarray":
        """A float32 array of shape (len(texts), dimensions): one unit vector per text."""


class MailNotSent(Exception):
    """The mail service did not take a mail: it refused it, or was still unreachable after
    its own retries."""


class Mailer(Protocol):
    """Sends notification mails (outbox + SMTP locally, SES on AWS)."""

    def send(self, *, to: str, subject: str, text: str, headers: dict[str, str] | None = None,
             kind: str = "notification") -> str:
        """Queue or send one mail; returns its Message-ID. :raises MailNotSent: a mail that
        went nowhere and that the mailer keeps no record of (the caller logs it)."""

    def retry_failed(self) -> dict:
        """Send again the mails it kept after a failure ({"retried": n, "sent": m})."""


@dataclass(frozen=True)
class Download:
    """A file kept for its owner to fetch: a link that works until `expires_at`."""

    url: str
    expires_at: str  # ISO 8601, UTC
    size: int  # bytes


class DownloadStore(Protocol):
    """Keeps a file too large for an API response (on AWS, Lambda refuses a response over
    6 MB) where only a link that expires reads it: S3 on the aws profile. The embedded
    profile has no such limit and none of these."""

    def keep(self, key: str, body: bytes, *, content_type: str, filename: str) -> Download:
        """Store `body` under `key` (kept for a day at most) and return a link that
        downloads it as `filename` for a short while."""


class Clock(Protocol):
    """The current time, injectable for tests."""

    def now(self) -> datetime:
        """Timezone-aware current time (UTC)."""


# Communities, module switches, audit ----------------------------------------------------
# The embedded profile implements these on SQLite (adapters/sqlite_community_store.py), the
# aws profile on DynamoDB (adapters/dynamodb_community_store.py); tests/contract holds both to
# the same contracts.


class CommunityStore(Protocol):
    """Communities, their members, community roles, the questions asked in each, and thanks.

    Nothing here refers to the hierarchy: no title, grade or manager is stored or read.
    """

    def add_community(self, community: Community) -> Community:
        """Store a new community at version 1.

        :raises Conflict: the id exists, or another community has this name (case ignored;
            the detail names the field `name`).
        """

    def get_community(self, community_id: str) -> Community | None:
        """The community or None."""

    def update_community(self, community: Community) -> Community:
        """Compare-and-set on `version`; returns it with the version incremented.

        :raises Conflict: stale version, or the new name is taken.
        :raises NotFound: there is no such community.
        """

    def list_communities(self, *, limit: int, cursor: str | None = None,
                         ids: Iterable[str] | None = None) -> Page:
        """Communities ordered by name (then id), optionally only those in `ids`."""

    def add_member(self, membership: Membership) -> bool:
        """Record a membership; False if the person was already a member (nothing changes)."""

    def remove_member(self, community_id: str, person_id: str) -> bool:
        """Remove a membership; False if there was none."""

    def member_ids(self, community_id: str) -> set[str]:
        """Every member of a community (for routing and figures)."""

    def list_members(self, community_id: str, *, limit: int, cursor: str | None = None) -> Page:
        """Memberships of a community, oldest first."""

    def member_counts(self, community_ids: Iterable[str]) -> dict[str, int]:
        """How many members each community has."""

    def memberships_of(self, person_id: str) -> list[Membership]:
        """The communities a person joined."""

    def set_role(self, role: CommunityRole) -> bool:
        """Grant a role; False if the person already held it there (nothing changes)."""

    def remove_role(self, community_id: str, person_id: str, role: str) -> bool:
        """Withdraw a role; False if the person did not hold it."""

    def roles_in(self, community_id: str) -> list[CommunityRole]:
        """The managers and leads of a community, oldest assignment first."""

    def roles_of(self, person_id: str) -> list[CommunityRole]:
        """The community roles a person holds."""

    def add_question(self, community_id: str, question_id: str, asked_at: str) -> None:
        """Note that a question was asked in a community (an index; the question itself
        carries `community_id`). Adding the same pair twice is harmless."""

    def question_ids(self, community_id: str, since: str = "") -> list[str]:
        """Questions asked in a community at or after `since` (ISO time), oldest first."""

    def add_thanks(self, thanks: Thanks) -> Thanks:
        """Store a thanks. :raises Conflict: the id exists."""

    def thanks_to(self, person_id: str) -> list[Thanks]:
        """Thanks a person received, newest first."""

    def thanks_from(self, person_id: str) -> list[Thanks]:
        """Thanks a person gave, newest first."""

    def forget_person(self, person_id: str) -> dict[str, int]:
        """Erase a person's memberships, roles and the thanks they received (a deletion);
        thanks they gave stay, shown as from a former colleague. Returns counts removed."""


class SettingStore(Protocol):
    """Settings an admin changes at run time (module switches), with compare-and-set."""

    def get_setting(self, key: str) -> tuple[object, int]:
        """(value, version); (None, 0) when never set."""

    def put_setting(self, key: str, value: object, version: int) -> int:
        """Store `value` if the stored version still equals `version`; returns the new
        version. :raises Conflict: someone else wrote first."""


class AuditLog(Protocol):
    """An append-only record of admin and HR actions, readable by admins.

    Callers must never put the asker of an anonymous question in an entry.
    """

    def append(self, entry: AuditEntry) -> AuditEntry:
        """Add an entry (its id and time are set by the caller)."""

    def list(self, *, limit: int, cursor: str | None = None, action: str | None = None,
             actor_id: str | None = None) -> Page:
        """Entries, newest first, optionally of one action (a prefix such as `community.`
        matches every community action) or one actor."""


class VoteReader(Protocol):
    """The votes a person cast (for their data export).

    Its natural home is QuestionStore; until that grows `votes_by`, each adapter reads the
    votes its question store wrote (SQLiteQuestionStore's vote table; the vote items of
    DynamoDBQuestionStore, through the `votes_by_voter` index).
    """

    def votes_by(self, voter_id: str) -> list[dict]:
        """[{"answer_id", "value"}] for every vote the person holds."""
