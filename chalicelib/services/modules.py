"""Modules switched on one by one: email, communities, recognition, analytics, anonymous.

A switched-off module's routes answer 404 and leave the OpenAPI description; the widget reads
GET /modules to hide what is off. The switches are a stored setting, changed by admins and
audited; a deployment's starting point is the `modules_off` setting.
"""
from __future__ import annotations

from typing import Iterable

from ..auth import Caller
from ..config import SettingsError
from ..errors import Conflict, Forbidden, ValidationError, field_error
from ..ports import SettingStore
from .audit import AuditService

MODULES = {
    "email": "Ask and answer by email; inbound mail log; daily digests.",
    "communities": "Topic communities with members and community managers; questions asked "
                   "in a community go first to its members.",
    "recognition": "Relay members recognised from outcomes, and thanks from community "
                   "managers.",
    "analytics": "Follow-up figures for admins and community managers.",
    "anonymous": "Asking a question without showing who asked.",
}
# A module is only effectively on when what it builds on is on too.
REQUIRES = {"recognition": ("communities",)}
SETTING_KEY = "modules"
MAX_RETRIES = 5


class ModuleService:
    """Which modules are on, and the admin's switch to change that."""

    def __init__(self, store: SettingStore, audit: AuditService, default_off: Iterable[str] = ()):
        self.store = store
        self.audit = audit
        self.default_off = {name.strip() for name in default_off if name.strip()}
        unknown = self.default_off - set(MODULES)
        if unknown:
            raise SettingsError(f"RELAIS_MODULES_OFF names unknown module(s): "
                                f"{', '.join(sorted(unknown))} (known: {', '.join(MODULES)})")

    def switches(self) -> tuple[dict[str, bool], int]:
        """The switch of every module as set (dependencies not applied), and its version."""
        stored, version = self.store.get_setting(SETTING_KEY)
        stored = stored if isinstance(stored, dict) else {}
        return ({name: bool(stored.get(name, name not in self.default_off)) for name in MODULES},
                version)

    @staticmethod
    def _effective(switches: dict[str, bool]) -> dict[str, bool]:
        return {name: on and all(switches[need] for need in REQUIRES.get(name, ()))
                for name, on in switches.items()}

    def states(self) -> dict[str, bool]:
        """Whether each module is effectively on (what the widget and the routes follow)."""
        return self._effective(self.switches()[0])

    def is_on(self, name: str) -> bool:
        return self.states()[name]

    def switched_off(self) -> set[str]:
        return {name for name, on in self.states().items() if not on}

    def describe(self) -> dict:
        """What GET /admin/modules shows: each switch, its effect and what it needs."""
        switches, version = self.switches()
        effective = self._effective(switches)
        return {"version": version, "modules": [
            {"name": name, "on": switches[name], "effective": effective[name],
             "requires": list(REQUIRES.get(name, ())), "description": MODULES[name]}
            for name in MODULES]}

    def change(self, caller: Caller, changes: dict[str, bool], version: int | None) -> dict:
        """Switch modules on or off (admins); with `version`, a stale read is a 409."""
        if not caller.is_admin:
            raise Forbidden("switching modules needs the admin role")
        if not changes:
            raise ValidationError("nothing to change", [{"field": "body", "message": "empty"}])
        for _ in range(MAX_RETRIES):
            switches, current = self.switches()
            if version is not None and version != current:
                raise Conflict(f"the modules changed since version {version}",
                               [{"field": "version", "message": f"current is {current}"}])
            changed = {name: on for name, on in changes.items() if switches[name] != on}
            if not changed:
                return self.describe()
            try:
                self.store.put_setting(SETTING_KEY, {**switches, **changed}, current)
            except Conflict:
                if version is not None:
                    raise
                continue
            self.audit.record(caller, "modules.changed", "modules",
                              {"changed": changed, "version": current + 1})
            return self.describe()
        raise Conflict("the modules are being changed by others; retry")

    def check_question(self, data) -> None:
        """A question may only use the modules that are on (422 naming the field)."""
        states = self.states()
        if getattr(data, "anonymous", False) and not states["anonymous"]:
            raise field_error("anonymous", "anonymous questions are switched off here")
        if getattr(data, "community_id", None) and not states["communities"]:
            raise field_error("community_id", "communities are switched off here")
