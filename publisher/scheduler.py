"""Poll plans on APScheduler 3: one job per plan, run one at a time on a single worker thread.

Each plan has an interval or a cron trigger (cron in the Netstream time zone) with optional jitter. Jobs
run with ``max_instances=1`` and coalescing, so a slow cycle never overlaps itself and missed runs collapse
into one; a run later than the misfire grace time is skipped rather than run late. One worker thread
means plans run one after another: the shard has one transactional producer, which is not shared across
threads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from publisher.config import PlanConfig
from publisher.errors import ConfigError

log = structlog.get_logger(__name__)

#: seconds a run may start late before it is skipped (coalesced into the next)
MISFIRE_GRACE = 300


def trigger_for(plan: PlanConfig, zone: ZoneInfo) -> IntervalTrigger | CronTrigger:
    """The APScheduler trigger of a plan; cron expressions are read in ``zone``."""
    jitter = int(plan.jitter.total_seconds()) or None
    if plan.interval is not None:
        return IntervalTrigger(seconds=plan.interval.total_seconds(), timezone=zone, jitter=jitter)
    assert plan.cron is not None
    try:
        return CronTrigger.from_crontab(plan.cron, timezone=zone)
    except ValueError as exc:
        raise ConfigError(
            f"plan {plan.name!r}: cron {plan.cron!r} is not a crontab expression like '0 3 * * *'"
        ) from exc


def next_fire_times(plan: PlanConfig, zone: ZoneInfo, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times of a plan after ``after`` (no jitter), for tests and ``check``."""
    trigger = trigger_for(plan.model_copy(update={"jitter": plan.jitter * 0}), zone)
    times: list[datetime] = []
    previous: datetime | None = None
    now = after
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None:
            break
        times.append(fire)
        previous, now = fire, fire
    return times


class PlanScheduler:
    """Runs ``job(plan)`` for every plan on its trigger until :meth:`shutdown`."""

    def __init__(
        self,
        plans: Sequence[PlanConfig],
        zone: ZoneInfo,
        job: Callable[[PlanConfig], None],
        *,
        run_now: bool = True,
        misfire_grace: int = MISFIRE_GRACE,
    ) -> None:
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)}, timezone=zone
        )
        for plan in plans:
            options: dict[str, Any] = {}
            if run_now:
                options["next_run_time"] = datetime.now(zone)  # first cycle at start-up, then on the trigger
            self._scheduler.add_job(
                job,
                trigger_for(plan, zone),
                args=[plan],
                id=plan.name,
                name=plan.name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=misfire_grace,
                **options,
            )

    def jobs(self) -> list[Any]:
        """The scheduled jobs (APScheduler ``Job`` objects)."""
        return list(self._scheduler.get_jobs())

    def start(self) -> None:
        """Start scheduling in the background."""
        self._scheduler.start()
        for job in self._scheduler.get_jobs():
            log.info("plan_scheduled", plan=job.id, next_run=str(job.next_run_time))

    @property
    def running(self) -> bool:
        """True while the scheduler runs."""
        return bool(self._scheduler.running)

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop scheduling; with ``wait``, return once the running cycle (if any) has finished."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
            log.info("scheduler_stopped")
