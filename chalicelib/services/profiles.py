"""The expertise directory: read, search and edit profiles."""
from __future__ import annotations

import random
import time
from typing import Callable

from ..auth import Caller
from ..clock import iso
from ..domain import HR_FIELDS, SELF_FIELDS, Profile
from ..errors import Conflict, Forbidden, NotFound, ValidationError
from ..ports import Clock, Page, ProfileStore
from ..schemas import ProfilePatch

# Compare-and-set retries: enough for a handful of writers racing on one record.
MAX_RETRIES = 10
MAX_CHAIN = 1000  # deeper than any real organisation; bounds the cycle check


def pause_before_retry(attempt: int) -> None:
    """A short random wait after losing a compare-and-set, so racing writers spread out."""
    time.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** attempt)))


class ProfileService:
    """Directory reads and profile edits, enforcing who may change which field."""

    def __init__(self, store: ProfileStore, clock: Clock,
                 on_change: Callable[[Profile], None] = lambda profile: None):
        self.store = store
        self.clock = clock
        self.on_change = on_change  # the indexer hook: runs after each write

    def get(self, profile_id: str, *, include_deleted: bool = False) -> Profile:
        profile = self.store.get(profile_id)
        if profile is None or (profile.deleted and not include_deleted):
            raise NotFound(f"profile {profile_id!r} not found")
        return profile

    def search(self, *, text: str, skill: str, limit: int, cursor: str | None) -> Page:
        if not text.strip() and not skill.strip():
            return self.store.list(limit=limit, cursor=cursor)
        return self.store.search(text=text, skill=skill, limit=limit, cursor=cursor)

    def edit(self, caller: Caller, profile_id: str, patch: ProfilePatch) -> Profile:
        """Apply a partial edit. A person edits their own self-service fields; HR fields need
        the hr or admin role. With `version`, a stale read is a 409; without it, the change is
        applied to the latest version (compare-and-set with retries, so no write is lost)."""
        changes = patch.model_dump(exclude_unset=True)
        expected = changes.pop("version", None)
        if not changes:
            raise ValidationError("nothing to change", [{"field": "body", "message": "empty"}])
        hr_changes = sorted(set(changes) & set(HR_FIELDS))
        self_changes = sorted(set(changes) & set(SELF_FIELDS))
        if hr_changes and not caller.is_hr:
            raise Forbidden(f"only HR can change {', '.join(hr_changes)}",
                            [{"field": f, "message": "HR field"} for f in hr_changes])
        if self_changes and caller.id != profile_id and not caller.is_admin:
            raise Forbidden("only the person (or an admin) can change their own profile",
                            [{"field": f, "message": "not your profile"} for f in self_changes])
        if "away_until" in changes and changes["away_until"] is not None:
            changes["away_until"] = changes["away_until"].isoformat()
        if changes.get("manager_id") == profile_id:
            raise ValidationError("a person cannot be their own manager",
                                  [{"field": "manager_id", "message": "is the person"}])
        if changes.get("manager_id"):
            if self.store.get(changes["manager_id"]) is None:
                raise ValidationError("manager_id: no such profile",
                                      [{"field": "manager_id", "message": "no such profile"}])
            if profile_id in self.management_chain(changes["manager_id"], MAX_CHAIN):
                raise ValidationError("this manager would make a management cycle",
                                      [{"field": "manager_id", "message": "makes a cycle"}])
        for attempt in range(MAX_RETRIES):
            current = self.get(profile_id)
            if expected is not None and current.version != expected:
                raise Conflict(f"profile {profile_id!r} changed since version {expected}",
                               [{"field": "version", "message": f"current is {current.version}"}])
            updated = current.replace(**changes, updated_at=iso(self.clock.now()))
            try:
                stored = self.store.update(updated)
            except Conflict:
                if expected is not None:
                    raise
                pause_before_retry(attempt)
                continue
            self.on_change(stored)
            return stored
        raise Conflict(f"profile {profile_id!r} is being changed by others; retry")

    def management_chain(self, profile_id: str, depth: int) -> list[str]:
        """The person's managers, nearest first, up to `depth` levels (cycles stop the walk)."""
        chain: list[str] = []
        current = self.store.get(profile_id)
        while current and current.manager_id and len(chain) < depth:
            if current.manager_id in chain or current.manager_id == profile_id:
                break
            chain.append(current.manager_id)
            current = self.store.get(current.manager_id)
        return chain
