"""Settings from environment variables (RELAIS_*), read once into one dataclass."""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from .matching import DEFAULT_WEIGHTS


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Every tunable of Relais. Each field is read from RELAIS_<FIELD NAME IN CAPITALS>."""

    backend: str = "embedded"  # embedded | aws
    data_dir: str = "var"  # embedded profile: SQLite file, secret, maildir
    db_path: str = ""  # defaults to <data_dir>/relais.db; ":memory:" for tests
    token_secret: str = ""  # embedded profile: HMAC key for bearer tokens (generated if empty)
    token_ttl_hours: int = 24 * 30
    port: int = 8000
    host: str = "127.0.0.1"
    public_url: str = ""  # what links in mails point to; defaults to http://host:port
    embedding_model: str = "all-MiniLM-L6-v2"
    # A similar question is at least this close in meaning (cosine) to the draft. It depends
    # on the model: with all-MiniLM-L6-v2 a rephrased question scores 0.45-0.9, a question
    # on another subject in the same language 0.0-0.3.
    similar_min_cosine: float = DEFAULT_WEIGHTS.close_in_meaning
    # Embedded profile: index each write at once. Bulk imports turn it off and reindex after.
    index_on_write: bool = True
    # Request limits: a body over this many bytes is refused with 413.
    max_body_bytes: int = 1_000_000
    hr_sync_max_items: int = 1000
    # Routing policy.
    # Evidence of expertise fades by half in this time.
    recency_half_life_days: float = DEFAULT_WEIGHTS.half_life_days
    activity_half_life_days: float = 36.0  # "recently active" looks at about a month
    relay_count: int = 3
    management_chain_depth: int = 2  # 0 turns the management-chain exclusion off
    open_relay_damping: float = 0.15  # score divided by (1 + damping * open relays)
    max_open_relays: int = 10  # people holding this many open relays are skipped
    answer_deadline_hours: float = 48.0
    escalation_peer_count: int = 2
    escalate_to_managers: bool = True
    snooze_hours: float = 24.0
    # Communities, recognition, figures, modules.
    community_boost: float = 1.5  # a community member's matching score is multiplied by this
    relay_member_window_days: int = 90  # relay members are recognised from this many days
    relay_member_min_outcomes: int = 2  # outcomes needed in the window to be listed
    quick_answer_hours: float = 4.0  # a first answer this fast counts as a quick one
    figures_min_group_size: int = 5  # smaller departments are merged into "other"
    modules_off: str = ""  # comma-separated modules off until an admin switches them on
    # Mail.
    smtp_url: str = ""  # smtp://host:port; empty keeps mails in the outbox only
    mail_from: str = "relais@localhost"
    mail_domain: str = ""  # where ask@ and reply+<token>@ live; defaults to mail_from's domain
    ask_address: str = ""  # defaults to ask@<mail_domain>
    smtp_gateway_port: int = 8025  # embedded profile: inbound SMTP; 0 turns the gateway off
    # Comma-separated sender domains the local gateway accepts; empty accepts any domain (the
    # sender must still be an active employee). On AWS, SES verdicts do this job.
    mail_allowed_domains: str = ""
    mail_max_bytes: int = 10_000_000  # a larger inbound message is refused / quarantined
    mail_bucket: str = "relais-inbound-mail"  # aws: where the SES receipt rule writes mails
    # Beyond this many watchers mailed at once, the others find a new question in their next
    # digest: asking stays quick however many people watch a tag.
    watch_mails_per_question: int = 100
    away_default_days: int = 3  # an out-of-office reply without a date marks this many days
    # AWS profile.
    aws_region: str = "eu-west-1"
    table_prefix: str = "relais"
    # DynamoDB directory search scans at most this many profiles per request (then OpenSearch).
    directory_search_scan_limit: int = 20_000
    opensearch_url: str = "http://127.0.0.1:9200"
    opensearch_index: str = "relais-evidence"
    onnx_model_dir: str = ""  # the exported ONNX model (default: chalicelib/model)
    demo: bool = False

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> "Settings":
        """Build settings from `env` (default os.environ); keyword overrides win."""
        env = os.environ if env is None else env
        values = {}
        for f in fields(cls):
            raw = env.get("RELAIS_" + f.name.upper())
            if raw is None:
                continue
            kind = type(f.default)
            values[f.name] = _bool(raw) if kind is bool else kind(raw)
        values.update(overrides)
        return cls(**values)

    @property
    def database(self) -> str:
        return self.db_path or str(Path(self.data_dir) / "relais.db")

    @property
    def mail_host(self) -> str:
        return (self.mail_domain or self.mail_from.rpartition("@")[2] or "localhost").lower()

    @property
    def ask_mailbox(self) -> str:
        return (self.ask_address or f"ask@{self.mail_host}").lower()

    @property
    def allowed_mail_domains(self) -> frozenset[str]:
        return frozenset(d.strip().lower() for d in self.mail_allowed_domains.split(",")
                         if d.strip())

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"
