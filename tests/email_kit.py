"""Shared helpers of the email tests: a tiny deterministic embedder, a seeded organisation,
and builders for raw inbound mails."""
from __future__ import annotations

import hashlib
import re
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import numpy as np

from chalicelib.bootstrap import bootstrap
from chalicelib.clock import FixedClock
from chalicelib.config import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "mail"
MAIL_HOST = "relais.example.com"
ASK = f"ask@{MAIL_HOST}"
ALICE = "alice.martin@acme.example"  # the asker's address
TEST_SECRET = "test-secret-for-relais-tokens-0123456789"

PEOPLE = [
    {"id": "asker", "name": "Alice Martin", "email": "alice.martin@acme.example",
     "department": "Sales", "skills": ["negotiation"]},
    {"id": "vpn1", "name": "Marie Curie", "email": "Marie.Curie@acme.example",
     "department": "IT", "skills": ["vpn", "network", "firewall"]},
    {"id": "vpn2", "name": "Pierre Durand", "email": "pierre.durand@acme.example",
     "department": "IT", "skills": ["vpn", "network"]},
    {"id": "vpn3", "name": "Jean Valjean", "email": "jean.valjean@acme.example",
     "department": "IT", "skills": ["vpn", "linux"]},
    {"id": "vpn4", "name": "Sophie Germain", "email": "sophie.germain@acme.example",
     "department": "IT", "skills": ["vpn", "firewall", "network"]},
    {"id": "gone", "name": "Old Timer", "email": "old.timer@acme.example", "active": False,
     "skills": ["vpn"]},
]


class HashEmbedder:
    """Deterministic bag-of-words vectors (hashed words), so tests need no model."""

    dimensions = 384

    def embed(self, texts):
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimensions] += 1
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
            if not norm:
                out[row, 0] = 1.0
        return out


def mail_settings(tmp_path, **overrides) -> Settings:
    values = dict(db_path=":memory:", data_dir=str(tmp_path), token_secret=TEST_SECRET,
                  mail_from=f"relais@{MAIL_HOST}", mail_allowed_domains="acme.example",
                  relay_count=2)
    values.update(overrides)
    return Settings(**values)


def make_relais(tmp_path, *, clock=None, embedder=None, people=PEOPLE, **overrides):
    relais = bootstrap(mail_settings(tmp_path, **overrides), clock=clock or FixedClock(),
                       embedder=embedder or HashEmbedder())
    report = relais.hr_sync.upsert(people)
    assert report["counts"]["error"] == 0, report
    return relais


def build_mail(*, sender="Alice Martin <alice.martin@acme.example>", to=ASK,
               subject="How do I set up the VPN on Linux?",
               text="Hello,\n\nI cannot connect to the VPN from my Linux laptop. Which profile?\n",
               html: str | None = None, headers: dict | None = None,
               message_id: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="acme.example")
    for name, value in (headers or {}).items():
        message[name] = value
    if text is not None:
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
    elif html is not None:
        message.set_content(html, subtype="html")
    return message.as_bytes()


def fixture(name: str, **values) -> bytes:
    """A raw fixture mail with {{NAME}} placeholders filled in."""
    raw = (FIXTURES / name).read_bytes()
    for key, value in values.items():
        raw = raw.replace(("{{" + key.upper() + "}}").encode(), value.encode())
    return raw


def outbox(relais, kind: str | None = None, to: str | None = None) -> list[dict]:
    """Mails Relais sent, oldest first, with their headers."""
    import json
    rows = relais.mailer.db.query("SELECT * FROM outbox ORDER BY seq")
    mails = [dict(r) | {"headers": json.loads(r["headers"])} for r in rows]
    return [m for m in mails if (kind is None or m["kind"] == kind)
            and (to is None or m["recipient"].lower() == to.lower())]


def reply_address(mail: dict) -> str:
    return re.search(r"<([^>]+)>", mail["headers"]["Reply-To"]).group(1)


def ask(relais, **mail) -> object:
    result = relais.email_in.ingest(build_mail(**mail), ALICE, [ASK])
    assert result.outcome == "question", result
    return result


def relay_mail(relais, question_id: str, rank: int = 0) -> tuple[dict, object]:
    """The relay mail of the question's `rank`-th expert, and that expert."""
    relay = relais.question_store.relays_for_question(question_id)[rank]
    expert = relais.profile_store.get(relay.expert_id)
    mails = [m for m in outbox(relais, "relay", expert.email) if question_id in m["text"]]
    return mails[-1], expert


def reply(relais, mail: dict, expert, name: str = "reply_gmail_en.eml", **values):
    to = reply_address(mail)
    raw = fixture(name, FROM=expert.email, TO=to, MESSAGE_ID=f"r-{name}@acme.example",
                  IN_REPLY_TO=mail["message_id"].strip("<>"))
    return relais.email_in.ingest(raw, expert.email, [to], **values)
