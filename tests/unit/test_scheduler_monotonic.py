"""Interval plans fire on the monotonic clock: wall-clock jumps neither skip nor repeat a cycle.

The loop is driven with a fake monotonic clock (no real sleeps): ``drive`` does what ``IntervalLoop.run``
does, waiting exactly as long as ``step`` asks, by moving the fake clock.
"""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from structlog.testing import capture_logs

from publisher.config import PlanConfig
from publisher.intervals import IntervalLoop
from publisher.scheduler import PlanScheduler

HALF_HOUR = 1800.0
DAY = 86400.0
LIVE = PlanConfig(name="live", interval=timedelta(minutes=30), lookback=timedelta(hours=6))


@dataclass
class Clocks:
    """A monotonic clock that only moves when told, and a wall clock that may also jump."""

    mono: float = 1000.0
    wall_offset: timedelta = timedelta()
    runs: list[tuple[str, float, datetime]] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.mono

    def wall(self) -> datetime:
        return datetime(2025, 4, 5, 12, tzinfo=UTC) + timedelta(seconds=self.mono) + self.wall_offset


def drive(loop: IntervalLoop, clocks: Clocks, until: float) -> None:
    loop.begin()
    while clocks.mono < until:
        wait = loop.step()
        assert wait is not None
        clocks.mono += wait


def test_a_day_of_half_hour_cycles_under_wall_clock_jumps_has_no_gap_and_no_repeat() -> None:
    clocks = Clocks()
    jumps = {3: timedelta(hours=1), 7: timedelta(hours=-1), 8: timedelta(hours=-1), 20: timedelta(hours=1)}

    def job(plan: PlanConfig) -> None:
        clocks.runs.append((plan.name, clocks.mono, clocks.wall()))
        # the wall clock jumps during the run (NTP step, VM restore): ±1 h
        clocks.wall_offset += jumps.get(len(clocks.runs), timedelta())

    loop = IntervalLoop([LIVE], job, monotonic=clocks.monotonic)
    drive(loop, clocks, 1000.0 + DAY)

    times = [mono for _, mono, _ in clocks.runs]
    assert len(times) == 48, "one cycle per half hour of real time: 0 gaps, 0 duplicates"
    assert [b - a for a, b in itertools.pairwise(times)] == [HALF_HOUR] * 47
    walls = [wall for _, _, wall in clocks.runs]
    steps = {b - a for a, b in itertools.pairwise(walls)}
    assert steps == {timedelta(minutes=30), timedelta(minutes=90), timedelta(minutes=-30)}, (
        "the wall clock really jumped ahead and back between the runs"
    )


def test_without_run_now_the_first_cycle_comes_one_interval_after_start() -> None:
    clocks = Clocks()
    loop = IntervalLoop(
        [LIVE],
        lambda p: clocks.runs.append((p.name, clocks.mono, clocks.wall())),
        run_now=False,
        monotonic=clocks.monotonic,
    )
    drive(loop, clocks, 1000.0 + 3 * HALF_HOUR + 1)
    assert [mono for _, mono, _ in clocks.runs] == [1000.0 + k * HALF_HOUR for k in (1, 2, 3)]


def test_fire_times_missed_by_a_long_cycle_collapse_into_one_run() -> None:
    clocks = Clocks()

    def job(plan: PlanConfig) -> None:
        clocks.runs.append((plan.name, clocks.mono, clocks.wall()))
        if len(clocks.runs) == 1:
            clocks.mono += 62 * 60.0  # the first cycle runs 62 minutes: fire times at 30 and 60 pass

    loop = IntervalLoop([LIVE], job, misfire_grace=300, monotonic=clocks.monotonic)
    drive(loop, clocks, 1000.0 + 2.5 * 3600)
    assert [mono - 1000.0 for _, mono, _ in clocks.runs] == [0.0, 62 * 60.0, 90 * 60.0, 120 * 60.0]


