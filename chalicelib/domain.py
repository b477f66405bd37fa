"""The records of Relais and the rules that need no I/O."""
from __future__ import annotations

import dataclasses
import unicodedata
from dataclasses import dataclass, field
from typing import Any

HR_FIELDS = ("name", "email", "user_name", "external_id", "employee_number", "title", "grade",
             "department", "manager_id", "active")
SELF_FIELDS = ("bio", "skills", "languages", "site", "away_until", "routing_opt_out",
               "muted_tags", "watched_tags", "notify")

ROLES = ("employee", "hr", "admin")
NOTIFY_MODES = ("immediate", "daily")


def normalize_skill(skill: str) -> str:
    """A skill's matching key: case, accents and surrounding spaces do not matter."""
    text = unicodedata.normalize("NFKD", skill.strip().lower())
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).split())


def person_name_key(name: str) -> str:
    """How a colleague named in a mail is matched to the directory: case, accents and spacing
    do not matter (the same key as a skill's)."""
    return normalize_skill(name)


def community_name_key(name: str) -> str:
    """Two communities may not share a name, whatever the case or spacing."""
    return " ".join(name.casefold().split())


@dataclass
class Record:
    """Fields every stored record has: optimistic-concurrency version and timestamps."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


@dataclass
class Profile(Record):
    """A person in the directory. HR owns the identity fields; the person owns the rest."""

    id: str
    name: str
    given_name: str = ""  # as the identity provider sent it (SCIM name.givenName)
    family_name: str = ""  # SCIM name.familyName
    email: str = ""
    user_name: str = ""  # SCIM userName; unique when set
    external_id: str = ""  # the identity provider's id for this person
    employee_number: str = ""
    title: str = ""
    grade: str = ""
    department: str = ""
    manager_id: str | None = None
    active: bool = True
    site: str = ""
    languages: list[str] = field(default_factory=list)
    bio: str = ""
    skills: list[str] = field(default_factory=list)
    away_until: str | None = None  # ISO date; away people are not relayed questions
    routing_opt_out: bool = False  # stays in the directory, receives no relays
    muted_tags: list[str] = field(default_factory=list)  # never relayed questions tagged so
    watched_tags: list[str] = field(default_factory=list)  # told of every new question so tagged
    notify: str = "immediate"  # immediate | daily (one digest mail a day)
    deleted: bool = False  # removed through SCIM: kept for attribution, never listed
    version: int = 0
    created_at: str = ""
    updated_at: str = ""

    def hr_view(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in HR_FIELDS}

    def away_on(self, day: str) -> bool:
        """Away on `day` (an ISO date): `away_until` is that day or later."""
        return bool(self.away_until and self.away_until >= day)


@dataclass
class Question(Record):
    """A question. When `anonymous`, `asker_id` is never shown to anyone but the asker."""

    id: str
    asker_id: str
    title: str
    body: str = ""
    tags: list[str] = field(default_factory=list)
    anonymous: bool = False
    status: str = "open"  # open | answered | closed
    accepted_answer_id: str | None = None
    answer_count: int = 0
    community_id: str | None = None
    version: int = 0
    created_at: str = ""
    updated_at: str = ""


@dataclass
class Answer(Record):
    """An answer to a question, by one person."""

    id: str
    question_id: str
    author_id: str
    body: str
    score: int = 0
    accepted: bool = False
    deleted: bool = False
    version: int = 0
    created_at: str = ""
    updated_at: str = ""


RELAY_STATES = ("notified", "declined", "snoozed", "answered", "expired")
OPEN_RELAY_STATES = ("notified", "snoozed")


@dataclass
class Relay(Record):
    """A question relayed to one person, with why they were chosen and where it stands."""

    question_id: str
    expert_id: str
    state: str = "notified"
    # match | reroute (after a decline, snooze or absence) | escalation_peer |
    # community_manager | escalation_manager | invited (a colleague asked them by name) |
    # handoff (someone it was relayed to passed it to them)
    reason: str = "match"
    rank: int = 0
    score: float = 0.0
    explanation: list[dict] = field(default_factory=list)
    due_at: str = ""
    snoozed_until: str | None = None
    invited_by: str | None = None  # who invited them or passed it on (invited, handoff)
    note: str = ""  # what that person wrote them
    version: int = 0
    created_at: str = ""
    updated_at: str = ""


# Communities, recognition, audit ----------------------------------------------------------
# Membership and community roles are about topics: none of these records refers to a title,
# a grade or a manager, and nothing that reads them looks at the hierarchy.
COMMUNITY_ROLES = ("manager", "lead")  # lead: coaches the managers of several communities


@dataclass
class Community(Record):
    """A topic community, open to anyone: what it covers and in which languages."""

    id: str
    name: str
    description: str = ""
    tags: list[str] = field(default_factory=list)
    skills: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    version: int = 0
    created_at: str = ""
    updated_at: str = ""


@dataclass
class Membership(Record):
    """A person who joined a community (by themselves; nobody is enrolled by rank)."""

    community_id: str
    person_id: str
    joined_at: str = ""


@dataclass
class CommunityRole(Record):
    """A community role an admin (or, for managers, a lead) assigned: `manager` of one
    community, or `lead`, held on each community whose managers the person coaches."""

    community_id: str
    person_id: str
    role: str  # manager | lead
    assigned_by: str = ""
    assigned_at: str = ""


@dataclass
class Thanks(Record):
    """A community manager's thanks to a relay member, shown on the member's profile."""

    id: str
    community_id: str
    from_id: str
    to_id: str
    message: str
    created_at: str = ""


@dataclass
class AuditEntry(Record):
    """One admin or HR action. Never names the asker of an anonymous question."""

    id: str
    at: str
    actor_id: str | None  # None: a system or identity-provider write (SCIM)
    actor_role: str
    action: str  # e.g. hr.sync, scim.write, modules.changed, community.role_assigned
    target: str = ""
    details: dict = field(default_factory=dict)
