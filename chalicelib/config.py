"""Settings from environment variables (RELAIS_*), read once into one dataclass."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from .matching import DEFAULT_WEIGHTS
from .worktime import CalendarError, WorkingCalendar


class SettingsError(ValueError):
    """A setting that cannot be used, said with the variable that holds it."""


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}
_KINDS = {bool: "true or false (1/0, yes/no, on/off)", int: "a whole number", float: "a number"}


def _variable(name: str) -> str:
    return "RELAIS_" + name.upper()


def _parse(name: str, kind: type, raw: str):
    """`raw` read as a `kind`; a value that is not one is refused with what was expected."""
    text = raw.strip()
    if kind is bool:
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
    elif kind is str:
        return raw
    else:
        try:
            value = kind(text)
        except ValueError:
            pass
        else:
            if kind is int or math.isfinite(value):
                return value
    raise SettingsError(f"{_variable(name)} must be {_KINDS[kind]}, not {raw!r}")


# The range of each number that has one: (lowest, highest, whether the lowest is allowed).
# Outside it a setting would not mean anything (a negative count, a half-life of zero).
_RANGES: dict[str, tuple[float, float, bool]] = {
    "token_ttl_hours": (0, math.inf, False),
    "port": (0, 65535, True),  # 0: any free port
    "similar_min_cosine": (-1, 1, True),
    "max_body_bytes": (0, math.inf, False),
    "hr_sync_max_items": (0, math.inf, False),
    "recency_half_life_days": (0, math.inf, False),
    "activity_half_life_days": (0, math.inf, False),
    "relay_count": (0, math.inf, True),
    "management_chain_depth": (0, math.inf, True),
    "open_relay_damping": (0, math.inf, True),
    "max_open_relays": (0, math.inf, False),
    "answer_deadline_hours": (0, math.inf, False),
    "escalation_peer_count": (0, math.inf, True),
    "snooze_hours": (0, math.inf, False),
    "community_boost": (0, math.inf, False),
    "relay_member_window_days": (0, math.inf, False),
    "relay_member_min_outcomes": (0, math.inf, False),
    "quick_answer_hours": (0, math.inf, False),
    "figures_min_group_size": (0, math.inf, False),
    "smtp_gateway_port": (0, 65535, True),
    "mail_max_bytes": (0, math.inf, False),
    "watch_mails_per_question": (0, math.inf, True),
    "away_default_days": (0, math.inf, False),
    "directory_search_scan_limit": (0, math.inf, False),
}
_CHOICES = {"backend": ("embedded", "aws")}


def _out_of_range(name: str, value: float) -> str | None:
    low, high, low_allowed = _RANGES[name]
    if value < low or (value == low and not low_allowed):
        return f"at least {low:g}" if low_allowed else f"more than {low:g}"
    if value > high:
        return f"at most {high:g}"
    return None


@dataclass(frozen=True)
class Settings:
    """Every tunable of Relais. Each field is read from RELAIS_<FIELD NAME IN CAPITALS>."""

    backend: str = "embedded"  # embedded | aws
    data_dir: str = "var"  # embedded profile: SQLite file, secret, maildir
    db_path: str = ""  # defaults to <data_dir>/relais.db; ":memory:" for tests
    token_secret: str = ""  # embedded profile: HMAC key for bearer tokens (generated if empty)
    token_ttl_hours: int = 24 * 30
    # Sign-in with the company's OpenID Connect provider (embedded profile; docs/configuration.md)
    oidc_issuer: str = ""
    oidc_audience: str = ""  # the client id its tokens are issued for
    oidc_person_claim: str = "email"  # email: looked up in the directory; else the person id
    oidc_roles_claim: str = "groups"  # relais-hr and relais-admin in it give those roles
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
    answer_deadline_hours: float = 48.0  # counted on working days only (below)
    working_days: str = "mon,tue,wed,thu,fri"
    holidays: str = ""  # comma-separated dates, e.g. 2026-12-25,2027-01-01
    time_zone: str = "UTC"  # where the working days begin and end, e.g. Europe/Paris
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

    def __post_init__(self):
        for name in _RANGES:
            value = getattr(self, name)
            problem = _out_of_range(name, value)
            if problem:
                raise SettingsError(f"{_variable(name)} must be {problem}, not {value!r}")
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise SettingsError(f"{_variable(name)} must be one of {', '.join(allowed)}, "
                                    f"not {getattr(self, name)!r}")
        try:
            self.calendar
        except CalendarError as error:
            raise SettingsError(f"{_variable(error.part)} {error}") from None
        self._check_sign_in()

    def _check_sign_in(self) -> None:
        """An identity provider needs both its address and the audience of its tokens, and is
        reached over TLS (plain http only on this machine, for a provider run locally)."""
        for given, missing in (("oidc_issuer", "oidc_audience"), ("oidc_audience", "oidc_issuer")):
            if getattr(self, given) and not getattr(self, missing):
                raise SettingsError(f"{_variable(missing)} must be set with {_variable(given)}")
        issuer = urlsplit(self.oidc_issuer)
        if self.oidc_issuer and not (issuer.scheme == "https" or (
                issuer.scheme == "http" and issuer.hostname in ("127.0.0.1", "localhost"))):
            raise SettingsError(f"{_variable('oidc_issuer')} must be an https:// address, not "
                                f"{self.oidc_issuer!r}")

    @cached_property
    def calendar(self) -> WorkingCalendar:
        """The working days that answer deadlines count."""
        return WorkingCalendar.parse(self.working_days, self.holidays, self.time_zone)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> "Settings":
        """Build settings from `env` (default os.environ); keyword overrides win. A value that
        is not of the setting's kind or outside its range is a SettingsError naming it."""
        env = os.environ if env is None else env
        values = {}
        for f in fields(cls):
            raw = env.get(_variable(f.name))
            if raw is not None:
                values[f.name] = _parse(f.name, type(f.default), raw)
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
