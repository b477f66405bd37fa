"""Communities and recognition.

Communities are open topic groups: anyone joins or leaves; admins assign community managers
and lead community managers (a lead coaches the managers of several communities and may
assign them). Relay members are recognised from outcomes in a community over a window,
never from title or grade: nothing in this module reads the hierarchy.
"""
from __future__ import annotations

import secrets
from collections import Counter
from datetime import datetime, timedelta

from ..auth import Caller
from ..clock import iso
from ..config import Settings
from ..domain import Community, CommunityRole, Membership, Profile, Question, Thanks
from ..errors import Conflict, Forbidden, NotFound, ValidationError, field_error
from ..ports import CommunityStore, Mailer, Page, ProfileStore, QuestionStore
from ..schemas import CommunityIn, CommunityPatch
from .audit import AuditService
from .modules import ModuleService
from .notify import send_or_log

MAX_RETRIES = 5


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(8)


def parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def person_card(profile: Profile | None, person_id: str) -> dict:
    """How a person appears in community listings: who and where to meet them, no rank."""
    if profile is None or profile.deleted:
        return {"id": None, "name": "former colleague"}
    return {"id": profile.id, "name": profile.name, "site": profile.site,
            "languages": profile.languages, "active": profile.active}


class CommunityService:
    """Communities, membership and community roles; also what routing asks of them."""

    def __init__(self, settings: Settings, store: CommunityStore, profiles: ProfileStore,
                 questions: QuestionStore, clock, modules: ModuleService, audit: AuditService):
        self.settings = settings
        self.store = store
        self.profiles = profiles
        self.questions = questions
        self.clock = clock
        self.modules = modules
        self.audit = audit

    # Reading -----------------------------------------------------------------------------
    def get(self, community_id: str) -> Community:
        community = self.store.get_community(community_id)
        if community is None:
            raise NotFound(f"community {community_id!r} not found")
        return community

    def list(self, caller: Caller, *, mine: bool, limit: int, cursor: str | None) -> Page:
        ids = None
        if mine:
            ids = [m.community_id for m in self.store.memberships_of(caller.id)]
            ids += [r.community_id for r in self.store.roles_of(caller.id)]
        return self.store.list_communities(limit=limit, cursor=cursor, ids=ids)

    def views(self, communities: list[Community], caller: Caller) -> list[dict]:
        """Communities as a caller sees them: counts, managers, and the caller's own place."""
        counts = self.store.member_counts(c.id for c in communities)
        joined = {m.community_id for m in self.store.memberships_of(caller.id)}
        mine: dict[str, list[str]] = {}
        for role in self.store.roles_of(caller.id):
            mine.setdefault(role.community_id, []).append(role.role)
        roles = {c.id: self.store.roles_in(c.id) for c in communities}
        people = self.profiles.get_many(r.person_id for rs in roles.values() for r in rs)
        shown = []
        for community in communities:
            data = community.to_dict()
            data["member_count"] = counts.get(community.id, 0)
            for kind, key in (("manager", "managers"), ("lead", "leads")):
                data[key] = [person_card(people.get(r.person_id), r.person_id)
                             for r in roles[community.id] if r.role == kind]
            data["joined"] = community.id in joined
            data["my_roles"] = sorted(mine.get(community.id, []))
            shown.append(data)
        return shown

    def roles_held(self, caller: Caller, community_id: str) -> set[str]:
        return {r.role for r in self.store.roles_of(caller.id) if r.community_id == community_id}

    def is_steward(self, caller: Caller, community_id: str) -> bool:
        """Admins, and the managers and leads of this community."""
        return caller.is_admin or bool(self.roles_held(caller, community_id))

    def require_steward(self, caller: Caller, community_id: str) -> None:
        if not self.is_steward(caller, community_id):
            raise Forbidden("this needs a community manager of this community, its lead, "
                            "or an admin")

    def stewarded(self, caller: Caller) -> set[str]:
        """The communities a caller manages or leads."""
        return {r.community_id for r in self.store.roles_of(caller.id)}

    # Writing -----------------------------------------------------------------------------
    def create(self, caller: Caller, data: CommunityIn) -> Community:
        if not caller.is_admin:
            raise Forbidden("creating a community needs the admin role")
        now = iso(self.clock.now())
        community = self.store.add_community(Community(
            id=new_id("c"), name=data.name, description=data.description,
            tags=list(dict.fromkeys(data.tags)), skills=list(dict.fromkeys(data.skills)),
            languages=list(dict.fromkeys(data.languages)), created_at=now, updated_at=now))
        self.audit.record(caller, "community.created", community.id, {"name": community.name})
        return community

    def edit(self, caller: Caller, community_id: str, patch: CommunityPatch) -> Community:
        """Admins and the community's managers and leads describe it; with `version`, a stale
        read is a 409."""
        self.get(community_id)
        self.require_steward(caller, community_id)
        changes = patch.model_dump(exclude_unset=True)
        expected = changes.pop("version", None)
        if not changes:
            raise ValidationError("nothing to change", [{"field": "body", "message": "empty"}])
        for key in ("tags", "skills", "languages"):
            if key in changes:
                changes[key] = list(dict.fromkeys(changes[key]))
        for _ in range(MAX_RETRIES):
            current = self.get(community_id)
            if expected is not None and current.version != expected:
                raise Conflict(f"community {community_id!r} changed since version {expected}",
                               [{"field": "version", "message": f"current is {current.version}"}])
            try:
                stored = self.store.update_community(
                    current.replace(**changes, updated_at=iso(self.clock.now())))
            except Conflict as err:
                if expected is not None or any(d.get("field") == "name" for d in err.details):
                    raise
                continue
            self.audit.record(caller, "community.edited", community_id,
                              {"fields": sorted(changes)})
            return stored
        raise Conflict(f"community {community_id!r} is being changed by others; retry")

    def _active_person(self, person_id: str) -> Profile:
        person = self.profiles.get(person_id)
        if person is None or person.deleted:
            raise NotFound(f"profile {person_id!r} not found")
        if not person.active:
            raise field_error("person_id", "this person is not active")
        return person

    def join(self, caller: Caller, community_id: str) -> dict:
        """Anyone active in the directory joins; joining twice changes nothing."""
        self.get(community_id)
        me = self.profiles.get(caller.id)
        if me is None or me.deleted or not me.active:
            raise Forbidden("only active people in the directory can join a community")
        added = self.store.add_member(Membership(community_id, caller.id,
                                                 iso(self.clock.now())))
        return {"community_id": community_id, "joined": True, "changed": added}

    def leave(self, caller: Caller, community_id: str) -> dict:
        self.get(community_id)
        removed = self.store.remove_member(community_id, caller.id)
        return {"community_id": community_id, "joined": False, "changed": removed}

    def members(self, community_id: str, *, limit: int, cursor: str | None) -> Page:
        self.get(community_id)
        page = self.store.list_members(community_id, limit=limit, cursor=cursor)
        people = self.profiles.get_many(m.person_id for m in page.items)
        page.items = [{**person_card(people.get(m.person_id), m.person_id),
                       "joined_at": m.joined_at}
                      for m in page.items
                      if (p := people.get(m.person_id)) is not None and not p.deleted]
        return page

    def _may_assign(self, caller: Caller, community_id: str, role: str) -> None:
        # The cascade: admins assign leads and managers; a lead assigns the managers of the
        # communities they lead. Nobody's title or place in the hierarchy matters.
        if caller.is_admin:
            return
        if role == "manager" and "lead" in self.roles_held(caller, community_id):
            return
        raise Forbidden("only an admin assigns leads; managers are assigned by an admin or "
                        "the community's lead")

    def assign(self, caller: Caller, community_id: str, person_id: str, role: str) -> dict:
        self.get(community_id)
        self._may_assign(caller, community_id, role)
        self._active_person(person_id)
        added = self.store.set_role(CommunityRole(community_id, person_id, role, caller.id,
                                                  iso(self.clock.now())))
        if added:
            self.audit.record(caller, "community.role_assigned", community_id,
                              {"person_id": person_id, "role": role})
        return {"community_id": community_id, "person_id": person_id, "role": role,
                "changed": added}

    def withdraw(self, caller: Caller, community_id: str, person_id: str, role: str) -> dict:
        self.get(community_id)
        self._may_assign(caller, community_id, role)
        removed = self.store.remove_role(community_id, person_id, role)
        if not removed:
            raise NotFound(f"{person_id!r} is not {role} of this community")
        self.audit.record(caller, "community.role_withdrawn", community_id,
                          {"person_id": person_id, "role": role})
        return {"community_id": community_id, "person_id": person_id, "role": role,
                "changed": True}

    # Questions ---------------------------------------------------------------------------
    def ask(self, caller: Caller, data, questions) -> Question:
        """Ask through `questions` (a QuestionService); with `community_id`, the community
        must exist, and the question is tied to it before routing sees it."""
        community_id = getattr(data, "community_id", None)
        if not community_id:
            return questions.ask(caller, data)
        if not self.modules.is_on("communities"):
            raise field_error("community_id", "communities are switched off here")
        if self.store.get_community(community_id) is None:
            raise field_error("community_id", "no such community")
        question = questions.ask(caller, data, route=False)
        for _ in range(MAX_RETRIES):
            try:
                question = self.questions.update_question(
                    question.replace(community_id=community_id))
                break
            except Conflict:
                question = self.questions.get_question(question.id)
        self.store.add_question(community_id, question.id, question.created_at)
        questions.after_ask(question)
        return question

    # What routing asks -------------------------------------------------------------------
    def preferred_for(self, question: Question) -> frozenset[str]:
        """The members of the question's community (routing boosts them)."""
        if not question.community_id or not self.modules.is_on("communities"):
            return frozenset()
        return frozenset(self.store.member_ids(question.community_id))

    def escalation_contacts(self, community_id: str) -> list[list[str]]:
        """Who an overdue question of the community goes to, tier by tier: its managers, then
        its leads. Empty when communities are off."""
        if not community_id or not self.modules.is_on("communities"):
            return []
        roles = self.store.roles_in(community_id)
        return [[r.person_id for r in roles if r.role == kind] for kind in ("manager", "lead")]


