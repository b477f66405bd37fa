"""The one place that picks adapters for a profile and wires the services together."""
from __future__ import annotations

from dataclasses import dataclass

from .auth import TokenIssuer, token_secret
from .clock import SystemClock
from .config import Settings
from .ports import Clock, ProfileStore, QuestionStore
from .services.hr_sync import HrSyncService
from .services.profiles import ProfileService
from .services.questions import QuestionService


@dataclass
class Relais:
    """Everything an entry point needs, built once per process."""

    settings: Settings
    clock: Clock
    profile_store: ProfileStore
    question_store: QuestionStore
    tokens: TokenIssuer | None
    profiles: ProfileService
    hr_sync: HrSyncService
    questions: QuestionService


def _embedded_stores(settings: Settings):
    from .adapters.sqlite_db import SQLiteDatabase
    from .adapters.sqlite_store import SQLiteProfileStore, SQLiteQuestionStore

    db = SQLiteDatabase(settings.database)
    return SQLiteProfileStore(db), SQLiteQuestionStore(db)


def bootstrap(settings: Settings | None = None, *, clock: Clock | None = None) -> Relais:
    """Build Relais for `settings.backend` (embedded: SQLite + in-process search)."""
    settings = settings or Settings.from_env()
    clock = clock or SystemClock()
    if settings.backend == "embedded":
        profile_store, question_store = _embedded_stores(settings)
        tokens = TokenIssuer(token_secret(settings), settings.token_ttl_hours)
    else:
        raise ValueError(f"unknown backend {settings.backend!r} (embedded or aws)")
    profiles = ProfileService(profile_store, clock)
    hr_sync = HrSyncService(profile_store, clock, settings.hr_sync_max_items)
    questions = QuestionService(question_store, profile_store, clock)
    return Relais(settings=settings, clock=clock, profile_store=profile_store,
                  question_store=question_store, tokens=tokens, profiles=profiles,
                  hr_sync=hr_sync, questions=questions)
