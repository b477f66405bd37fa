"""Ask, relay and answer by email over real SMTP, with the real embedding model.

smtplib -> Relais's SMTP gateway -> question (seen through the HTTP API) -> relay mails to a
local SMTP sink -> an expert's reply to its Reply-To -> answer (API) -> answer mail to the asker.
"""
from __future__ import annotations

import email
import smtplib
import threading
import time
from email import policy

import pytest
from aiosmtpd.controller import Controller

from chalicelib.bootstrap import bootstrap
from chalicelib.smtp_gateway import start_gateway
from tests.api.live_server import live_server
from tests.email_kit import ASK, PEOPLE, build_mail, fixture, mail_settings
from tests.net import free_port

pytestmark = pytest.mark.slow  # loads the embedding model
ALICE = "alice.martin@acme.example"


class Sink:
    """A local SMTP server that keeps what it receives."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=policy.default)
        with self.arrived:
            self.messages.append(message)
            self.arrived.notify_all()
        return "250 OK"

    def wait_for(self, predicate, timeout: float = 15.0) -> list:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                found = [m for m in self.messages if predicate(m)]
                if found or time.monotonic() > deadline:
                    return found
                self.arrived.wait(timeout=0.2)


@pytest.fixture
def sink():
    handler = Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


@pytest.fixture
def running(tmp_path, sink, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    handler, sink_port = sink
    relais = bootstrap(mail_settings(tmp_path, smtp_url=f"smtp://127.0.0.1:{sink_port}"))
    assert relais.hr_sync.upsert(PEOPLE)["counts"]["error"] == 0  # embeds with the real model
    gateway = start_gateway(relais.email_in, "127.0.0.1", free_port(), max_bytes=1_000_000)
    with live_server(relais) as server:
        yield relais, server, gateway, handler
    gateway.stop()


def send(gateway, sender: str, recipients: list[str], raw: bytes) -> None:
    host, port = gateway.address
    wire = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # smtplib sends bytes as given
    with smtplib.SMTP(host, port, timeout=60) as smtp:
        smtp.sendmail(sender, recipients, wire)


def test_ask_relay_and_answer_by_email_over_smtp(running):
    relais, server, gateway, sink = running
    started = time.monotonic()
    send(gateway, ALICE, [ASK], build_mail(message_id="<e2e-question@acme.example>"))

    # The question is in the API, asked by Alice.
    token = relais.tokens.issue("asker")
    status, page = server.request("GET", "/questions?mine=true", token=token)
    assert status == 200
    [question] = page["items"]
    assert question["title"] == "How do I set up the VPN on Linux?"

    # Relay mails reached the experts, each with its own reply address; Alice got the receipt.
    relays = sink.wait_for(lambda m: m["X-Relais-Kind"] == "relay")
    assert len(relays) == 2
    assert all(m["Reply-To"].addresses[0].username.startswith("reply+") for m in relays)
    [ack] = sink.wait_for(lambda m: m["X-Relais-Kind"] == "acknowledgement")
    assert ack["To"].addresses[0].addr_spec == ALICE
    assert ack["In-Reply-To"] == "<e2e-question@acme.example>"
    assert ack["Auto-Submitted"] == "auto-replied"

    # The second expert passes the question to a colleague with one line and a note; the
    # colleague's relay mail says who passed it to them, and why.
    holder = relays[1]["To"].addresses[0].addr_spec
    relayed = {m["To"].addresses[0].addr_spec.lower() for m in relays}
    colleague = next(p["email"] for p in PEOPLE if p["id"].startswith("vpn")
                     and p["email"].lower() not in relayed)
    holder_reply_to = relays[1]["Reply-To"].addresses[0].addr_spec
    send(gateway, holder, [holder_reply_to],
         build_mail(sender=holder, to=holder_reply_to, subject="Re: " + relays[1]["Subject"],
                    text=f"pass to {colleague}\nThey run the Linux VPN profiles.\n",
                    headers={"In-Reply-To": relays[1]["Message-ID"]}))
    [passed] = sink.wait_for(lambda m: m["X-Relais-Kind"] == "relay"
                             and m["To"].addresses[0].addr_spec == colleague)
    assert "was asked and passed it to you" in passed.get_content()
    assert "They run the Linux VPN profiles." in passed.get_content()

    # One expert answers from their mail client, replying to the relay.
    relay = relays[0]
    expert = relay["To"].addresses[0].addr_spec
    reply_to = relay["Reply-To"].addresses[0].addr_spec
    send(gateway, expert, [reply_to],
         fixture("reply_gmail_en.eml", FROM=expert, TO=reply_to, MESSAGE_ID="e2e-reply@acme",
                 IN_REPLY_TO=relay["Message-ID"].strip("<>")))

    status, shown = server.request("GET", f"/questions/{question['id']}", token=token)
    assert status == 200 and shown["status"] == "answered"
    [answer] = shown["answers"]
    assert answer["body"] == ('Use the "Corp-2" profile in the VPN client, then restart the '
                              'network agent.')
    assert answer["author"]["id"] == relais.profile_store.find(email=expert).id

    # Alice gets the answer by mail, threaded under the receipt.
    [answered] = sink.wait_for(lambda m: m["X-Relais-Kind"] == "answer")
    assert answered["To"].addresses[0].addr_spec == ALICE
    assert answer["body"] in answered.get_content()
    assert answered["In-Reply-To"] == ack["Message-ID"]
    assert time.monotonic() - started < 30
