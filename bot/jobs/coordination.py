"""The scheduler's coordination jobs: meeting reminders, daily digests, the weekly summary.

Reminder jobs are rebuilt from the database at start and whenever a meeting is added or
cancelled; each job only asks the meetings service what is due, which queues each reminder
once (the database records it), so a restart, a late job or a double run sends nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from bot.services import digests, meetings, situation
from bot.services.hub_messages import HubPolicy
from bot.services.ports import UnitOfWorkFactory
from bot.services.store_boundary import StoreBoundary, in_unit, store_boundary

log = logging.getLogger(__name__)

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class CoordinationJobs:
    def __init__(self, store: UnitOfWorkFactory | StoreBoundary, policy: HubPolicy,
                 clock: Callable[[], datetime], wake: Callable[[], None] = lambda: None,
                 summary_day: str = "mon", summary_hour: int = 8) -> None:
        self._store = store_boundary(store)
        self._policy = policy
        self._clock = clock
        self._wake = wake
        self._summary_day = summary_day
        self._summary_hour = summary_hour
        self._scheduler: BaseScheduler | None = None

    def attach(self, scheduler: BaseScheduler) -> None:
        """Add the jobs to the scheduler and catch up on what fell due while the bot was down
        (store work: run it in a store thread, as `await boundary.call(jobs.attach, ...)`)."""
        self._scheduler = scheduler
        zone = ZoneInfo(self._policy.zone)
        scheduler.add_job(self._off_loop(self.release_digests),
                          CronTrigger(minute=0, timezone=zone), id="digests", max_instances=1,
                          coalesce=True, misfire_grace_time=3600)
        scheduler.add_job(self._off_loop(self.weekly_summary),
                          CronTrigger(day_of_week=self._summary_day, hour=self._summary_hour,
                                      timezone=zone),
                          id="weekly-summary", max_instances=1, coalesce=True,
                          misfire_grace_time=24 * 3600)
        self.resync_reminders()
        self.release_digests()
        self.catch_up_weekly_summary()

    def resync_reminders(self) -> int:
        """Send due reminders (late ones once) and schedule one job per reminder to come."""
        now = self._clock()
        later = in_unit(self._store, meetings.send_due_reminders, self._policy, now)
        self._wake()
        scheduler = self._scheduler
        if scheduler is None:
            return len(later)
        wanted = {f"reminder:{mid}:{name}": when for mid, name, when in later}
        for job in scheduler.get_jobs():
            if job.id.startswith("reminder:") and job.id not in wanted:
                job.remove()
        for job_id, when in wanted.items():
            scheduler.add_job(self._off_loop(self.resync_reminders),
                              DateTrigger(run_date=when), id=job_id, replace_existing=True,
                              misfire_grace_time=None, coalesce=True)
        log.info("meeting reminders: %d scheduled", len(wanted))
        return len(wanted)

    def release_digests(self) -> int:
        released = in_unit(self._store, digests.release_due, self._policy, self._clock())
        if released:
            self._wake()
        return released

    def weekly_summary(self, week_of: datetime | None = None) -> int:
        now = self._clock()
        queued = in_unit(self._store, situation.send_weekly_summary, self._policy, now,
                         week_of or now)
        if queued:
            self._wake()
            log.info("weekly summary queued for %d coordinators and admins", queued)
        return queued

    def _off_loop(self, job: Callable[[], int]) -> Callable[[], Awaitable[int]]:
        """The scheduler runs the job on the event loop; its store work goes to a store thread."""
        async def run() -> int:
            return await self._store.call(job)
        return run

    def catch_up_weekly_summary(self) -> int:
        """A summary missed by less than a day (the bot was down at its hour) is sent late."""
        now = self._clock()
        slot = last_weekly_slot(now, self._summary_day, self._summary_hour, self._policy.zone)
        if now - slot < timedelta(days=1):
            return self.weekly_summary(week_of=slot)
        return 0


def last_weekly_slot(now: datetime, day: str, hour: int, zone: str) -> datetime:
    local = now.astimezone(ZoneInfo(zone))
    days_back = (local.weekday() - _DAYS.index(day)) % 7
    slot = datetime.combine((local - timedelta(days=days_back)).date(),
                            datetime.min.time().replace(hour=hour), tzinfo=ZoneInfo(zone))
    if slot > local:
        slot -= timedelta(days=7)
        slot = datetime.combine(slot.date(), slot.time(), tzinfo=ZoneInfo(zone))
    return slot.astimezone(ZoneInfo("UTC"))
