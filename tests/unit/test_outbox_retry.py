"""A mail the SMTP server did not take stays in the outbox and is sent again, with the same
Message-ID (replies thread on it), until it goes or has had its tries."""
from __future__ import annotations


from aiosmtpd.controller import Controller

from chalicelib.adapters.mail import MAX_SEND_ATTEMPTS, OutboxMailer
from chalicelib.adapters.sqlite_db import SQLiteDatabase
from tests.net import free_port


class Sink:
    def __init__(self):
        self.received: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append(envelope.content)
        return "250 OK"


def rows(db):
    return [dict(r) for r in db.query("SELECT message_id, status, attempts, error FROM outbox"
                                      " ORDER BY seq")]


def test_failed_mails_go_once_the_server_is_back():
    port = free_port()  # nothing listens there yet
    db = SQLiteDatabase(":memory:")
    mailer = OutboxMailer(db, "relais@acme.example", f"smtp://127.0.0.1:{port}")
    first = mailer.send(to="ana@acme.example", subject="A question for you", text="Hello",
                        headers={"In-Reply-To": "<q1@acme.example>"})
    assert [(r["status"], r["attempts"]) for r in rows(db)] == [("failed", 1)]
    assert rows(db)[0]["error"]
    assert mailer.retry_failed() == {"retried": 1, "sent": 0}
    assert [(r["status"], r["attempts"]) for r in rows(db)] == [("failed", 2)]
    sink = Sink()
    server = Controller(sink, hostname="127.0.0.1", port=port)
    server.start()
    try:
        assert mailer.retry_failed() == {"retried": 1, "sent": 1}
        assert mailer.retry_failed() == {"retried": 0, "sent": 0}  # sent once only
    finally:
        server.stop()
    assert [(r["status"], r["attempts"], r["error"]) for r in rows(db)] == [("sent", 3, "")]
    assert len(sink.received) == 1
    assert f"Message-ID: {first}".encode() in sink.received[0]
    assert b"In-Reply-To: <q1@acme.example>" in sink.received[0]


def test_a_mail_is_tried_a_bounded_number_of_times():
    db = SQLiteDatabase(":memory:")
    mailer = OutboxMailer(db, "relais@acme.example", f"smtp://127.0.0.1:{free_port()}")
    mailer.send(to="ana@acme.example", subject="s", text="t")
    tries = 0
    while mailer.retry_failed()["retried"]:
        tries += 1
    assert tries == MAX_SEND_ATTEMPTS - 1
    assert [(r["status"], r["attempts"]) for r in rows(db)] == [("failed", MAX_SEND_ATTEMPTS)]


def test_without_smtp_the_outbox_only_keeps_mails():
    db = SQLiteDatabase(":memory:")
    mailer = OutboxMailer(db, "relais@acme.example")
    mailer.send(to="ana@acme.example", subject="s", text="t")
    assert mailer.retry_failed() == {"retried": 0, "sent": 0}
    assert [r["status"] for r in rows(db)] == ["queued"]
