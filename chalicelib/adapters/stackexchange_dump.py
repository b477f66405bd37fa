"""Read a Stack Exchange data dump (the XML files of one site: Posts.xml and Users.xml) as
past Q&A for `HistoryImport`."""
from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, replace
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
    or a re-import never collides with records made in Relais.

    Each post is turned into text as it is read, and Users.xml is read after Posts.xml for
    the authors alone: what stays in memory is the text of the Q&A, not the dump's HTML
    and every account of the site."""
    folder = Path(folder)
    posts_file = folder / "Posts.xml"
    if not posts_file.is_file():
        raise ValidationError(f"no Posts.xml in {folder}",
                              [{"field": "folder", "message": "Posts.xml not found"}])

    def person(user_id: str) -> str:
        return f"{person_prefix}{user_id}"

    questions: dict[str, PastQuestion] = {}
    answers: list[tuple[str, PastAnswer]] = []  # (the question's post id, the answer)
    skipped: list[dict] = []
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
        body = html_to_text(row.get("Body", ""))
        if row["PostTypeId"] == ANSWER:
            answers.append((row.get("ParentId", ""), PastAnswer(
                id=f"{person_prefix}a{row['Id']}", author_id=person(row["OwnerUserId"]),
                body=body, created_at=written)))
            continue
        accepted = row.get("AcceptedAnswerId")
        questions[row["Id"]] = PastQuestion(
            id=f"{person_prefix}q{row['Id']}", asker_id=person(row["OwnerUserId"]),
            title=html.unescape(row.get("Title", "")).strip(), body=body,
            tags=parse_tags(row.get("Tags", "")), created_at=written,
            accepted_answer_id=f"{person_prefix}a{accepted}" if accepted else None)

    by_question: dict[str, list[PastAnswer]] = {}
    for parent_id, answer in answers:
        if parent_id not in questions:
            skipped.append({"id": answer.id.removeprefix(f"{person_prefix}a"),
                            "reason": "its question is not in the dump"})
            continue
        by_question.setdefault(parent_id, []).append(answer)
    past = [replace(question, answers=tuple(by_question.get(post_id, ())))
            for post_id, question in questions.items()]
    return Dump(_authors(folder / "Users.xml", past, person_prefix),
                sorted(past, key=lambda q: (q.created_at, q.id)), skipped)


def _authors(users_file: Path, past: list[PastQuestion], person_prefix: str) -> list[PastPerson]:
    """The people who wrote the questions and answers kept, named from Users.xml when the
    dump has it (an account without a name is "User <id>")."""
    authors = {q.asker_id for q in past} | {a.author_id for q in past for a in q.answers}
    found: dict[str, PastPerson] = {}
    if users_file.is_file():
        for row in _rows(users_file):
            person_id = f"{person_prefix}{row.get('Id', '')}"
            if person_id in authors:
                found[person_id] = PastPerson(
                    id=person_id, name=row.get("DisplayName") or f"User {row['Id']}",
                    bio=html_to_text(row.get("AboutMe", "")))
    return [found.get(p) or PastPerson(id=p, name=f"User {p.removeprefix(person_prefix)}")
            for p in sorted(authors)]
