"""Routing: suggest experts for a draft, relay a stored question, re-route and escalate."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from .. import matching
from ..auth import Caller
from ..clock import iso
from ..config import Settings
from ..domain import OPEN_RELAY_STATES, Profile, Question, Relay
from ..errors import Conflict, Forbidden, NotFound, field_error
from ..evidence import question_text
from ..ports import Clock, Embedder, Page, ProfileStore, QuestionStore, SearchIndex
from .profiles import ProfileService

CANDIDATE_PEOPLE = 200  # people asked for by inferred expertise, and the most active


def _settled(last: matching.Suggestion, following: matching.Suggestion,
             ceiling: float) -> bool:
    """Whether `last` comes before `following` (the best suggestion not yet read, in
    rank_order) and everyone after it, whatever the policy does to them: it can multiply
    their score by `ceiling` at most."""
    if last.on_topic != following.on_topic:
        return last.on_topic
    return last.score > following.score * ceiling


# A similar question must be close in meaning (cosine of the embeddings), not merely share
# words such as "how" with the draft: at least Settings.similar_min_cosine, and at least
# this share of the closest one's, so that the loosely related are not shown beside a
# near-duplicate.
SIMILAR_SHARE_OF_BEST = 0.6


@dataclass
class Draft:
    """What routing reads of a question: its words and tags, never who the asker is above."""

    title: str
    body: str = ""
    tags: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return question_text(self.title, self.body, self.tags)


# People one person may invite by name to one question: a personal ask, not a broadcast.
MAX_INVITATIONS = 3


def _require_open(question: Question) -> None:
    """Nobody is asked by name to answer a question that is answered or closed."""
    if question.status != "open":
        raise Conflict(f"this question is already {question.status}",
                       [{"field": "status", "message": question.status}])


class RoutingService:
    """Finds the colleagues most likely to answer, and relays questions to them."""

    def __init__(self, settings: Settings, profiles: ProfileStore, questions: QuestionStore,
                 directory: ProfileService, index: SearchIndex, embedder: Embedder, clock: Clock,
                 notifier=None, weights: matching.Weights | None = None,
                 communities=None):
        self.settings = settings
        self.profiles = profiles
        self.questions = questions
        self.directory = directory
        self.index = index
        self.embedder = embedder
        self.clock = clock
        self.notifier = notifier
        self.weights = weights or matching.Weights(
            half_life_days=settings.recency_half_life_days,
            close_in_meaning=settings.similar_min_cosine)
        # CommunityService (or None): members preferred, community managers escalated to.
        self.communities = communities

    def with_settings(self, settings: Settings) -> "RoutingService":
        """The same routing (stores, index, weights) under other settings, that notifies
        nobody: what a replay of another policy ranks with."""
        return RoutingService(settings, self.profiles, self.questions, self.directory,
                              self.index, self.embedder, self.clock, notifier=None,
                              weights=self.weights, communities=self.communities)

    # Ranking -----------------------------------------------------------------------------
    def excluded_for(self, asker_id: str | None) -> set[str]:
        """The asker and, by default, their management chain up to the configured depth."""
        if not asker_id:
            return set()
        return {asker_id, *self.directory.management_chain(
            asker_id, self.settings.management_chain_depth)}

    def retrieve(self, draft: Draft, exclude: set[str], vector=None):
        """The two candidate lists of evidence documents."""
        if vector is None:
            vector = self.embedder.embed([draft.text])[0]
        # Answers share their question's vector: ask for enough documents to cover
        # `knn_questions` distinct questions.
        return self.index.retrieve(draft.text, vector, self.weights.bm25_docs,
                                   exclude_people=exclude, tags=draft.tags,
                                   k_knn=3 * self.weights.knn_questions)

    def rank(self, draft: Draft, asker_id: str | None, *, limit: int,
             also_exclude: set[str] = frozenset(),
             prefer: frozenset[str] = frozenset()) -> list[matching.Suggestion]:
        """The best people for `draft`; those in `prefer` (the members of the community it
        was asked in) have their score multiplied by `community_boost`, so a much better
        expert outside still comes first."""
        exclude = self.excluded_for(asker_id) | set(also_exclude)
        now = self.clock.now()
        vector = self.embedder.embed([draft.text])[0]
        bm25, knn = self.retrieve(draft, exclude, vector)
        whole = self.index.people(draft.text, vector, self.weights.people,
                                  exclude_people=exclude, tags=draft.tags)
        expertise = self.index.tag_expertise(draft.tags, now, CANDIDATE_PEOPLE, exclude)
        seen = ({h.doc.person_id for h in bm25 + knn} | set(expertise.people)
                | set(whole.profile) | set(whole.topics))
        activity = self.index.activity(seen, now, CANDIDATE_PEOPLE, exclude)
        suggestions = matching.score_people(bm25, knn, expertise, activity, now=now,
                                            whole=whole,
                                            query_tags=draft.tags, query_text=draft.text,
                                            weights=self.weights)
        policy = matching.Policy(excluded=frozenset(exclude), tags=frozenset(draft.tags),
                                 open_relay_damping=self.settings.open_relay_damping,
                                 max_open_relays=self.settings.max_open_relays)
        boost = self.settings.community_boost if prefer else 1.0
        # The policy needs each person's profile and load. Reading them for every candidate
        # took a sixth of a query at 100k people, so the best are read first, and more only
        # while someone not yet read could still be among the first `limit`: damping only
        # lowers a score, the community boost raises it at most `ceiling` times.
        ceiling = max(1.0, boost)
        kept: list[matching.Suggestion] = []
        read, size = 0, max(4 * limit, 50)
        while read < len(suggestions):
            window = suggestions[read:read + size]
            read += len(window)
            kept += self._apply_policy(window, policy, prefer, boost)
            kept.sort(key=matching.rank_order)
            if (len(kept) >= limit and read < len(suggestions)
                    and _settled(kept[limit - 1], suggestions[read], ceiling)):
                break
            size *= 2
        return kept[:limit]

    def _apply_policy(self, suggestions: list[matching.Suggestion], policy: matching.Policy,
                      prefer: frozenset[str], boost: float) -> list[matching.Suggestion]:
        """The routing policy on `suggestions` (their people's profiles and loads read),
        then the community boost for the people in `prefer`."""
        candidates = self._candidates(self.profiles.get_many(s.person_id for s in suggestions))
        kept = matching.apply_policy(suggestions, candidates, policy)
        if boost != 1.0:
            for suggestion in kept:
                if suggestion.person_id in prefer:
                    suggestion.score *= boost
        return kept

    def _candidates(self, people: dict[str, Profile]) -> dict[str, matching.Candidate]:
        """What the routing policy knows of `people` today (those in the directory), their
        open relays counted."""
        loads = self.questions.open_relay_counts(people)
        today = self.clock.now().date().isoformat()
        return {p.id: matching.Candidate(
                    person_id=p.id, routing_opt_out=p.routing_opt_out, away=p.away_on(today),
                    away_until=p.away_until, open_relays=loads.get(p.id, 0),
                    muted_tags=frozenset(p.muted_tags))
                for p in people.values() if p.active and not p.deleted}

    def suggest_experts(self, draft: Draft, asker_id: str, limit: int = 5) -> list[dict]:
        """Experts for a draft: nothing is stored. Each comes with why."""
        suggestions = self.rank(draft, asker_id, limit=limit)
        people = self.profiles.get_many(s.person_id for s in suggestions)
        titles = self._question_titles(suggestions)
        return [self._suggestion_view(s, people[s.person_id], titles) for s in suggestions]

    def similar_questions(self, draft: Draft, caller_id: str, limit: int = 5) -> list[dict]:
        """Answered questions close to the draft in meaning (from answer evidence, grouped by
        question), the words they share with it counting in their order."""
        bm25, knn = self.retrieve(draft, set())
        closeness: dict[str, float] = {}
        for hit in knn:
            if hit.doc.kind == "answer" and hit.doc.question_id:
                closeness[hit.doc.question_id] = max(closeness.get(hit.doc.question_id, 0.0),
                                                     hit.score)
        floor = max(self.settings.similar_min_cosine,
                    SIMILAR_SHARE_OF_BEST * max(closeness.values(), default=0.0))
        best: dict[str, float] = {}
        for doc, score in matching.fuse_documents(bm25, knn).values():
            if doc.kind == "answer" and closeness.get(doc.question_id, 0.0) >= floor:
                best[doc.question_id] = max(best.get(doc.question_id, 0.0), score)
        ranked = sorted(best, key=lambda q: -best[q])
        shown: list[dict] = []
        batch = 4 * limit  # read a few more than shown: some may have lost their answers
        for start in range(0, len(ranked), batch):
            found = self.questions.get_questions(ranked[start:start + batch])
            for question_id in ranked[start:start + batch]:
                question = found.get(question_id)
                if question is None or question.answer_count == 0:
                    continue
                shown.append({"id": question.id, "title": question.title,
                              "status": question.status, "answer_count": question.answer_count,
                              "tags": question.tags,
                              "accepted": question.accepted_answer_id is not None,
                              "score": round(best[question_id], 4)})
                if len(shown) >= limit:
                    return shown
        return shown

    def _question_titles(self, suggestions) -> dict[str, str]:
        ids = {e.question_id for s in suggestions for e in s.evidence if e.question_id}
        return {q.id: q.title for q in self.questions.get_questions(ids).values()}

    @staticmethod
    def _suggestion_view(suggestion: matching.Suggestion, person: Profile,
                         titles: dict[str, str]) -> dict:
        reasons = matching.explain(suggestion)
        for reason in reasons:
            if reason["question_id"]:
                reason["question_title"] = titles.get(reason["question_id"], "")
                reason["text"] = ""  # the question title says it; the answer is one click away
        return {"person": {"id": person.id, "name": person.name, "department": person.department,
                           "site": person.site, "languages": person.languages,
                           "skills": person.skills},
                "score": round(suggestion.score, 5), "damped_by_load": suggestion.damped_by_load,
                "on_topic": suggestion.on_topic,
                "explanation": reasons}

    # Relaying ----------------------------------------------------------------------------
    def rank_question(self, question: Question, count: int,
                      also_exclude: set[str] = frozenset()) -> list[matching.Suggestion]:
        """The best `count` people for a stored question: its words and tags, its asker's
        exclusions, the members of its community preferred."""
        draft = Draft(question.title, question.body, tuple(question.tags))
        prefer = self.communities.preferred_for(question) if self.communities else frozenset()
        return self.rank(draft, question.asker_id, limit=count, also_exclude=also_exclude,
                         prefer=prefer)

    def relay_choice(self, question: Question, count: int,
                     also_exclude: set[str] = frozenset()) -> list[matching.Suggestion]:
        """Who `question` goes to next: the best `count` people, those on its topic among
        them, or, when none is, the ones suggested for being active lately."""
        suggestions = self.rank_question(question, count, also_exclude=also_exclude)
        # People suggested only for being active come after everyone on the topic
        # (rank_order). They get the question when nobody on its topic is left, rather than
        # fill the places that people on the topic did not take.
        on_topic = [s for s in suggestions if s.on_topic]
        return on_topic or suggestions

    def route(self, question: Question, count: int | None = None, *,
              reason: str = "match") -> list[Relay]:
        """Relay `question` to the next people `relay_choice` picks among those it was not
        yet relayed to (`count` at most)."""
        count = self.settings.relay_count if count is None else count
        already = {r.expert_id for r in self.questions.relays_for_question(question.id)}
        suggestions = self.relay_choice(question, count, also_exclude=already)
        return [self._relay(question, s.person_id, reason, rank=len(already) + i + 1,
                            score=s.score, explanation=matching.explain(s))
                for i, s in enumerate(suggestions)]

    def _relay(self, question: Question, expert_id: str, reason: str, *, rank: int = 0,
               score: float = 0.0, explanation: list | None = None,
               invited_by: str | None = None, note: str = "") -> Relay:
        now = self.clock.now()
        relay = self.questions.put_relay(Relay(
            question_id=question.id, expert_id=expert_id, reason=reason, rank=rank,
            score=round(score, 6), explanation=explanation or [], invited_by=invited_by,
            note=note,
            due_at=iso(self.settings.calendar.add_working_hours(
                now, self.settings.answer_deadline_hours)),
            created_at=iso(now), updated_at=iso(now)))
        if self.notifier is not None:
            self.notifier.relayed(question, relay)
        return relay

    def _my_open_relay(self, caller: Caller, question_id: str) -> Relay:
        relay = self.questions.get_relay(question_id, caller.id)
        if relay is None:
            raise NotFound("this question was not relayed to you")
        if relay.state not in OPEN_RELAY_STATES:
            raise Conflict(f"this relay is already {relay.state}",
                           [{"field": "state", "message": relay.state}])
        return relay

    def decline(self, caller: Caller, question_id: str) -> Relay:
        """The expert passes: the question goes to the next best person."""
        stored = self._decline(self._my_open_relay(caller, question_id))
        self._reroute(question_id)
        return stored

    def snooze(self, caller: Caller, question_id: str, hours: float) -> Relay:
        """Not now: the relay waits, and the next best person gets the question meanwhile."""
        relay = self._my_open_relay(caller, question_id)
        until = self.clock.now() + timedelta(hours=hours)
        stored = self.questions.put_relay(relay.replace(
            state="snoozed", snoozed_until=iso(until), due_at=iso(until),
            updated_at=iso(self.clock.now())))
        self._reroute(question_id)
        return stored

    def invite(self, caller: Caller, question: Question, person_id: str, note: str = "") -> Relay:
        """Ask a colleague by name to answer an open question: anyone may (the asker often
        knows who knows). It is a relay like the others (mailed, in their "For me", declined
        or snoozed the same way), to at most MAX_INVITATIONS people per inviter and
        question, and never to someone who could not be relayed it."""
        _require_open(question)
        relays = self.questions.relays_for_question(question.id)
        if sum(r.invited_by == caller.id and r.reason == "invited" for r in relays) >= \
                MAX_INVITATIONS:
            raise Conflict(f"you already invited {MAX_INVITATIONS} people to this question",
                           [{"field": "person_id", "message": "no more invitations"}])
        self._check_invitee(question, relays, caller, person_id)
        return self._relay(question, person_id, "invited", invited_by=caller.id, note=note)

    def hand_off(self, caller: Caller, question: Question, person_id: str,
                 note: str = "") -> Relay:
        """Pass a question relayed to me to a colleague who knows more: my relay is declined
        and the question goes to them, in place of the next best match (a person who knows
        who knows beats the ranking). Nothing changes unless they can take it."""
        relay = self._my_open_relay(caller, question.id)
        _require_open(question)
        self._check_invitee(question, self.questions.relays_for_question(question.id), caller,
                            person_id)
        stored = self._decline(relay)
        self._relay(question, person_id, "handoff", invited_by=caller.id, note=note)
        return stored

    def _check_invitee(self, question: Question, relays: list[Relay], caller: Caller,
                       person_id: str) -> None:
        """Refuses, with the reason, a colleague who cannot be asked this question by name:
        the routing policy's rules hold for people chosen by hand (matching.unavailable), so
        that an invitation never overrides a choice they made about their own time."""
        def refused(message: str) -> Conflict:
            return Conflict(f"person_id: {message}", [{"field": "person_id", "message": message}])

        if person_id == caller.id:
            raise field_error("person_id", "you cannot invite yourself")
        if person_id == question.asker_id:
            raise field_error("person_id", "they asked this question")
        candidate = self._candidates(self.profiles.get_many([person_id])).get(person_id)
        if candidate is None:
            raise NotFound(f"no colleague {person_id!r} in the directory",
                           [{"field": "person_id", "message": "not in the directory"}])
        if any(r.expert_id == person_id for r in relays):
            raise refused("this question was already relayed to them")
        reason = matching.unavailable(candidate, matching.Policy(
            tags=frozenset(question.tags), max_open_relays=self.settings.max_open_relays))
        if reason:
            raise refused(reason)

    def mark_away(self, person_id: str, until: str | None) -> list[Relay]:
        """The person is away (an out-of-office reply): their open relays go to others."""
        moved = []
        for relay in self.questions.relays_for_expert(person_id, OPEN_RELAY_STATES):
            moved.append(self._decline(relay))
            self._reroute(relay.question_id)
        return moved

    def _decline(self, relay: Relay) -> Relay:
        return self.questions.put_relay(relay.replace(state="declined",
                                                      updated_at=iso(self.clock.now())))

    def _reroute(self, question_id: str) -> None:
        question = self.questions.get_question(question_id)
        if question is not None and question.status == "open":
            self.route(question, 1, reason="reroute")

    def answered(self, question: Question, answer) -> None:
        """An answer arrived: the author's relay (if any) is answered."""
        relay = self.questions.get_relay(question.id, answer.author_id)
        if relay is not None and relay.state != "answered":
            self.questions.put_relay(relay.replace(state="answered",
                                                   updated_at=iso(self.clock.now())))

    def relays_for(self, caller: Caller, states=None, *, limit: int,
                   cursor: str | None = None) -> Page:
        """The relays sent to the caller, newest first, one page at a time."""
        return self.questions.list_relays(caller.id, states=states, limit=limit, cursor=cursor)

    def relays_of_question(self, caller: Caller, question: Question) -> list[Relay]:
        """Who a question was relayed to: for its asker (and admins) only."""
        if question.asker_id != caller.id and not caller.is_admin:
            raise Forbidden("only the asker sees who a question was relayed to")
        return self.questions.relays_for_question(question.id)

    def escalate_due(self) -> dict:
        """Relays past their deadline expire. A question still unanswered then goes to more
        peers; when peers relayed by escalation also missed it, to its community's managers
        (if asked in a community), and only then to the asker's manager (never for an
        anonymous question: that would reveal who asked)."""
        now = iso(self.clock.now())
        counts = {"expired": 0, "peers": 0, "community_managers": 0, "managers": 0}
        touched: dict[str, Question] = {}
        for relay in self.questions.relays_due(now):
            self.questions.put_relay(relay.replace(state="expired", updated_at=now))
            counts["expired"] += 1
            question = self.questions.get_question(relay.question_id)
            if question is not None and question.status == "open":
                touched[question.id] = question
        for question in touched.values():
            relays = self.questions.relays_for_question(question.id)
            if any(r.state in OPEN_RELAY_STATES for r in relays):
                continue
            if not any(r.reason == "escalation_peer" for r in relays):
                counts["peers"] += len(self.route(question, self.settings.escalation_peer_count,
                                                  reason="escalation_peer"))
            elif (not any(r.reason == "community_manager" for r in relays)
                  and (stewards := self._community_managers(question, relays))):
                for steward in stewards:
                    self._relay(question, steward, "community_manager")
                counts["community_managers"] += len(stewards)
            elif (self.settings.escalate_to_managers and not question.anonymous
                  and not any(r.reason == "escalation_manager" for r in relays)):
                chain = self.directory.management_chain(question.asker_id, 1)
                if chain:
                    self._relay(question, chain[0], "escalation_manager")
                    counts["managers"] += 1
        return counts

    def _community_managers(self, question: Question, relays: list[Relay]) -> list[str]:
        """The managers (else the leads) of the question's community who can take it: active,
        not away, not the asker, not already relayed."""
        if self.communities is None or not question.community_id:
            return []
        already = {r.expert_id for r in relays} | {question.asker_id}
        today = self.clock.now().date().isoformat()
        for tier in self.communities.escalation_contacts(question.community_id):
            people = self.profiles.get_many(tier)
            eligible = [p for p in dict.fromkeys(tier) if p not in already and p in people
                        and people[p].active and not people[p].deleted
                        and not people[p].away_on(today)]
            if eligible:
                return eligible
        return []
