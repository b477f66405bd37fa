"""Watched tags: people who asked to hear of every new question on a tag are told of it.

Routing picks a few people for a question; watching is the other way round: a person opts in
to a topic. It is told once per question, never to the asker or to someone the question was
just relayed to (their relay mail says it already), and not to people who are away or who
muted one of the question's tags (a mute is about not being asked on that tag at all).
Beyond `watch_mails_per_question` mails, the other watchers find the question in their next
digest: an ask sends a bounded number of mails however many people watch its tags.
"""
from __future__ import annotations

from ..domain import Question
from ..ports import Clock, ProfileStore
from .notify import Notifier


class WatchService:
    """Tells the watchers of a new question's tags, through the Notifier (which holds the mail
    for the daily digest of those who chose one)."""

    def __init__(self, profiles: ProfileStore, notifier: Notifier, clock: Clock,
                 mails_per_question: int):
        self.profiles = profiles
        self.notifier = notifier
        self.clock = clock
        self.mails_per_question = mails_per_question

    def asked(self, question: Question, relayed_to: set[str]) -> list[str]:
        """Tell the watchers of `question`'s tags; returns who was told."""
        if not question.tags:
            return []
        ids = self.profiles.watchers(question.tags) - relayed_to - {question.asker_id}
        today = self.clock.now().date().isoformat()
        told, mailed = [], 0
        for person_id, person in sorted(self.profiles.get_many(ids).items()):
            if (not self.notifier.reaches(person) or person.away_on(today)
                    or set(person.muted_tags) & set(question.tags)):
                continue
            tags = [t for t in question.tags if t in person.watched_tags]
            if not tags:
                continue
            at_once = person.notify != "daily" and mailed < self.mails_per_question
            mailed += at_once
            self.notifier.watched(question, person, tags, hold=not at_once)
            told.append(person_id)
        return told
