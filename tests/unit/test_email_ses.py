"""The aws side of the email channel, on moto: SES sending, the S3-triggered ingest Lambda,
and raw mail kept and quarantined in S3."""
from __future__ import annotations

import email

import boto3
import pytest
from chalice.test import Client
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

import app as app_module
from chalicelib.adapters.mail import S3MailStore, SesMailer, read_ses_object
from chalicelib.ports import MailNotSent
from tests.conftest import MOTO_REGION
from tests.email_kit import ASK, build_mail, make_relais, outbox

REGION = MOTO_REGION
BUCKET = app_module.MAIL_BUCKET
ALICE = "alice.martin@acme.example"


@pytest.fixture
def aws(moto_aws):
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})


def ses_stored(raw: bytes, *, spam="PASS", dkim="pass", envelope=ALICE, rcpt=ASK) -> bytes:
    """A mail as the SES receipt rule writes it to S3: SES's own headers on top."""
    return (f"Return-Path: <{envelope}>\r\n"
            f"Received: from mail.acme.example by inbound-smtp.{REGION}.amazonaws.com with SMTP"
            f" id abc123 for {rcpt};\r\n Mon, 05 Jan 2026 09:00:00 +0000 (UTC)\r\n"
            f"X-SES-Spam-Verdict: {spam}\r\nX-SES-Virus-Verdict: PASS\r\n"
            f"Received-SPF: pass\r\n"
            f"Authentication-Results: amazonses.com;\r\n spf=pass; dkim={dkim}; dmarc=pass\r\n"
            ).encode() + raw


def test_ses_mailer_sends_raw_mail_with_threading_headers(aws):
    ses = boto3.client("ses", region_name=REGION)
    ses.verify_domain_identity(Domain="relais.example.com")
    mailer = SesMailer("relais@relais.example.com", REGION)
    sent_id = mailer.send(to="marie.curie@acme.example", subject="[Relais] A question",
                          text="Hello Marie", kind="relay",
                          headers={"Message-ID": "<ours@relais.example.com>",
                                   "Reply-To": "Relais <reply+abc@relais.example.com>",
                                   "In-Reply-To": "<earlier@relais.example.com>",
                                   "X-Relais-Kind": "relay", "X-Relais-Private": "1"})
    [sent] = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    assert sent_id == f"<{sent.id}@{REGION}.amazonses.com>"  # the id SES puts on the mail
    message = email.message_from_string(sent.raw_data)
    assert message["Reply-To"] == "Relais <reply+abc@relais.example.com>"
    assert message["In-Reply-To"] == "<earlier@relais.example.com>"
    assert message["X-Relais-Kind"] == "relay"
    assert message["X-Relais-Private"] is None  # an instruction to the mailer only
    assert message.get_payload(decode=True).decode().strip() == "Hello Marie"


def test_a_mail_ses_refuses_is_reported_as_not_sent(aws):
    mailer = SesMailer("relais@unverified.example.com", REGION)  # SES refuses this sender
    with pytest.raises(MailNotSent, match="MessageRejected"):
        mailer.send(to="marie.curie@acme.example", subject="[Relais] A question",
                    text="Hello Marie", kind="relay")


def test_read_ses_object_takes_envelope_and_verdicts_from_ses_headers(aws):
    raw = ses_stored(b"X-SES-Spam-Verdict: PASS\r\n" + build_mail(), spam="FAIL", dkim="fail")
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key="inbound/abc123",
                                                      Body=raw)
    mail = read_ses_object(BUCKET, "inbound/abc123", REGION, max_bytes=10_000_000)
    assert mail.raw == raw and mail.location == f"s3://{BUCKET}/inbound/abc123"
    assert (mail.envelope_from, mail.recipients) == (ALICE, [ASK])
    assert mail.verdicts["spamVerdict"] == {"status": "FAIL"}  # SES's, not the sender's PASS
    assert mail.verdicts["dkimVerdict"] == {"status": "FAIL"}


def test_a_huge_object_is_read_only_up_to_the_limit(aws):
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key="inbound/big",
                                                      Body=ses_stored(build_mail(text="x" * 5000)))
    mail = read_ses_object(BUCKET, "inbound/big", REGION, max_bytes=1000)
    assert len(mail.raw) == 1001  # one byte over: the ingest refuses it as too large


@pytest.fixture
def lambda_client(aws, tmp_path):
    relais = make_relais(tmp_path)
    relais.email_in.raw_store = S3MailStore(BUCKET, REGION)
    app_module.use(relais)
    with Client(app_module.app) as client:
        yield client, relais


def deliver(client, key: str, raw: bytes):
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=raw)
    return client.lambda_.invoke("receive_mail", client.events.generate_s3_event(BUCKET, key))


def test_the_s3_lambda_turns_a_received_mail_into_a_question(lambda_client):
    client, relais = lambda_client
    response = deliver(client, "inbound/m1", ses_stored(build_mail(message_id="<m1@acme>")))
    assert response.payload["outcome"] == "question"
    assert response.payload["stored"] == f"s3://{BUCKET}/inbound/m1"
    assert relais.questions.get(response.payload["question_id"]).asker_id == "asker"
    assert outbox(relais, "acknowledgement", ALICE)
    again = deliver(client, "inbound/m1-again", ses_stored(build_mail(message_id="<m1@acme>")))
    assert again.payload["outcome"] == "duplicate"


def test_a_mail_ses_judged_as_spam_is_quarantined_in_s3(lambda_client):
    client, relais = lambda_client
    response = deliver(client, "inbound/spam", ses_stored(build_mail(), spam="FAIL"))
    assert response.payload["outcome"] == "quarantined"
    assert response.payload["reason"] == "refused by the mail service: spamVerdict FAIL"
    assert response.payload["stored"] == f"s3://{BUCKET}/quarantine/spam"
    s3 = boto3.client("s3", region_name=REGION)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == ["quarantine/spam"]
    assert outbox(relais) == []


def test_the_lambda_fails_so_that_lambda_retries_when_the_ingest_asks_for_it(lambda_client,
                                                                             monkeypatch):
    client, relais = lambda_client

    def locked(*args, **kwargs):
        raise OSError("store unavailable")
    monkeypatch.setattr(relais.mail_ledger, "claim_inbound", locked)
    with pytest.raises(RuntimeError, match="retry later"):
        deliver(client, "inbound/m2", ses_stored(build_mail()))


def test_s3_mail_store_keeps_outside_the_trigger_prefix(aws):
    store = S3MailStore(BUCKET, REGION)
    location = store.keep("<k@x>", b"raw")
    assert location.startswith(f"s3://{BUCKET}/kept/")
    moved = store.quarantine(location)
    assert moved.startswith(f"s3://{BUCKET}/quarantine/") and store.quarantine(moved) == moved
