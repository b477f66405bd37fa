"""Privacy: every person can export all their data and ask for its deletion.

Deletion erases the profile's personal fields and marks it deleted; what the person wrote
stays (answers help others), attributed to "former colleague". Their questions stay too, and
an anonymous one stays anonymous.
"""
from __future__ import annotations

import json
import secrets
from typing import Callable

from ..auth import Caller
from ..clock import iso
from ..domain import Profile
from ..errors import Conflict, NotFound
from ..ports import CommunityStore, DownloadStore, ProfileStore, QuestionStore, VoteReader
from .audit import AuditService

EXPORT_FORMAT = "relais-export-v1"
EXPORT_FILENAME = "relais-my-data.json"
# Larger exports go through a DownloadStore where there is one: Lambda refuses a response
# over 6 MB, and the JSON document grows on its way there (escaped again into the envelope).
INLINE_EXPORT_BYTES = 4_000_000
MAX_RETRIES = 5


def erased(profile: Profile, now: str) -> Profile:
    """The profile with every personal field emptied, kept only so ids still resolve."""
    return Profile(id=profile.id, name="", deleted=True, active=False, routing_opt_out=True,
                   version=profile.version, created_at=profile.created_at, updated_at=now)


class PrivacyService:
    """Data export and deletion for the person calling."""

    def __init__(self, profiles: ProfileStore, questions: QuestionStore,
                 communities: CommunityStore, votes: VoteReader, clock, audit: AuditService,
                 *, on_change: Callable[[Profile], None] = lambda profile: None,
                 release_relays: Callable[[str], object] = lambda person_id: None,
                 downloads: DownloadStore | None = None,
                 inline_export_bytes: int = INLINE_EXPORT_BYTES):
        self.profiles = profiles
        self.questions = questions
        self.communities = communities
        self.votes = votes
        self.clock = clock
        self.audit = audit
        self.on_change = on_change  # the indexer hook: a deleted person's evidence goes
        self.release_relays = release_relays  # open relays go to someone else
        self.downloads = downloads
        self.inline_export_bytes = inline_export_bytes

    def _me(self, caller: Caller) -> Profile:
        profile = self.profiles.get(caller.id)
        if profile is None or profile.deleted:
            raise NotFound("there is no profile of yours (or it was deleted)")
        return profile

    def _questions_of(self, person_id: str) -> list:
        asked, cursor = [], None
        while True:
            page = self.questions.list_questions(limit=100, cursor=cursor, asker_id=person_id)
            asked += page.items
            cursor = page.next_cursor
            if cursor is None:
                return asked

    def export(self, caller: Caller) -> dict:
        """Everything Relais holds about the caller, as one JSON document."""
        profile = self._me(caller)
        data = profile.to_dict()
        data.pop("deleted")
        names = {}

        def community_name(community_id: str) -> str:
            if community_id not in names:
                found = self.communities.get_community(community_id)
                names[community_id] = found.name if found else ""
            return names[community_id]

        return {
            "format": EXPORT_FORMAT,
            "exported_at": iso(self.clock.now()),
            "profile": data,
            # Anonymous questions included: they are the caller's own.
            "questions": [q.to_dict() for q in self._questions_of(profile.id)],
            "answers": [a.to_dict() for a in self.questions.answers_by(profile.id)],
            "votes": self.votes.votes_by(profile.id),
            "relays": [r.to_dict() for r in self.questions.relays_for_expert(profile.id)],
            "communities": [{**m.to_dict(), "name": community_name(m.community_id)}
                            for m in self.communities.memberships_of(profile.id)],
            "community_roles": [{**r.to_dict(), "name": community_name(r.community_id)}
                                for r in self.communities.roles_of(profile.id)],
            "thanks_received": [t.to_dict() for t in self.communities.thanks_to(profile.id)],
            "thanks_given": [t.to_dict() for t in self.communities.thanks_from(profile.id)],
        }

    def export_or_link(self, caller: Caller) -> dict:
        """The export as the API gives it: the document itself, or, when it is too large
        for a response and there is a DownloadStore, a link to download it from."""
        data = self.export(caller)
        if self.downloads is None:
            return data
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        if len(body) <= self.inline_export_bytes:
            return data
        # A name nobody can guess: the bucket is private, but the name outlives the link.
        kept = self.downloads.keep(f"{secrets.token_urlsafe(24)}.json", body,
                                   content_type="application/json", filename=EXPORT_FILENAME)
        return {"format": EXPORT_FORMAT, "exported_at": data["exported_at"],
                "download": {"url": kept.url, "expires_at": kept.expires_at,
                             "bytes": kept.size, "filename": EXPORT_FILENAME}}

    def delete(self, caller: Caller) -> dict:
        """Erase the caller's personal fields and mark them deleted; answers stay, shown as a
        former colleague's; memberships, roles and thanks received go; open relays move on."""
        for _ in range(MAX_RETRIES):
            current = self._me(caller)
            try:
                stored = self.profiles.update(erased(current, iso(self.clock.now())))
                break
            except Conflict:
                continue
        else:
            raise Conflict("your profile is being changed by others; retry")
        self.on_change(stored)
        released = self.release_relays(stored.id)
        forgotten = self.communities.forget_person(stored.id)
        answers = len(self.questions.answers_by(stored.id))
        # The entry says who was deleted and what went, never which questions they asked.
        self.audit.record(caller, "privacy.deleted", stored.id,
                          {**forgotten, "answers_kept": answers,
                           "relays_released": len(released or [])})
        return {"id": stored.id, "deleted": True, "answers_kept": answers}
