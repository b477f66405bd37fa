"""Questions and answers: ask, answer, edit, accept, vote, close."""
from __future__ import annotations

import secrets
from typing import Callable

from ..auth import Caller
from ..clock import iso
from ..domain import Answer, Profile, Question
from ..errors import Conflict, Forbidden, NotFound, ValidationError, field_error
from ..ports import Clock, Page, ProfileStore, QuestionStore
from ..schemas import AnswerEdit, AnswerIn, QuestionIn
from .profiles import MAX_RETRIES, pause_before_retry


def new_id(prefix: str) -> str:
    """Unguessable ids, so that ids reveal neither counts nor order of creation."""
    return prefix + secrets.token_hex(8)


class QuestionService:
    """The Q&A use cases. Routing and indexing listen through the `after_*` hooks;
    `after_answer` is told whether the answer was added, imported, edited or accepted."""

    def __init__(self, questions: QuestionStore, profiles: ProfileStore, clock: Clock,
                 after_ask: Callable[[Question], None] = lambda q: None,
                 after_answer: Callable[[Question, Answer, str], None] = lambda q, a, event: None):
        self.questions = questions
        self.profiles = profiles
        self.clock = clock
        self.after_ask = after_ask
        self.after_answer = after_answer

    def _active_caller(self, caller: Caller) -> Profile:
        person = self.profiles.get(caller.id)
        if person is None or person.deleted or not person.active:
            raise Forbidden("only active people in the directory can ask or answer")
        return person

    def ask(self, caller: Caller, data: QuestionIn, *, question_id: str | None = None,
            route: bool = True) -> Question:
        """Store a question from `caller`; then routing relays it (unless `route` is False)."""
        self._active_caller(caller)
        now = iso(self.clock.now())
        question = self.questions.add_question(Question(
            id=question_id or new_id("q"), asker_id=caller.id, title=data.title, body=data.body,
            tags=list(dict.fromkeys(data.tags)), anonymous=data.anonymous, created_at=now,
            updated_at=now))
        if route:
            self.after_ask(question)
        return question

    def get(self, question_id: str) -> Question:
        question = self.questions.get_question(question_id)
        if question is None:
            raise NotFound(f"question {question_id!r} not found")
        return question

    def get_many(self, question_ids) -> dict[str, Question]:
        """The questions that exist among `question_ids`, by id."""
        return self.questions.get_questions(question_ids)

    def list(self, caller: Caller, *, mine: bool, status: str | None, tag: str | None,
             limit: int, cursor: str | None, watched: bool = False) -> Page:
        """Questions, newest first: the caller's (`mine`), by status, by tag, or on any of
        the tags the caller watches (`watched`)."""
        if status not in (None, "open", "answered", "closed"):
            raise ValidationError("status must be open, answered or closed",
                                  [{"field": "status", "message": "open, answered or closed"}])
        if watched:
            if mine or tag:
                raise field_error("watched", "cannot be combined with mine or tag")
            person = self.profiles.get(caller.id)
            return self.questions.questions_on_tags(person.watched_tags if person else [],
                                                    limit=limit, cursor=cursor, status=status)
        return self.questions.list_questions(limit=limit, cursor=cursor, status=status, tag=tag,
                                             asker_id=caller.id if mine else None)

    def answers(self, question_id: str) -> list[Answer]:
        self.get(question_id)
        return self.questions.answers_for(question_id)

    def answer(self, caller: Caller, question_id: str, data: AnswerIn, *,
               answer_id: str | None = None, imported: bool = False) -> Answer:
        """Add `caller`'s answer; a closed question takes no more answers. An `imported`
        answer is history: it is indexed, but nobody is told of it."""
        self._active_caller(caller)
        question = self.get(question_id)
        if question.status == "closed":
            raise Conflict("the question is closed", [{"field": "question_id", "message": "closed"}])
        now = iso(self.clock.now())
        answer = self.questions.add_answer(Answer(
            id=answer_id or new_id("a"), question_id=question_id, author_id=caller.id,
            body=data.body, created_at=now, updated_at=now))
        self._update_question(question_id, lambda q: q.replace(
            answer_count=q.answer_count + 1,
            status="answered" if q.status == "open" else q.status))
        self.after_answer(self.get(question_id), answer, "imported" if imported else "added")
        return answer

    def get_answer(self, answer_id: str) -> Answer:
        answer = self.questions.get_answer(answer_id)
        if answer is None or answer.deleted:
            raise NotFound(f"answer {answer_id!r} not found")
        return answer

    def edit_answer(self, caller: Caller, answer_id: str, data: AnswerEdit) -> Answer:
        """Only the author edits an answer; with `version`, a stale read is a 409."""
        for attempt in range(MAX_RETRIES):
            answer = self.get_answer(answer_id)
            if answer.author_id != caller.id:
                raise Forbidden("only the author can edit an answer")
            if data.version is not None and data.version != answer.version:
                raise Conflict(f"answer {answer_id!r} changed since version {data.version}",
                               [{"field": "version", "message": f"current is {answer.version}"}])
            try:
                stored = self.questions.update_answer(
                    answer.replace(body=data.body, updated_at=iso(self.clock.now())))
            except Conflict:
                if data.version is not None:
                    raise
                pause_before_retry(attempt)
                continue
            self.after_answer(self.get(stored.question_id), stored, "edited")
            return stored
        raise Conflict("the answer is being changed by others; retry")

    def accept(self, caller: Caller, question_id: str, answer_id: str) -> Question:
        """The asker marks one answer as the accepted one (replacing any earlier choice)."""
        question = self.get(question_id)
        if question.asker_id != caller.id:
            raise Forbidden("only the asker can accept an answer")
        answer = self.get_answer(answer_id)
        if answer.question_id != question_id:
            raise ValidationError("the answer belongs to another question",
                                  [{"field": "answer_id", "message": "not an answer here"}])
        previous = question.accepted_answer_id
        if previous == answer_id:
            return question
        if previous:
            self._update_answer(previous, lambda a: a.replace(accepted=False))
        accepted = self._update_answer(answer_id, lambda a: a.replace(accepted=True))
        updated = self._update_question(question_id, lambda q: q.replace(
            accepted_answer_id=answer_id, status="closed" if q.status == "closed" else "answered"))
        self.after_answer(updated, accepted, "accepted")
        return updated

    def vote(self, caller: Caller, answer_id: str, value: int) -> int:
        answer = self.get_answer(answer_id)
        if answer.author_id == caller.id:
            raise Forbidden("you cannot vote on your own answer")
        self._active_caller(caller)
        return self.questions.set_vote(answer_id, caller.id, value)

    def close(self, caller: Caller, question_id: str) -> Question:
        question = self.get(question_id)
        if question.asker_id != caller.id and not caller.is_admin:
            raise Forbidden("only the asker or an admin can close a question")
        return self._update_question(question_id, lambda q: q.replace(status="closed"))

    def _update_question(self, question_id: str, change) -> Question:
        return self._retry(lambda: self.get(question_id), self.questions.update_question, change,
                           "the question is being changed by others; retry")

    def _update_answer(self, answer_id: str, change) -> Answer:
        return self._retry(lambda: self.get_answer(answer_id), self.questions.update_answer,
                           change, "the answer is being changed by others; retry")

    def _retry(self, read, write, change, gave_up: str):
        """Read, change, compare-and-set; on a lost race read again (no write is lost)."""
        for attempt in range(MAX_RETRIES):
            try:
                return write(change(read()).replace(updated_at=iso(self.clock.now())))
            except Conflict:
                pause_before_retry(attempt)
        raise Conflict(gave_up)
