"""Mailers for the embedded profile: an outbox table admins can read, plus SMTP if configured."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import urlparse

from ..ports import Page
from .sqlite_db import SQLiteDatabase, decode_cursor, dumps, encode_cursor

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    text TEXT NOT NULL,
    headers TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT ''
);
"""


class OutboxMailer:
    """Every mail lands in the outbox; with an SMTP URL it is also sent, and the outcome kept."""

    def __init__(self, db: SQLiteDatabase, sender: str, smtp_url: str = ""):
        self.db = db
        self.sender = sender
        self.smtp_url = smtp_url
        db.executescript(SCHEMA)

    def send(self, *, to: str, subject: str, text: str, headers=None,
             kind: str = "notification") -> str:
        headers = dict(headers or {})
        message_id = headers.pop("Message-ID", None) or make_msgid(domain=self.sender.split("@")[-1])
        status, error = "queued", ""
        if self.smtp_url:
            try:
                self._smtp(to, subject, text, headers, message_id)
                status = "sent"
            except (OSError, smtplib.SMTPException) as exc:
                status, error = "failed", str(exc)[:500]
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO outbox (message_id, kind, recipient, subject, text, headers,"
                         " status, error) VALUES (?,?,?,?,?,?,?,?)",
                         (message_id, kind, to, subject, text, dumps(headers), status, error))
        return message_id

    def _smtp(self, to, subject, text, headers, message_id) -> None:
        url = urlparse(self.smtp_url)
        message = EmailMessage()
        message["From"] = headers.pop("From", self.sender)
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = message_id
        for name, value in headers.items():
            message[name] = value
        message.set_content(text)
        with smtplib.SMTP(url.hostname or "127.0.0.1", url.port or 25, timeout=10) as smtp:
            if url.username:
                smtp.login(url.username, url.password or "")
            smtp.send_message(message)

    def list(self, *, limit: int, cursor: str | None = None, recipient: str | None = None) -> Page:
        offset = decode_cursor(cursor)
        where, params = "", []
        if recipient:
            where, params = "WHERE recipient = ?", [recipient]
        rows = self.db.query(f"SELECT * FROM outbox {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
                             [*params, limit + 1, offset])
        items = [{k: r[k] for k in r.keys() if k != "headers"} for r in rows[:limit]]
        return Page(items=items,
                    next_cursor=encode_cursor(offset + limit) if len(rows) > limit else None)
