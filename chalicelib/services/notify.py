"""Notifications: who is told what, through the Mailer port. Anonymous askers stay hidden."""
from __future__ import annotations

from ..domain import Answer, Question, Relay
from ..ports import Mailer, ProfileStore


class Notifier:
    """Composes the mails Relais sends: a relay to an expert, an answer to the asker."""

    def __init__(self, mailer: Mailer, profiles: ProfileStore, base_url: str):
        self.mailer = mailer
        self.profiles = profiles
        self.base_url = base_url.rstrip("/")

    def relayed(self, question: Question, relay: Relay) -> None:
        expert = self.profiles.get(relay.expert_id)
        if expert is None or not expert.email:
            return
        why = "; ".join(
            ", ".join(item.get("matched") or []) or item.get("kind", "")
            for item in relay.explanation[:3]) or "your profile"
        asker = "A colleague" if question.anonymous else self._name(question.asker_id)
        self.mailer.send(
            to=expert.email, kind="relay",
            subject=f"[Relais] A question for you: {question.title}",
            text=(f"Hello {expert.name},\n\n{asker} asked a question you are likely to answer "
                  f"well (why you: {why}).\n\n{question.title}\n\n{question.body}\n\n"
                  f"Answer, decline or snooze: {self.base_url}/questions/{question.id}\n"))

    def answered(self, question: Question, answer: Answer) -> None:
        asker = self.profiles.get(question.asker_id)
        if asker is None or not asker.email or answer.author_id == question.asker_id:
            return
        self.mailer.send(
            to=asker.email, kind="answer",
            subject=f"[Relais] New answer: {question.title}",
            text=(f"{self._name(answer.author_id)} answered your question "
                  f"\"{question.title}\":\n\n{answer.body}\n\n"
                  f"{self.base_url}/questions/{question.id}\n"))

    def _name(self, person_id: str) -> str:
        person = self.profiles.get(person_id)
        return person.name if person and not person.deleted else "A former colleague"
