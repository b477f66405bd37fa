"""Replay: what a change of the routing policy would do to people, before it is switched on."""
from __future__ import annotations

from collections import Counter
from dataclasses import replace

from ..auth import Caller
from ..errors import Forbidden, ValidationError
from ..ports import ProfileStore, QuestionStore
from .figures import gini
from .profiles import ProfileService
from .routing import RoutingService

# The settings a replay may change: the ones that decide who is asked, not how experts are
# found (evidence and weights are the same under both policies).
POLICY_FIELDS = ("relay_count", "management_chain_depth", "open_relay_damping",
                 "max_open_relays", "community_boost")
MAX_QUESTIONS = 100  # two rankings each: a replay answers within an API request
BUSIEST = 5  # people listed as the most asked, under each policy
CHANGED_PEOPLE = 10  # people listed among those whose number of requests changes most
WHOLE_CHAIN = 50  # "above the asker" means at any level of their management chain


class PolicyReplay:
    """Routes the most recent questions again, as they would be relayed today, under the
    policy in force and under a candidate change of it, and compares what each asks of
    people: how many are asked, how evenly the requests spread, how often someone above the
    asker in the management chain is asked, and who would get more or fewer requests.
    Nothing is stored and nobody is told; people's availability and open relays are today's."""

    def __init__(self, routing: RoutingService, questions: QuestionStore,
                 profiles: ProfileStore, directory: ProfileService):
        self.routing = routing
        self.questions = questions
        self.profiles = profiles
        self.directory = directory

    def run(self, caller: Caller, changes: dict, questions: int = 50) -> dict:
        if not caller.is_admin:
            raise Forbidden("this needs the admin role")
        unknown = sorted(set(changes) - set(POLICY_FIELDS))
        if unknown:  # the API's schema refuses them first; this guards other callers
            raise ValidationError("not a routing policy setting: " + ", ".join(unknown),
                                  [{"field": f"changes.{name}", "message": "unknown field"}
                                   for name in unknown])
        candidate = self.routing.with_settings(replace(self.routing.settings, **changes))
        asked = self.questions.list_questions(limit=min(questions, MAX_QUESTIONS)).items
        current_relays: dict[str, list[str]] = {}
        candidate_relays: dict[str, list[str]] = {}
        for question in asked:
            current_relays[question.id] = self._relayed(self.routing, question)
            candidate_relays[question.id] = self._relayed(candidate, question)
        above = {q.id: set(self.directory.management_chain(q.asker_id, WHOLE_CHAIN))
                 for q in asked}
        before, after = _requests(current_relays), _requests(candidate_relays)
        current = self._summary(current_relays, before, above)
        proposed = self._summary(candidate_relays, after, above)
        return {
            "questions": len(asked),
            "changes": {name: getattr(candidate.settings, name) for name in sorted(changes)},
            "policy_in_force": {name: getattr(self.routing.settings, name)
                                for name in POLICY_FIELDS},
            "current": current,
            "candidate": proposed,
            "questions_relayed_differently": sum(
                set(current_relays[q]) != set(candidate_relays[q]) for q in current_relays),
            "people_changed": self._people_changed(before, after),
        }

    @staticmethod
    def _relayed(routing: RoutingService, question) -> list[str]:
        """Who `routing` would relay the question to if it were asked now."""
        return [s.person_id for s in routing.relay_choice(question,
                                                          routing.settings.relay_count)]

    def _summary(self, relays: dict[str, list[str]], counts: Counter,
                 above: dict[str, set[str]]) -> dict:
        total = sum(counts.values())
        to_managers = sum(1 for question_id, people in relays.items()
                          if above[question_id] & set(people))
        names = self._names(counts)
        return {
            "relays": total,
            "people_asked": len(counts),
            # Over the people asked: 0 when each is asked as often as the others.
            "spread_gini": gini(counts.values()),
            "busiest": [{"id": person, "name": names.get(person, ""), "relays": n}
                        for person, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                        [:BUSIEST]],
            "questions_relayed_above_asker": to_managers,
            "share_relayed_above_asker": round(to_managers / len(relays), 4) if relays else None,
        }

    def _people_changed(self, before: Counter, after: Counter) -> list[dict]:
        changed = {p: after[p] - before[p] for p in before.keys() | after.keys()
                   if after[p] != before[p]}
        names = self._names(changed)
        return [{"id": p, "name": names.get(p, ""), "current": before[p], "candidate": after[p]}
                for p in sorted(changed, key=lambda p: (-abs(changed[p]), p))[:CHANGED_PEOPLE]]

    def _names(self, people) -> dict[str, str]:
        return {p.id: p.name for p in self.profiles.get_many(list(people)).values()}


def _requests(relays: dict[str, list[str]]) -> Counter:
    """How many of the questions each person would be asked."""
    return Counter(person for people in relays.values() for person in people)
