"""How records are shown to a caller. The one place that hides an anonymous asker."""
from __future__ import annotations

from .auth import Caller
from .domain import Answer, Profile, Question, Relay

FORMER_COLLEAGUE = "former colleague"


def profile_view(profile: Profile, caller: Caller | None = None) -> dict:
    """A directory card: public fields, HR fields shown read-only, and the version to send back."""
    data = profile.to_dict()
    data.pop("deleted")
    if caller is None or (caller.id != profile.id and not caller.is_hr):
        data.pop("external_id")
    return data


def author_view(profile: Profile | None, person_id: str) -> dict:
    if profile is None or profile.deleted:
        return {"id": None, "name": FORMER_COLLEAGUE}
    return {"id": profile.id, "name": profile.name, "active": profile.active}


def question_view(question: Question, caller: Caller, people: dict[str, Profile]) -> dict:
    """The question as `caller` may see it: an anonymous asker is shown only to themselves."""
    data = question.to_dict()
    asker_id = data.pop("asker_id")
    mine = asker_id == caller.id
    data["asked_by_me"] = mine
    if question.anonymous and not mine:
        data["asker"] = None
    else:
        data["asker"] = author_view(people.get(asker_id), asker_id)
    return data


def answer_view(answer: Answer, caller: Caller, people: dict[str, Profile]) -> dict:
    data = answer.to_dict()
    data.pop("deleted")
    data["author"] = author_view(people.get(answer.author_id), answer.author_id)
    data["author_id"] = data["author"]["id"]
    data["mine"] = answer.author_id == caller.id
    return data


def named_inviter(relay: Relay, question: Question | None) -> str | None:
    """Who invited the relay's person or passed them the question, when they may be named:
    never the asker of an anonymous question, not even to the asker's own invitee (nor
    anyone, for a question not found)."""
    inviter = relay.invited_by
    if inviter is None or question is None or (question.anonymous
                                               and inviter == question.asker_id):
        return None
    return inviter


def relay_view(relay: Relay, people: dict[str, Profile], question: Question | None) -> dict:
    """A relay, with who it went to and who invited them or passed it on (named_inviter)."""
    data = relay.to_dict()
    data["expert"] = author_view(people.get(relay.expert_id), relay.expert_id)
    inviter = named_inviter(relay, question)
    data["invited_by"] = (None if relay.invited_by is None else
                          author_view(people.get(inviter), inviter) if inviter
                          else {"id": None, "name": None})
    return data