def test_a_run_later_than_the_misfire_grace_is_skipped_not_run_late() -> None:
    clocks = Clocks()

    def job(plan: PlanConfig) -> None:
        clocks.runs.append((plan.name, clocks.mono, clocks.wall()))
        if len(clocks.runs) == 1:
            clocks.mono += 70 * 60.0  # ends 10 minutes after the 60-minute fire time

    loop = IntervalLoop([LIVE], job, misfire_grace=300, monotonic=clocks.monotonic)
    drive(loop, clocks, 1000.0 + 2.5 * 3600)
    assert [mono - 1000.0 for _, mono, _ in clocks.runs] == [0.0, 90 * 60.0, 120 * 60.0]


def test_jitter_delays_each_run_but_never_shifts_the_grid() -> None:
    clocks = Clocks()
    plan = LIVE.model_copy(update={"jitter": timedelta(minutes=5)})
    loop = IntervalLoop(
        [plan],
        lambda p: clocks.runs.append((p.name, clocks.mono, clocks.wall())),
        monotonic=clocks.monotonic,
        rng=random.Random(5),
    )
    drive(loop, clocks, 1000.0 + DAY)
    offsets = [mono - 1000.0 - k * HALF_HOUR for k, (_, mono, _) in enumerate(clocks.runs)]
    assert len(offsets) == 48
    assert all(0.0 <= offset <= 300.0 for offset in offsets)
    assert len(set(offsets)) > 40, "each run draws its own delay"


def test_several_plans_run_one_at_a_time_in_order_of_their_fire_times() -> None:
    clocks = Clocks()
    quick = PlanConfig(name="quick", interval=timedelta(minutes=20), lookback=timedelta(hours=1))
    loop = IntervalLoop(
        [LIVE, quick],
        lambda p: clocks.runs.append((p.name, clocks.mono, clocks.wall())),
        monotonic=clocks.monotonic,
    )
    drive(loop, clocks, 1000.0 + 3600.0 + 1)
    assert [(name, mono - 1000.0) for name, mono, _ in clocks.runs] == [
        ("live", 0.0),
        ("quick", 0.0),
        ("quick", 1200.0),
        ("live", 1800.0),
        ("quick", 2400.0),
        ("live", 3600.0),
        ("quick", 3600.0),
    ]


def test_a_crashing_run_is_logged_and_the_schedule_goes_on() -> None:
    clocks = Clocks()

    def job(plan: PlanConfig) -> None:
        clocks.runs.append((plan.name, clocks.mono, clocks.wall()))
        if len(clocks.runs) == 1:
            raise RuntimeError("boom")

    loop = IntervalLoop([LIVE], job, monotonic=clocks.monotonic)
    with capture_logs() as logs:
        drive(loop, clocks, 1000.0 + HALF_HOUR + 1)
    assert len(clocks.runs) == 2
    assert [entry["plan"] for entry in logs if entry["event"] == "plan_run_crashed"] == ["live"]


def test_the_scheduler_puts_interval_plans_on_the_monotonic_loop_and_cron_plans_on_apscheduler() -> None:
    daily = PlanConfig(name="daily", cron="0 3 * * *", lookback=timedelta(days=14))
    scheduler = PlanScheduler([LIVE, daily], ZoneInfo("Pacific/Auckland"), lambda _p: None)
    assert [plan.name for plan in scheduler.interval_plans] == ["live"]
    assert [job.id for job in scheduler.jobs()] == ["daily"]


def test_interval_and_cron_runs_never_overlap_and_shutdown_waits_for_them() -> None:
    daily = PlanConfig(name="daily", cron="0 3 * * *", lookback=timedelta(days=14))
    lock = threading.Lock()
    active, overlaps, ran = [0], [0], []
    both_ran = threading.Event()

    def job(plan: PlanConfig) -> None:
        with lock:
            active[0] += 1
            overlaps[0] = max(overlaps[0], active[0])
        both_ran.wait(0.2)  # give the other plan every chance to start meanwhile
        with lock:
            active[0] -= 1
            ran.append(plan.name)
            if len(ran) == 2:
                both_ran.set()

    scheduler = PlanScheduler([LIVE, daily], ZoneInfo("Pacific/Auckland"), job)
    scheduler.start()
    assert scheduler.running
    assert both_ran.wait(10), "both plans run at start-up"
    scheduler.shutdown(wait=True)
    assert not scheduler.running
    assert sorted(ran) == ["daily", "live"]
    assert overlaps[0] == 1
