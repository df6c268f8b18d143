"""Plan scheduling: triggers computed against a fake clock (no real sleeps), job options, DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from publisher.config import PlanConfig, default_plans
from publisher.errors import ConfigError
from publisher.scheduler import PlanScheduler, next_fire_times

AUCKLAND = ZoneInfo("Pacific/Auckland")


def test_interval_plan_fires_every_interval_from_a_fake_now() -> None:
    plan = PlanConfig(name="live", interval=timedelta(minutes=30), lookback=timedelta(hours=6))
    now = datetime(2025, 3, 1, 10, 7, tzinfo=UTC)
    times = next_fire_times(plan, AUCKLAND, now, 4)
    assert [t - times[0] for t in times] == [timedelta(minutes=30 * i) for i in range(4)]
    assert times[0] >= now


def test_daily_plan_fires_at_three_local_time_across_the_dst_change() -> None:
    plan = default_plans()[1]
    # 2025-04-06 03:00 NZDT becomes 02:00 NZST: local 03:00 is 15:00 UTC before, 14:00 UTC... after the change
    times = next_fire_times(plan, AUCKLAND, datetime(2025, 4, 3, 0, 0, tzinfo=UTC), 6)
    local = [t.astimezone(AUCKLAND) for t in times]
    assert all((t.hour, t.minute) == (3, 0) for t in local)
    assert [t.date().isoformat() for t in local] == [f"2025-04-0{d}" for d in range(4, 10)]
    offsets = {t.utcoffset() for t in local}
    assert offsets == {timedelta(hours=13), timedelta(hours=12)}


def test_bad_cron_is_a_config_error() -> None:
    plan = PlanConfig(name="odd", cron="every day", lookback=timedelta(hours=1))
    with pytest.raises(ConfigError, match="is not a crontab expression"):
        next_fire_times(plan, AUCKLAND, datetime(2025, 1, 1, tzinfo=UTC), 1)


def test_jobs_never_overlap_coalesce_and_have_a_misfire_grace() -> None:
    ran: list[str] = []
    scheduler = PlanScheduler(
        default_plans(), AUCKLAND, lambda plan: ran.append(plan.name), misfire_grace=120
    )
    jobs = {job.id: job for job in scheduler.jobs()}
    assert set(jobs) == {"daily"}  # the interval plan runs on the monotonic loop (test_scheduler_monotonic)
    assert [plan.name for plan in scheduler.interval_plans] == ["live"]
    for job in jobs.values():
        assert job.max_instances == 1
        assert job.coalesce is True
        assert job.misfire_grace_time == 120
    assert ran == []  # nothing runs before start()
