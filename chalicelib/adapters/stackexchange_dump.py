"""Read a Stack Exchange data dump (the XML files of one site: Posts.xml and Users.xml) as
past Q&A for `HistoryImport`."""
from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..clock import parse_time
from ..errors import ValidationError
from ..mailparse import html_to_text
from ..services.history_import import PastAnswer, PastPerson, PastQuestion

QUESTION, ANSWER = "1", "2"  # PostTypeId; other types (tag wikis, ...) are not Q&A


def parse_tags(value: str) -> tuple[str, ...]:
    """'<qubit><quantum-gate>' (or the newer '|qubit|quantum-gate|') as ('qubit', ...)."""
    return tuple(t for t in re.split(r"[<>|]+", html.unescape(value or "")) if t)


@dataclass
class Dump:
    """One site's dump, read: the people who asked or answered, and the questions with their
    answers. `skipped` says which posts could not be taken, and why."""

    people: list[PastPerson]
    questions: list[PastQuestion]
    skipped: list[dict]


def _rows(path: Path):
    """The attributes of each <row> of one dump file; a file that is not XML is refused with
    its name."""
    try:
        for _, element in ElementTree.iterparse(path, events=("end",)):
            if element.tag == "row":
                yield dict(element.attrib)
                element.clear()
    except ElementTree.ParseError as err:
        raise ValidationError(f"{path.name} is not well-formed XML: {err}",
                              [{"field": path.name, "message": str(err)}]) from err


def read_dump(folder: str | Path, person_prefix: str = "se-") -> Dump:
    """Questions and answers of the dump in `folder`; people and posts get ids prefixed by
    `person_prefix` (people) and `<prefix>q` / `<prefix>a` (posts), so that a second site
    or a re-import never collides with records made in Relais."""
    folder = Path(folder)
    posts_file = folder / "Posts.xml"
    if not posts_file.is_file():
        raise ValidationError(f"no Posts.xml in {folder}",
                              [{"field": "folder", "message": "Posts.xml not found"}])
    names: dict[str, tuple[str, str]] = {}
    users_file = folder / "Users.xml"
    if users_file.is_file():
        for row in _rows(users_file):
            names[row["Id"]] = (row.get("DisplayName", ""), html_to_text(row.get("AboutMe", "")))
    questions: dict[str, dict] = {}
    answers: list[dict] = []
    skipped: list[dict] = []
    dated: dict[str, datetime] = {}  # post id -> when it was written
    for row in _rows(posts_file):
        if row.get("PostTypeId") not in (QUESTION, ANSWER):
            continue
        if not row.get("OwnerUserId"):  # the author's account was deleted
            skipped.append({"id": row.get("Id"), "reason": "no author"})
            continue
        written = parse_time(row.get("CreationDate", ""))
        if written is None:
            skipped.append({"id": row.get("Id"), "reason": "no valid CreationDate"})
            continue
        dated[row["Id"]] = written
        if row["PostTypeId"] == QUESTION:
            questions[row["Id"]] = row
        else:
            answers.append(row)

    def person(user_id: str) -> str:
        return f"{person_prefix}{user_id}"

    by_question: dict[str, list[PastAnswer]] = {}
    for row in answers:
        if row.get("ParentId") not in questions:
            skipped.append({"id": row["Id"], "reason": "its question is not in the dump"})
            continue
        by_question.setdefault(row["ParentId"], []).append(PastAnswer(
            id=f"{person_prefix}a{row['Id']}", author_id=person(row["OwnerUserId"]),
            body=html_to_text(row.get("Body", "")), created_at=dated[row["Id"]]))
    past = []
    for post_id, row in questions.items():
        accepted = row.get("AcceptedAnswerId")
        past.append(PastQuestion(
            id=f"{person_prefix}q{post_id}", asker_id=person(row["OwnerUserId"]),
            title=html.unescape(row.get("Title", "")).strip(),
            body=html_to_text(row.get("Body", "")), tags=parse_tags(row.get("Tags", "")),
            created_at=dated[post_id],
            answers=tuple(by_question.get(post_id, ())),
            accepted_answer_id=f"{person_prefix}a{accepted}" if accepted else None))
    authors = {q.asker_id for q in past} | {a.author_id for q in past for a in q.answers}
    people = []
    for user_id in sorted({q["OwnerUserId"] for q in questions.values()}
                          | {a["OwnerUserId"] for a in answers}):
        if person(user_id) in authors:
            name, about = names.get(user_id, ("", ""))
            people.append(PastPerson(id=person(user_id), name=name or f"User {user_id}",
                                     bio=about))
    return Dump(people, sorted(past, key=lambda q: (q.created_at, q.id)), skipped)
