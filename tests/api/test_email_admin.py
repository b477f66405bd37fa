"""Admin routes of the email channel: the inbound log (quarantine) and the digests."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from chalice.test import Client

import app as app_module
from tests.conftest import Api
from tests.email_kit import ASK, build_mail, make_relais, outbox

ALICE = "alice.martin@acme.example"


@pytest.fixture
def api(tmp_path):
    relais = make_relais(tmp_path)
    app_module.use(relais)
    with Client(app_module.app) as client:
        yield Api(client, relais)


def ingest(api, **mail):
    return api.relais.email_in.ingest(build_mail(**mail), ALICE, [ASK])


def test_only_admins_see_inbound_mail(api):
    ingest(api)
    assert api.get("/admin/mail", person="asker").status_code == 403
    assert api.get("/admin/mail", person="hr1", role="hr").status_code == 403
    response = api.get("/admin/mail", person="admin1", role="admin")
    assert response.status_code == 200
    [item] = response.json["items"]
    assert item["outcome"] == "question" and item["sender"] == ALICE


def test_the_quarantine_lists_refused_mail_with_its_reason(api):
    ingest(api)
    ingest(api, sender="stranger@acme.example")
    ingest(api, sender="x@evil.example")
    response = api.get("/admin/mail?outcome=quarantined", person="admin1", role="admin")
    reasons = [item["reason"] for item in response.json["items"]]
    assert reasons == ["sender domain not allowed: evil.example",
                       "the sender is not an active employee"]
    assert all(item["stored"].startswith("quarantine/new/") for item in response.json["items"])
    page = api.get("/admin/mail?outcome=quarantined&limit=1", person="admin1", role="admin")
    assert len(page.json["items"]) == 1 and page.json["next_cursor"]


def test_an_unknown_outcome_is_a_validation_error(api):
    response = api.get("/admin/mail?outcome=lost", person="admin1", role="admin")
    assert response.status_code == 422
    assert response.json["error"]["details"][0]["field"] == "outcome"


def test_admins_do_not_learn_who_asked_an_anonymous_question(api):
    ingest(api, subject="[anonymous] Are salaries public?")
    [item] = api.get("/admin/mail", person="admin1", role="admin").json["items"]
    assert item["outcome"] == "question"
    assert item["sender"] is None and item["envelope_from"] is None
    assert ALICE not in str(item)


def test_digests_are_sent_on_demand_by_an_admin(api):
    read_daily(api)
    ingest(api)
    assert api.post("/admin/mail/digests", person="asker").status_code == 403
    response = api.post("/admin/mail/digests", person="admin1", role="admin")
    assert response.status_code == 200 and response.json == {"people": 2, "items": 2}
    assert len(outbox(api.relais, "digest")) == 2


def read_daily(api):
    for person_id in ("vpn1", "vpn2", "vpn3", "vpn4"):
        person = api.relais.profile_store.get(person_id)
        api.relais.profile_store.update(person.replace(notify="daily"))


def test_the_hourly_schedule_sends_digests_at_seven_on_working_days(api):
    read_daily(api)
    ingest(api)
    event = api.client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                                detail={}, resources=[])

    def scheduled_run(moment: datetime) -> dict:
        api.relais.clock.current = moment
        return api.client.lambda_.invoke("send_digests_on_schedule", event).payload

    nothing = {"people": 0, "items": 0}
    assert scheduled_run(datetime(2026, 1, 10, 7, 0, tzinfo=timezone.utc)) == nothing  # Saturday
    assert scheduled_run(datetime(2026, 1, 12, 6, 0, tzinfo=timezone.utc)) == nothing  # Monday 6
    assert scheduled_run(datetime(2026, 1, 12, 7, 0, tzinfo=timezone.utc)) == \
        {"people": 2, "items": 2}
    assert scheduled_run(datetime(2026, 1, 13, 7, 0, tzinfo=timezone.utc)) == nothing  # all sent
