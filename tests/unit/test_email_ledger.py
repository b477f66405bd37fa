"""One contract for the email channel's records, run on SQLite and on DynamoDB (moto)."""
from __future__ import annotations

import boto3
import pytest

from chalicelib.adapters.mail import DynamoDBMailLedger, SQLiteMailLedger, create_mail_table
from chalicelib.adapters.sqlite_db import SQLiteDatabase
from chalicelib.errors import ValidationError
from chalicelib.mail_ports import InboundRecord
from tests.conftest import MOTO_REGION


@pytest.fixture(params=["sqlite", "dynamodb"])
def ledger(request):
    if request.param == "sqlite":
        return SQLiteMailLedger(SQLiteDatabase(":memory:"))
    request.getfixturevalue("moto_aws")
    client = boto3.client("dynamodb", region_name=MOTO_REGION)
    return DynamoDBMailLedger(client, create_mail_table(client, "test"))


def record(message_id: str, at: str, **fields) -> InboundRecord:
    return InboundRecord(message_id=message_id, received_at=at, updated_at=at, **fields)


def test_a_reply_address_is_unguessable_and_stable_per_person_and_question(ledger):
    first = ledger.reply_address("q1", "u1", "expert")
    assert len(first.token) == 24 and first.token.islower()
    assert ledger.reply_address("q1", "u1", "expert") == first
    others = {ledger.reply_address("q1", "u2", "expert").token,
              ledger.reply_address("q1", "u1", "asker").token,
              ledger.reply_address("q2", "u1", "expert").token}
    assert first.token not in others and len(others) == 3
    assert ledger.find_reply_address(first.token.upper()) == first
    assert ledger.find_reply_address("a" * 24) is None


def test_threads_keep_message_ids_in_order_once_each(ledger):
    for message_id in ("<a@x>", "<b@x>", "<a@x>", "<c@x>"):
        ledger.add_thread_message(message_id, "q1", "u1")
    ledger.add_thread_message("<d@x>", "q1", "u2")
    assert ledger.thread("q1", "u1") == ["<a@x>", "<b@x>", "<c@x>"]
    assert ledger.find_thread(["<zz@x>", "<d@x>", "<a@x>"]) == ("q1", "u2")
    assert ledger.find_thread(["<zz@x>"]) is None


def test_an_inbound_message_is_claimed_once_until_its_claim_goes_stale(ledger):
    assert ledger.claim_inbound(record("<m@x>", "2026-01-05T09:00:00Z"),
                                "2026-01-05T08:55:00Z") is None
    busy = ledger.claim_inbound(record("<m@x>", "2026-01-05T09:01:00Z"), "2026-01-05T08:56:00Z")
    assert busy.outcome == "processing"
    assert ledger.claim_inbound(record("<m@x>", "2026-01-05T09:10:00Z"),
                                "2026-01-05T09:05:00Z") is None  # the first process died
    done = record("<m@x>", "2026-01-05T09:10:00Z", outcome="question", question_id="q1",
                  recipients=["ask@r"], stored="inbox/new/1")
    ledger.finish_inbound(done)
    assert ledger.claim_inbound(record("<m@x>", "2026-01-06T09:00:00Z"),
                                "2026-01-06T08:55:00Z") == done
    assert ledger.get_inbound("<m@x>") == done


def test_inbound_records_are_listed_newest_first_by_outcome_with_a_cursor(ledger):
    for i, outcome in enumerate(["question", "quarantined", "answer", "quarantined",
                                 "quarantined"]):
        at = f"2026-01-05T09:0{i}:00Z"
        ledger.claim_inbound(record(f"<{i}@x>", at), at)
        ledger.finish_inbound(record(f"<{i}@x>", at, outcome=outcome, reason=f"r{i}"))
    first = ledger.list_inbound(limit=2, outcome="quarantined")
    assert [r.message_id for r in first.items] == ["<4@x>", "<3@x>"]
    rest = ledger.list_inbound(limit=2, outcome="quarantined", cursor=first.next_cursor)
    assert [r.message_id for r in rest.items] == ["<1@x>"] and rest.next_cursor is None
    assert [r.message_id for r in ledger.list_inbound(limit=10).items] == \
        ["<4@x>", "<3@x>", "<2@x>", "<1@x>", "<0@x>"]
    with pytest.raises(ValidationError):
        ledger.list_inbound(limit=2, cursor="not-a-cursor")


def test_digest_items_wait_until_sent(ledger):
    ledger.queue_digest("u1", "relay", "q1", "s1", "t1", "2026-01-05T09:00:00Z")
    ledger.queue_digest("u2", "answer", None, "s2", "t2", "2026-01-05T09:01:00Z", True)
    pending = ledger.pending_digests()
    assert [(i.person_id, i.question_id, i.subject, i.private) for i in pending] == \
        [("u1", "q1", "s1", False), ("u2", None, "s2", True)]
    ledger.mark_digests_sent([pending[0].id], "2026-01-06T07:00:00Z")
    assert [i.person_id for i in ledger.pending_digests()] == ["u2"]
