"""The local SMTP gateway: which addresses it takes, what it answers the sending server."""
from __future__ import annotations

import smtplib

import pytest

from chalicelib.services.email_in import IngestResult
from chalicelib.smtp_gateway import start_gateway
from tests.net import free_port


class FakeIngest:
    """Takes ask@r.example only; answers with a preset result and remembers each call."""

    def __init__(self):
        self.calls = []
        self.result = IngestResult("question", question_id="q1")
        self.open = True

    def is_open(self) -> bool:
        return self.open

    def is_relais_address(self, address: str) -> bool:
        return address.lower() == "ask@r.example"

    def ingest(self, raw, envelope_from, recipients):
        self.calls.append((raw, envelope_from, recipients))
        return self.result


@pytest.fixture
def gateway():
    ingest = FakeIngest()
    running = start_gateway(ingest, "127.0.0.1", free_port(), max_bytes=10_000)
    yield running, ingest
    running.stop()


def smtp(gateway) -> smtplib.SMTP:
    return smtplib.SMTP(*gateway[0].address, timeout=10)


MAIL = b"From: a@acme.example\r\nTo: ask@r.example\r\nSubject: hi\r\n\r\nbody\r\n"


def test_accepted_mail_reaches_the_ingest_with_its_envelope(gateway):
    with smtp(gateway) as client:
        client.sendmail("a@acme.example", ["ASK@r.example"], MAIL)
    [(raw, envelope_from, recipients)] = gateway[1].calls
    assert raw.startswith(b"From: a@acme.example") and b"body" in raw
    assert (envelope_from, recipients) == ("a@acme.example", ["ASK@r.example"])


def test_addresses_that_are_not_relais_are_refused_at_rcpt(gateway):
    with smtp(gateway) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail("a@acme.example", ["someone@acme.example"], MAIL)
    assert refused.value.recipients["someone@acme.example"][0] == 550
    assert gateway[1].calls == []


def test_nothing_is_accepted_while_the_email_module_is_off(gateway):
    gateway[1].open = False
    with smtp(gateway) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail("a@acme.example", ["ask@r.example"], MAIL)
    assert refused.value.recipients["ask@r.example"][0] == 550


def test_a_mail_over_the_size_limit_is_refused_before_its_data(gateway):
    with smtp(gateway) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("a@acme.example", ["ask@r.example"], MAIL + b"x" * 20_000)
    assert refused.value.smtp_code == 552
    assert gateway[1].calls == []


def test_a_mail_relais_could_not_keep_is_deferred_so_the_sender_retries(gateway):
    gateway[1].result = IngestResult("failed", "internal error (OperationalError); retry later")
    with smtp(gateway) as client:
        with pytest.raises(smtplib.SMTPDataError) as deferred:
            client.sendmail("a@acme.example", ["ask@r.example"], MAIL)
    assert deferred.value.smtp_code == 451


def test_quarantined_mail_is_accepted_it_is_kept(gateway):
    gateway[1].result = IngestResult("quarantined", "the sender is not an active employee")
    with smtp(gateway) as client:
        client.ehlo()
        client.mail("a@acme.example")
        client.rcpt("ask@r.example")
        code, message = client.data(MAIL)
    assert (code, message) == (250, b"2.0.0 quarantined")
