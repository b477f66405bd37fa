"""Timed jobs: escalations every 15 minutes, digests at 07:00 on working days, on both
profiles; the local server's scheduler runs them as the AWS schedules do."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from chalicelib.adapters.local_scheduler import LocalScheduler
from chalicelib.auth import Caller
from chalicelib.bootstrap import bootstrap
from chalicelib.clock import FixedClock
from chalicelib.schemas import QuestionIn
from chalicelib.services.jobs import ScheduledJobs
from chalicelib.worktime import WorkingCalendar
from tests.conftest import make_settings

UTC = timezone.utc
MONDAY_6AM = datetime(2026, 1, 12, 6, 0, tzinfo=UTC)


class Recorder:
    """Stands in for the routing and notify services: counts the calls."""

    def __init__(self, fail: bool = False):
        self.calls: list[str] = []
        self.fail = fail

    def escalate_due(self) -> dict:
        self.calls.append("escalations")
        if self.fail:
            raise RuntimeError("store down")
        return {"expired": 0}

    def send_digests(self) -> dict:
        self.calls.append("digests")
        return {"people": 1, "items": 1}

    def retry_failed(self) -> dict:
        self.calls.append("mail retries")
        return {"retried": 0, "sent": 0}


class Modules:
    def __init__(self, on: bool):
        self.on = on

    def is_on(self, name: str) -> bool:
        return self.on


def jobs_at(moment, *, email_on=True, calendar=WorkingCalendar(), fail=False):
    clock = FixedClock(moment)
    recorder = Recorder(fail)
    return (ScheduledJobs(recorder, recorder, Modules(email_on), calendar, clock, recorder),
            recorder, clock)


def test_digests_go_at_seven_on_working_days_only():
    jobs, _, clock = jobs_at(MONDAY_6AM)
    assert not jobs.digest_due(clock.now())
    assert jobs.digest_due(MONDAY_6AM + timedelta(hours=1, minutes=59))
    assert not jobs.digest_due(MONDAY_6AM + timedelta(hours=2))
    assert not jobs.digest_due(datetime(2026, 1, 10, 7, 0, tzinfo=UTC))  # Saturday
    holiday = WorkingCalendar.parse("mon,tue,wed,thu,fri", "2026-01-12", "UTC")
    jobs, _, _ = jobs_at(MONDAY_6AM, calendar=holiday)
    assert not jobs.digest_due(MONDAY_6AM + timedelta(hours=1))


def test_seven_is_where_the_organisation_is():
    paris = WorkingCalendar.parse("mon,tue,wed,thu,fri", "", "Europe/Paris")
    jobs, _, _ = jobs_at(MONDAY_6AM, calendar=paris)
    assert jobs.digest_due(MONDAY_6AM)  # 07:00 in Paris in January
    assert not jobs.digest_due(MONDAY_6AM + timedelta(hours=1))


def test_the_digest_job_sends_only_at_digest_time_and_with_email_on():
    jobs, recorder, clock = jobs_at(MONDAY_6AM)
    assert jobs.digests() == {"people": 0, "items": 0} and recorder.calls == []
    clock.advance(hours=1)
    assert jobs.digests() == {"people": 1, "items": 1} and recorder.calls == ["digests"]
    off, recorder, _ = jobs_at(MONDAY_6AM + timedelta(hours=1), email_on=False)
    assert off.digests() == {"people": 0, "items": 0} and recorder.calls == []


def test_the_local_scheduler_runs_each_job_at_its_time():
    jobs, recorder, clock = jobs_at(MONDAY_6AM)
    scheduler = LocalScheduler(jobs, clock, log=lambda message: None)
    every_quarter = ["escalations", "mail retries"]
    assert scheduler.run_due() == every_quarter  # at start
    clock.advance(minutes=14)
    assert scheduler.run_due() == []
    clock.advance(minutes=1)
    assert scheduler.run_due() == every_quarter
    clock.advance(minutes=45)  # 07:00
    assert scheduler.run_due() == every_quarter + ["digests"]
    clock.advance(minutes=10)
    assert scheduler.run_due() == []  # one digest run per digest hour
    clock.advance(days=1)
    assert scheduler.run_due() == every_quarter + ["digests"]
    assert recorder.calls.count("digests") == 2


def test_a_failing_job_is_logged_and_the_scheduler_goes_on():
    jobs, recorder, clock = jobs_at(MONDAY_6AM, fail=True)
    said = []
    scheduler = LocalScheduler(jobs, clock, log=said.append)
    assert scheduler.run_due() == ["escalations", "mail retries"]  # one failing, the other ran
    assert said == ["Scheduled escalations failed: RuntimeError('store down'); "
                    "tried again at its next time"]
    assert recorder.calls == ["escalations", "mail retries"]
    clock.advance(minutes=15)
    assert scheduler.run_due() == ["escalations", "mail retries"] and len(said) == 2


def test_the_scheduler_thread_escalates_overdue_questions_by_itself(tmp_path, embedder):
    clock = FixedClock()
    relais = bootstrap(make_settings(tmp_path), clock=clock, embedder=embedder)
    relais.hr_sync.upsert([{"id": "ana", "name": "Ana"}, {"id": "ben", "name": "Ben"},
                           {"id": "cyd", "name": "Cyd"}, {"id": "dan", "name": "Dan"}])
    for person in ("ben", "cyd", "dan"):
        relais.profile_store.update(relais.profile_store.get(person).replace(skills=["kafka"]))
        relais.indexer.index_profile(relais.profile_store.get(person))
    question = relais.questions.ask(Caller("ana"), QuestionIn(title="kafka lag", tags=["kafka"]))
    first = relais.question_store.relays_for_question(question.id)
    assert first
    clock.advance(days=7)
    said = []
    scheduler = LocalScheduler(relais.jobs, clock, tick_seconds=0.01, log=said.append)
    scheduler.start()
    try:
        for _ in range(500):
            if said:
                break
            time.sleep(0.01)
    finally:
        scheduler.stop()
    states = {r.state for r in relais.question_store.relays_for_question(question.id)
              if r.expert_id in {f.expert_id for f in first}}
    assert states == {"expired"} and said and said[0].startswith("Scheduled escalations:")
