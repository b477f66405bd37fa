"""HR sync: idempotent bulk upsert of profiles, with a report per item."""
from __future__ import annotations

from typing import Callable

from ..clock import iso
from ..domain import Profile
from ..errors import Conflict, PayloadTooLarge, ValidationError
from ..ports import Clock, ProfileStore
from ..schemas import HrProfile, parse

# Fields the HR feed owns; whatever the person edited themselves (bio, skills...) is kept.
SYNCED_FIELDS = ("name", "email", "user_name", "employee_number", "title", "grade", "department",
                 "manager_id", "site", "languages", "active")


class HrSyncService:
    """Applies an HR system's view of people. The same payload twice changes nothing."""

    def __init__(self, store: ProfileStore, clock: Clock, max_items: int = 1000,
                 on_change: Callable[[Profile], None] = lambda profile: None):
        self.store = store
        self.clock = clock
        self.max_items = max_items
        self.on_change = on_change

    def upsert(self, items: list) -> dict:
        """Upsert up to `max_items` profiles. Each item is reported as created, updated,
        unchanged or error (with the field). A manager may appear later in the same batch.
        On an existing profile, fields the item leaves out are left as they are, except
        `active`, which defaults to true (listing a person again brings a leaver back)."""
        if not isinstance(items, list):
            raise ValidationError("profiles must be a list",
                                  [{"field": "profiles", "message": "must be a list"}])
        if len(items) > self.max_items:
            raise PayloadTooLarge(f"at most {self.max_items} profiles per request",
                                  [{"field": "profiles", "message": f"{len(items)} items"}])
        report: list[dict] = [{} for _ in items]
        parsed: dict[int, HrProfile] = {}
        seen: dict[str, int] = {}
        for index, raw in enumerate(items):
            try:
                item = parse(HrProfile, raw, prefix=f"profiles[{index}].")
            except ValidationError as err:
                report[index] = self._error(raw, err.details)
                continue
            if item.id in seen:
                report[index] = self._error(raw, [{"field": f"profiles[{index}].id",
                                                   "message": f"repeats item {seen[item.id]}"}])
                continue
            seen[item.id] = index
            parsed[index] = item
        batch_ids = {item.id for item in parsed.values()}
        existing = self.store.get_many(batch_ids | {i.manager_id for i in parsed.values()
                                                    if i.manager_id})
        for index, item in parsed.items():
            problem = self._manager_problem(item, batch_ids, existing, parsed)
            if problem:
                report[index] = self._error(items[index], [{"field": f"profiles[{index}].manager_id",
                                                            "message": problem}])
                continue
            try:
                report[index] = {"id": item.id, "status": self._apply(item, existing.get(item.id))}
            except (Conflict, ValidationError) as err:
                report[index] = self._error(items[index], [
                    {**d, "field": f"profiles[{index}].{d['field']}"} if d.get("field") else d
                    for d in err.details] or [{"field": f"profiles[{index}]",
                                               "message": err.message}])
        counts = {s: sum(1 for r in report if r["status"] == s)
                  for s in ("created", "updated", "unchanged", "error")}
        return {"counts": counts, "items": report}

    @staticmethod
    def _error(raw, details: list[dict]) -> dict:
        ident = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
        return {"id": ident, "status": "error", "errors": details}

    def _manager_problem(self, item: HrProfile, batch_ids, existing, parsed) -> str | None:
        if not item.manager_id:
            return None
        if item.manager_id == item.id:
            return "a person cannot be their own manager"
        if item.manager_id not in batch_ids and item.manager_id not in existing:
            return f"no profile {item.manager_id!r} here or in this batch"
        # Walk the chain as it will be after this batch, to refuse cycles.
        batch_managers = {i.id: i.manager_id for i in parsed.values()
                          if "manager_id" in i.model_fields_set or i.id not in existing}

        def manager_of(person_id: str) -> str | None:
            if person_id in batch_managers:
                return batch_managers[person_id]
            if person_id not in existing:
                found = self.store.get(person_id)
                if found is None:
                    return None
                existing[person_id] = found
            return existing[person_id].manager_id

        seen, current = {item.id}, item.manager_id
        while current:
            if current in seen:
                return "this manager would make a management cycle"
            seen.add(current)
            current = manager_of(current)
        return None

    def _apply(self, item: HrProfile, current: Profile | None) -> str:
        # A field the item leaves out keeps its stored value (say a site the person set),
        # except `active`: a person listed by HR is active unless the item says otherwise.
        values = item.model_dump(exclude_unset=current is not None)
        values["active"] = item.active
        skills = values.pop("skills", None)
        values.pop("id")
        if "manager_id" in values:
            values["manager_id"] = values["manager_id"] or None
        now = iso(self.clock.now())
        if current is None:
            profile = Profile(id=item.id, skills=skills or [], created_at=now, updated_at=now,
                              **values)
            stored = self.store.add(profile)
            self.on_change(stored)
            return "created"
        changes = {k: v for k, v in values.items() if getattr(current, k) != v}
        if current.deleted:
            changes["deleted"] = False
        if skills is not None and not current.skills and skills:
            changes["skills"] = skills  # HR seeds skills once; the person owns them after
        if not changes:
            return "unchanged"
        stored = self.store.update(current.replace(**changes, updated_at=now))
        self.on_change(stored)
        return "updated"
