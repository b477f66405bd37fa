"""Request bodies: sizes bounded, unknown fields rejected. Their JSON Schemas feed /openapi.json."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .domain import NOTIFY_MODES
from .errors import ValidationError

Text = Annotated[str, StringConstraints(max_length=20_000)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
PersonId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128,
                                            pattern=r"^[A-Za-z0-9][A-Za-z0-9._@:-]*$")]
Skill = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1,
                                       max_length=50, pattern=r"^[^\s,]+$")]
Language = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=16,
                                            pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
CommunityId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                               pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254,
                                         pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class Body(BaseModel):
    # strict: JSON types are not coerced ("1" is not a number, "no" is not false).
    model_config = ConfigDict(extra="forbid", strict=True)


def _no_default(schema: dict) -> None:
    schema.pop("default", None)


def Omittable(**kwargs):
    """A field a client may leave out but not set to null (null would erase a required value)."""
    return Field(None, json_schema_extra=_no_default, **kwargs)


class ProfilePatch(Body):
    """Fields a person may change on their own profile; HR fields need the hr role.
    Only `version`, `away_until` and `manager_id` may be null (null clears them)."""

    version: int | None = Field(None, ge=1, description="Version read; a stale one is a 409.")
    bio: Annotated[str, StringConstraints(max_length=4000)] = Omittable()
    skills: list[Skill] = Omittable(max_length=50)
    languages: list[Language] = Omittable(max_length=20)
    site: Short = Omittable()
    away_until: date | None = Field(None, strict=False, description="ISO date (YYYY-MM-DD).")
    routing_opt_out: bool = Omittable()
    muted_tags: list[Tag] = Omittable(
        max_length=50, description="Tags of the questions never to be relayed to the person.")
    watched_tags: list[Tag] = Omittable(
        max_length=50, description="Tags whose every new question the person is told of (by mail, "
                                   "or in their daily digest if they chose one).")
    notify: Literal[NOTIFY_MODES] = Omittable(
        description="How the person reads Relais's mails: each as it comes (immediate), or all "
                    "of a day in one digest (daily). Acknowledgements of their own questions "
                    "always come at once.")
    # HR fields
    name: Name = Omittable()
    email: Email = Omittable()
    title: Short = Omittable()
    grade: Short = Omittable()
    department: Short = Omittable()
    manager_id: PersonId | None = None
    employee_number: Short = Omittable()
    active: bool = Omittable()


class HrProfile(Body):
    """One person as the HR system knows them."""

    id: PersonId
    name: Name
    email: Email = ""
    user_name: Short = ""
    employee_number: Short = ""
    title: Short = ""
    grade: Short = ""
    department: Short = ""
    manager_id: PersonId | None = None
    site: Short = ""
    languages: list[Language] = Field(default_factory=list, max_length=20)
    skills: list[Skill] | None = Field(None, max_length=50)
    active: bool = True


class HrSync(Body):
    # Items are checked one by one (HrProfile), so that one bad item is reported, not fatal.
    profiles: list[Any] = Field(..., description="Up to 1,000 HrProfile objects.")


class QuestionIn(Body):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]
    body: Text = ""
    tags: list[Tag] = Field(default_factory=list, max_length=10)
    anonymous: bool = False
    community_id: CommunityId | None = Field(None, description="Ask in this community: its "
                                             "members are preferred when routing.")


class Draft(Body):
    title: Annotated[str, StringConstraints(max_length=300)] = ""
    body: Text = ""
    tags: list[Tag] = Field(default_factory=list, max_length=10)


class AnswerIn(Body):
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]


class AnswerEdit(AnswerIn):
    version: int | None = Field(None, ge=1)


class Accept(Body):
    answer_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Vote(Body):
    value: int = Field(..., ge=-1, le=1, description="+1, -1, or 0 to withdraw.")


MAX_SNOOZE_HOURS = 24 * 14
MAX_NOTE_CHARS = 500


class Snooze(Body):
    hours: float = Field(24.0, gt=0, le=MAX_SNOOZE_HOURS)


class Invite(Body):
    """A colleague asked by name to answer (or to take a question relayed to the caller)."""

    person_id: PersonId
    note: Annotated[str, StringConstraints(strip_whitespace=True,
                                           max_length=MAX_NOTE_CHARS)] = Field(
        "", description="A word for them: why them, what to look at.")


# Communities, modules, recognition --------------------------------------------------------
class CommunityIn(Body):
    """A topic community: what it covers and in which languages (no hierarchy field)."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=120)]
    description: Annotated[str, StringConstraints(max_length=4000)] = ""
    tags: list[Tag] = Field(default_factory=list, max_length=30)
    skills: list[Skill] = Field(default_factory=list, max_length=50)
    languages: list[Language] = Field(default_factory=list, max_length=20)


class CommunityPatch(Body):
    version: int | None = Field(None, ge=1, description="Version read; a stale one is a 409.")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2,
                                           max_length=120)] = Omittable()
    description: Annotated[str, StringConstraints(max_length=4000)] = Omittable()
    tags: list[Tag] = Omittable(max_length=30)
    skills: list[Skill] = Omittable(max_length=50)
    languages: list[Language] = Omittable(max_length=20)


class CommunityRoleIn(Body):
    role: Literal["manager", "lead"] = Field(..., description="manager of this community, or "
                                                              "lead (coaches its managers).")


class ThanksIn(Body):
    message: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=2000)]


class ModulesIn(Body):
    """Switch modules on (true) or off (false); modules left out keep their state."""

    version: int | None = Field(None, ge=0, description="Version read; a stale one is a 409.")
    email: bool = Omittable()
    communities: bool = Omittable()
    recognition: bool = Omittable()
    analytics: bool = Omittable()
    anonymous: bool = Omittable()


class PolicyChanges(Body):
    """Routing policy settings to try; those left out keep their value in force."""

    relay_count: int = Omittable(ge=1, le=20, description="People a question is relayed to.")
    management_chain_depth: int = Omittable(
        ge=0, le=10, description="Levels of the asker's managers left out (0: none).")
    open_relay_damping: float = Omittable(
        ge=0, le=10, description="A score is divided by 1 + this x the person's open relays.")
    max_open_relays: int = Omittable(ge=1, le=1000,
                                     description="People holding this many are skipped.")
    community_boost: float = Omittable(
        ge=0.1, le=10, description="Members of the question's community: score x this.")


class ReplayIn(Body):
    """A replay of the most recent questions under a candidate routing policy."""

    changes: PolicyChanges = Field(default_factory=PolicyChanges)
    questions: int = Field(50, ge=1, le=100, description="How many of the latest questions.")


def field_path(loc) -> str:
    """pydantic's error location as a client reads it: `skills[2]`, `manager.id`."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def parse(model: type[BaseModel], data: Any, prefix: str = "") -> BaseModel:
    """Validate `data`; every problem is reported with the path of its field
    (`prefix` names where `data` sits, e.g. `profiles[3].`)."""
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object",
                              [{"field": prefix.rstrip(".") or "body",
                                "message": "must be an object"}])
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        details = []
        for err in exc.errors(include_url=False, include_input=False):
            path = field_path(err["loc"]) or "body"
            message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            details.append({"field": prefix + path, "message": message})
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
        raise ValidationError(summary, details) from None


def schema(model: type[BaseModel]) -> dict:
    return model.model_json_schema(ref_template="#/components/schemas/{model}")
