"""Request bodies: sizes bounded, unknown fields rejected. Their JSON Schemas feed /openapi.json."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

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
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254,
                                         pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProfilePatch(Body):
    """Fields a person may change on their own profile; HR fields need the hr role."""

    version: int | None = Field(None, ge=1, description="Version read; a stale one is a 409.")
    bio: Annotated[str, StringConstraints(max_length=4000)] | None = None
    skills: list[Skill] | None = Field(None, max_length=50)
    languages: list[Language] | None = Field(None, max_length=20)
    site: Short | None = None
    away_until: date | None = None
    routing_opt_out: bool | None = None
    # HR fields
    name: Name | None = None
    email: Email | None = None
    title: Short | None = None
    grade: Short | None = None
    department: Short | None = None
    manager_id: PersonId | None = None
    employee_number: Short | None = None
    active: bool | None = None


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
    profiles: list[dict[str, Any]] = Field(..., description="Up to 1,000 HrProfile objects.")


class QuestionIn(Body):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]
    body: Text = ""
    tags: list[Tag] = Field(default_factory=list, max_length=10)
    anonymous: bool = False


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


class Snooze(Body):
    hours: float = Field(24.0, gt=0, le=24 * 14)


def parse(model: type[BaseModel], data: Any, prefix: str = "") -> BaseModel:
    """Validate `data`; every problem is reported with the dotted path of its field."""
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object",
                              [{"field": prefix or "body", "message": "must be an object"}])
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        details = []
        for err in exc.errors(include_url=False, include_input=False):
            path = ".".join(str(p) for p in err["loc"]) or "body"
            message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            details.append({"field": prefix + path, "message": message})
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
        raise ValidationError(summary, details) from None


def schema(model: type[BaseModel]) -> dict:
    return model.model_json_schema(ref_template="#/components/schemas/{model}")
