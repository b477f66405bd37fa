"""The audit log: admin and HR actions, recorded as they happen and read by admins."""
from __future__ import annotations

import secrets

from ..auth import Caller
from ..clock import iso
from ..domain import AuditEntry
from ..errors import Forbidden
from ..ports import AuditLog, Clock, Page


class AuditService:
    """Records who did what to which record. An entry names people by id only, and no caller
    ever passes the asker of an anonymous question (nothing audited is about asking)."""

    def __init__(self, log: AuditLog, clock: Clock):
        self.log = log
        self.clock = clock

    def record(self, actor: Caller | None, action: str, target: str = "",
               details: dict | None = None, *, actor_role: str | None = None) -> AuditEntry:
        """Append one entry; `actor` None is a system write (say an identity provider's)."""
        return self.log.append(AuditEntry(
            id="ev" + secrets.token_hex(8), at=iso(self.clock.now()),
            actor_id=actor.id if actor else None,
            actor_role=actor_role or (actor.role if actor else "system"),
            action=action, target=target, details=details or {}))

    def list(self, caller: Caller, *, action: str | None = None, actor_id: str | None = None,
             limit: int = 20, cursor: str | None = None) -> Page:
        """Entries newest first, for admins only."""
        if not caller.is_admin:
            raise Forbidden("the audit log needs the admin role")
        return self.log.list(limit=limit, cursor=cursor, action=action, actor_id=actor_id)
