"""Poll plans: interval plans on the monotonic clock, cron plans on APScheduler 3, never two runs at once.

Each plan has an interval or a cron trigger (cron in the Netstream time zone) with optional jitter.
Interval plans fire every ``interval`` of the monotonic clock (:mod:`publisher.intervals`), so a wall clock
that jumps back or ahead neither delays nor repeats a cycle; cron plans are wall-clock by nature and run on
APScheduler. Jobs run with ``max_instances=1`` and coalescing, so a slow cycle never overlaps itself and
missed runs collapse into one; a run later than the misfire grace time is skipped rather than run late. A
lock around every run means plans run one after another: the shard has one transactional producer, which
is not shared across threads.
"""

from __future__ import annotations

import random
import threading
import time
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
from publisher.intervals import IntervalLoop

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
    """Runs ``job(plan)`` for every plan on its trigger until :meth:`shutdown`.

    ``monotonic`` and ``rng`` drive the interval plans' loop (tests pass fakes).
    """

    def __init__(
        self,
        plans: Sequence[PlanConfig],
        zone: ZoneInfo,
        job: Callable[[PlanConfig], None],
        *,
        run_now: bool = True,
        misfire_grace: int = MISFIRE_GRACE,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        one_at_a_time = threading.Lock()

        def serial(plan: PlanConfig) -> None:
            with one_at_a_time:
                job(plan)

        self._intervals = IntervalLoop(
            plans, serial, run_now=run_now, misfire_grace=misfire_grace, monotonic=monotonic, rng=rng
        )
        self._loop_thread: threading.Thread | None = None
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)}, timezone=zone
        )
        for plan in plans:
            if plan.interval is not None:
                continue  # on the monotonic loop
            options: dict[str, Any] = {}
            if run_now:
                options["next_run_time"] = datetime.now(zone)  # first cycle at start-up, then on the trigger
            self._scheduler.add_job(
                serial,
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
        """The cron plans' jobs (APScheduler ``Job`` objects)."""
        return list(self._scheduler.get_jobs())

    @property
    def interval_plans(self) -> list[PlanConfig]:
        """The plans fired on the monotonic clock."""
        return self._intervals.plans

    def start(self) -> None:
        """Start scheduling in the background."""
        self._scheduler.start()
        for job in self._scheduler.get_jobs():
            log.info("plan_scheduled", plan=job.id, next_run=str(job.next_run_time))
        if self._intervals.plans:
            self._loop_thread = threading.Thread(
                target=self._intervals.run, name="interval-plans", daemon=True
            )
            self._loop_thread.start()

    @property
    def running(self) -> bool:
        """True while the scheduler runs."""
        loop_ok = self._loop_thread is None or self._loop_thread.is_alive()
        return bool(self._scheduler.running) and loop_ok

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop scheduling; with ``wait``, return once the running cycle (if any) has finished."""
        if not self._scheduler.running:
            return
        self._intervals.stop()
        self._scheduler.shutdown(wait=wait)
        if wait and self._loop_thread is not None:
            self._loop_thread.join()
        log.info("scheduler_stopped")