class RecognitionService:
    """Relay members, from outcomes over a window, and thanks from community managers.

    Outcomes counted in the window, in the community's questions:
    - accepted answers: the person's answer was accepted;
    - re-routes: the person declined a relay and the question was then answered by someone
      it was re-routed to (the question reached the right person);
    - quick first answers: the person gave a question's first answer within
      `quick_answer_hours`.
    """

    def __init__(self, settings: Settings, communities: CommunityService,
                 questions: QuestionStore, profiles: ProfileStore, clock,
                 mailer: Mailer | None, audit: AuditService):
        self.settings = settings
        self.communities = communities
        self.questions = questions
        self.profiles = profiles
        self.clock = clock
        self.mailer = mailer
        self.audit = audit

    def outcomes(self, community_id: str) -> dict[str, Counter]:
        now = self.clock.now()
        since = now - timedelta(days=self.settings.relay_member_window_days)
        since_iso = iso(since)
        quick = timedelta(hours=self.settings.quick_answer_hours)
        counts: dict[str, Counter] = {}

        def count(person_id: str, kind: str) -> None:
            counts.setdefault(person_id, Counter())[kind] += 1

        # An outcome in the window changed its question in the window (an answer, an
        # acceptance; a re-route counts once the re-routed person answered), whenever the
        # question was asked: only those questions are read.
        questions = {q.id: q for q in
                     self.questions.community_questions_changed_since(community_id, since_iso)}
        answers_of = self.questions.answers_for_questions(questions)
        relays_of = self.questions.relays_for_questions(questions)
        for question_id, question in questions.items():
            answers = answers_of[question_id]
            for answer in answers:
                if answer.accepted and answer.created_at >= since_iso:
                    count(answer.author_id, "accepted_answers")
            if answers and answers[0].created_at >= since_iso:
                asked, first = parse_time(question.created_at), parse_time(answers[0].created_at)
                if asked and first and first - asked <= quick \
                        and answers[0].author_id != question.asker_id:
                    count(answers[0].author_id, "quick_first_answers")
            relays = relays_of[question_id]
            # A decline counts once someone the question went to next answered: the next
            # best match, or the colleague the decliner passed it to.
            rerouted_answers = [r for r in relays if r.reason in ("reroute", "handoff")
                                and r.state == "answered"]
            for relay in relays:
                if relay.state != "declined" or relay.updated_at < since_iso:
                    continue
                if any(r.expert_id != relay.expert_id and r.created_at >= relay.updated_at
                       for r in rerouted_answers):
                    count(relay.expert_id, "reroutes")
        return counts

    def relay_members(self, caller: Caller, community_id: str) -> dict:
        """The people who make the community live, most outcomes first (stewards only)."""
        community = self.communities.get(community_id)
        self.communities.require_steward(caller, community_id)
        counts = self.outcomes(community_id)
        people = self.profiles.get_many(counts)
        members = self.communities.store.member_ids(community_id)
        thanked = Counter(t.to_id for person in counts
                          for t in self.communities.store.thanks_to(person)
                          if t.community_id == community_id)
        items = []
        for person_id, outcome in counts.items():
            person = people.get(person_id)
            total = sum(outcome.values())
            if (person is None or person.deleted or not person.active
                    or total < self.settings.relay_member_min_outcomes):
                continue
            items.append({"person": person_card(person, person_id),
                          "outcomes": {k: outcome.get(k, 0) for k in
                                       ("accepted_answers", "reroutes", "quick_first_answers")},
                          "total": total, "member": person_id in members,
                          "thanked": thanked.get(person_id, 0)})
        items.sort(key=lambda item: (-item["total"], item["person"]["name"], item["person"]["id"]))
        return {"community": {"id": community.id, "name": community.name},
                "window_days": self.settings.relay_member_window_days,
                "min_outcomes": self.settings.relay_member_min_outcomes, "items": items}

    def thank(self, caller: Caller, community_id: str, person_id: str, message: str) -> Thanks:
        """A steward thanks a relay member: stored (shown on the profile) and mailed."""
        community = self.communities.get(community_id)
        self.communities.require_steward(caller, community_id)
        if person_id == caller.id:
            raise field_error("person_id", "you cannot thank yourself")
        listed = {item["person"]["id"] for item in
                  self.relay_members(caller, community_id)["items"]}
        if person_id not in listed:
            raise NotFound(f"{person_id!r} is not a relay member of this community")
        thanks = self.communities.store.add_thanks(Thanks(
            id=new_id("t"), community_id=community_id, from_id=caller.id, to_id=person_id,
            message=message, created_at=iso(self.clock.now())))
        person = self.profiles.get(person_id)
        if self.mailer is not None and person is not None and person.email:
            sender = self.profiles.get(caller.id)
            who = sender.name if sender is not None and not sender.deleted else "Relais"
            send_or_log(  # not taken, the thanks still show on their profile
                self.mailer, f"to {person_id}", to=person.email, kind="thanks",
                subject=f"[Relais] Thank you from the {community.name} community",
                text=(f"Hello {person.name},\n\n{who} thanks you for making the "
                      f"{community.name} community live:\n\n{message}\n"),
                headers={"Auto-Submitted": "auto-generated", "X-Relais-Kind": "thanks"})
        return thanks

    def thanks_for(self, person_id: str) -> list[dict]:
        """The thanks shown on a person's profile."""
        person = self.profiles.get(person_id)
        if person is None or person.deleted:
            raise NotFound(f"profile {person_id!r} not found")
        received = self.communities.store.thanks_to(person_id)
        senders = self.profiles.get_many(t.from_id for t in received)
        names = {}
        for thanks in received:
            if thanks.community_id not in names:
                found = self.communities.store.get_community(thanks.community_id)
                names[thanks.community_id] = found.name if found else ""
        return [{"id": t.id, "community": {"id": t.community_id, "name": names[t.community_id]},
                 "from": person_card(senders.get(t.from_id), t.from_id),
                 "message": t.message, "created_at": t.created_at} for t in received]
