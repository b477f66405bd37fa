"""Bootstrap expertise from past Q&A: people, questions, answers and accepted answers from
another system (a Stack Exchange dump, a benchmark's history) become Relais records, written
through the same services as live ones, at their original dates."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable

from ..auth import Caller
from ..clock import FixedClock
from ..errors import NotFound, RelaisError
from ..schemas import AnswerIn, ProfilePatch, QuestionIn, parse
from .hr_sync import HrSyncService
from .profiles import ProfileService
from .questions import QuestionService

MAX_BODY = 20_000  # the API's limits: longer texts are cut, not refused
MAX_TITLE = 300
MAX_NAME = 200
MAX_BIO = 4_000
HR_BATCH = 1_000


@dataclass(frozen=True)
class PastPerson:
    id: str
    name: str
    bio: str = ""


@dataclass(frozen=True)
class PastAnswer:
    id: str
    author_id: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class PastQuestion:
    id: str
    asker_id: str
    title: str
    body: str
    tags: tuple[str, ...]
    created_at: datetime
    answers: tuple[PastAnswer, ...] = ()
    accepted_answer_id: str | None = None


@dataclass
class ImportReport:
    """What an import wrote, what was already there, and what it could not take (with why)."""

    people_created: int = 0
    people_kept: int = 0  # already in the directory: left as they are
    questions: int = 0
    answers: int = 0
    accepted: int = 0
    already_there: int = 0  # questions and answers of an earlier run of the same import
    skipped: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"people_created": self.people_created, "people_kept": self.people_kept,
                "questions": self.questions, "answers": self.answers,
                "accepted": self.accepted, "already_there": self.already_there,
                "skipped": len(self.skipped), "skipped_examples": self.skipped[:10]}


class HistoryImport:
    """Writes past Q&A through HR sync, profile edits and the Q&A service, with the clock set
    to each record's date, so that recency weighs imported evidence as it would have weighed
    it live. Nothing is routed and nobody is notified: the questions are history.

    Idempotent: people already in the directory are left as they are (an import never
    renames or brings back someone HR manages), and questions and answers imported before
    are skipped, so an interrupted import can simply run again. The caller reindexes after
    (on the embedded profile), as `python -m indexer reindex` does."""

    def __init__(self, hr_sync: HrSyncService, profiles: ProfileService,
                 questions: QuestionService, clock: FixedClock):
        self.hr_sync = hr_sync
        self.profiles = profiles
        self.questions = questions
        self.clock = clock

    def run(self, people: Iterable[PastPerson], questions: Iterable[PastQuestion],
            progress: Callable[[int], None] = lambda n: None) -> ImportReport:
        """Import `people` (those who asked or answered are enough), then `questions` in
        creation order; `progress` is told of each question done."""
        report = ImportReport()
        self._people(list(people), report)
        for question in sorted(questions, key=lambda q: (q.created_at, q.id)):
            try:
                self._question(question, report)
            except RelaisError as err:  # one bad record must not stop the rest
                report.skipped.append({"id": question.id, "reason": err.message})
            progress(1)
        return report

    def _people(self, people: list[PastPerson], report: ImportReport) -> None:
        existing = set(self.hr_sync.store.get_many({p.id for p in people}))
        new = [p for p in people if p.id not in existing]
        report.people_kept = len(people) - len(new)
        for start in range(0, len(new), HR_BATCH):
            batch = new[start:start + HR_BATCH]
            result = self.hr_sync.upsert([{"id": p.id, "name": (p.name or p.id)[:MAX_NAME]}
                                          for p in batch])
            for person, item in zip(batch, result["items"]):
                if item["status"] == "error":
                    report.skipped.append({"id": person.id, "reason": "; ".join(
                        f"{e['field']}: {e['message']}" for e in item["errors"])})
                    continue
                report.people_created += 1
                if person.bio:
                    self.profiles.edit(Caller(person.id), person.id,
                                       ProfilePatch(bio=person.bio[:MAX_BIO]))

    def _question(self, past: PastQuestion, report: ImportReport) -> None:
        asker = Caller(past.asker_id)
        try:
            was_accepted = self.questions.get(past.id).accepted_answer_id
            report.already_there += 1
        except NotFound:
            was_accepted = None
            data = parse(QuestionIn, {"title": past.title[:MAX_TITLE],
                                      "body": past.body[:MAX_BODY], "tags": list(past.tags)})
            self.clock.current = past.created_at
            self.questions.ask(asker, data, question_id=past.id, route=False)
            report.questions += 1
        here = set()  # the question's answers now in Relais
        for answer in sorted(past.answers, key=lambda a: (a.created_at, a.id)):
            try:
                self.questions.get_answer(answer.id)
                report.already_there += 1
                here.add(answer.id)
                continue
            except NotFound:
                pass
            self.clock.current = answer.created_at
            try:
                self.questions.answer(Caller(answer.author_id), past.id,
                                      parse(AnswerIn, {"body": answer.body[:MAX_BODY]}),
                                      answer_id=answer.id, imported=True)
                report.answers += 1
                here.add(answer.id)
            except RelaisError as err:
                report.skipped.append({"id": answer.id, "reason": err.message})
        accepted = past.accepted_answer_id
        # Not when its author could not be imported; answering does not change the choice.
        if accepted in here and accepted != was_accepted:
            self.questions.accept(asker, past.id, accepted)
            report.accepted += 1
