"""The work that runs on a timer, the same on both profiles: on AWS, EventBridge schedules call
it (app.py); on the embedded profile, the local server's scheduler thread does
(adapters/local_scheduler.py)."""
from __future__ import annotations

from datetime import datetime, timedelta

from ..ports import Clock, Mailer
from ..worktime import WorkingCalendar

ESCALATION_EVERY = timedelta(minutes=15)
DIGEST_HOUR = 7  # the morning digest goes out at 07:00 where the organisation is


class ScheduledJobs:
    """Escalation of overdue relays, the daily digests, and mails sent again."""

    def __init__(self, routing, notifier, modules, calendar: WorkingCalendar, clock: Clock,
                 mailer: Mailer | None = None):
        self.routing = routing
        self.notifier = notifier
        self.modules = modules
        self.calendar = calendar
        self.clock = clock
        self.mailer = mailer

    def mail_retries(self) -> dict:
        """The mails the SMTP server did not take, sent again (the embedded profile's outbox
        keeps them; SES keeps none)."""
        return self.mailer.retry_failed() if self.mailer is not None else {}

    def escalations(self) -> dict:
        """Relays past their deadline expire; their questions go further (RoutingService)."""
        return self.routing.escalate_due()

    def digest_due(self, now: datetime) -> bool:
        """Whether `now` is digest time: the digest hour of a working day, where the
        organisation is (nobody gets a digest on a weekend or a holiday; what was held for
        them comes on the next working morning)."""
        local = now.astimezone(self.calendar.zone)
        return local.hour == DIGEST_HOUR and self.calendar.is_working_day(local.date())

    def digests(self) -> dict:
        """The daily digests, when it is digest time and the email module is on. Called
        every hour; at any other hour it sends nothing."""
        if not self.digest_due(self.clock.now()) or (self.modules is not None
                                                     and not self.modules.is_on("email")):
            return {"people": 0, "items": 0}
        return self.notifier.send_digests()
