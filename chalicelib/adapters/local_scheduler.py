"""The embedded profile's timer: what EventBridge schedules do on AWS, in a thread of the local
server."""
from __future__ import annotations

import threading
from datetime import datetime

from ..ports import Clock
from ..services.jobs import ESCALATION_EVERY, ScheduledJobs


class LocalScheduler:
    """The embedded profile's stand-in for the AWS schedules: a daemon thread that runs
    escalations and the outbox's retries every 15 minutes, and the digests once in each
    digest hour. A job that fails is logged and tried again at its next time; the server
    goes on."""

    def __init__(self, jobs: ScheduledJobs, clock: Clock, *, tick_seconds: float = 30.0,
                 log=print):
        self.jobs = jobs
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.log = log
        self.next_escalation: datetime | None = None
        self.last_digest_hour: datetime | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="relais-scheduler", daemon=True)

    def run_due(self) -> list[str]:
        """Run what is due now; the names of the jobs run."""
        now = self.clock.now()
        ran = []
        if self.next_escalation is None or now >= self.next_escalation:
            self.next_escalation = now + ESCALATION_EVERY
            ran.append(self._run("escalations", self.jobs.escalations))
            ran.append(self._run("mail retries", self.jobs.mail_retries))
        hour = now.replace(minute=0, second=0, microsecond=0)
        if self.jobs.digest_due(now) and hour != self.last_digest_hour:
            self.last_digest_hour = hour
            ran.append(self._run("digests", self.jobs.digests))
        return ran

    def _run(self, name: str, job) -> str:
        try:
            result = job()
        except Exception as error:  # noqa: BLE001 (one failed run must not stop the server)
            self.log(f"Scheduled {name} failed: {error!r}; tried again at its next time")
        else:
            if any(result.values()):
                self.log(f"Scheduled {name}: {result}")
        return name

    def _loop(self) -> None:
        while True:
            self.run_due()
            if self._stop.wait(self.tick_seconds):
                return

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
