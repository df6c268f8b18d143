"""Scenario 8, DST and clock: daylight-saving days end to end, and a wall clock that jumps.

- The 2025 transition days of Pacific/Auckland (6 April back, 28 September forward) and Australia/Sydney
  (6 April back, 5 October forward) are polled through ``build_service`` → ``Runner.cycle`` and read back
  from Kafka (read_committed): every 30-minute series has exactly 50 distinct half-hour events on the
  25-hour days and 46 on the 23-hour days, equal to the simulator's truth, and the repeated local hour is
  never collapsed: each of its wall times carries two events whose UTC starts are one hour apart. Request
  windows of 7 days and 30 minutes (and 1 hour in ``make chaos``) are tried, so some requests lie wholly
  inside the repeated hour (their offset-less local times say nothing about which of the two hours they
  mean; the requested window does).
- Cycles whose "now" jumps an hour ahead or back, between and within cycles, publish every interval of the
  truth once: 0 gaps, 0 duplicates, no spurious revision. (When cycles run, under such jumps, is covered by
  tests/unit/test_scheduler_monotonic.py: interval plans fire on the monotonic clock.)
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from publisher.app import build_service
from publisher.config import Settings
from publisher.pipeline.runner import group_targets
from publisher.simulator.clock import SimClock
from publisher.simulator.server import SimulatorServer
from support.chaos import scale
from support.pipeline import (
    FORWARD,
    REVERSE,
    fact_of_event,
    latest,
    read_events,
    small_config,
    truth,
    wiring,
    write_registry,
)

AUCKLAND, SYDNEY = "Pacific/Auckland", "Australia/Sydney"
#: (zone, local day, half-hours that day)
DST_DAYS = (
    (AUCKLAND, date(2025, 4, 6), 50),
    (AUCKLAND, date(2025, 9, 28), 46),
    (SYDNEY, date(2025, 4, 6), 50),
    (SYDNEY, date(2025, 10, 5), 46),
)
HALF_HOUR = timedelta(minutes=30)


def local_day_bounds(zone: str, day: date) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


@pytest.fixture
def dst_sim() -> Iterator[SimulatorServer]:
    server = SimulatorServer(small_config(4, seed=83), clock=SimClock(datetime(2025, 4, 1, tzinfo=UTC)))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def poll(settings: Settings, sim: SimulatorServer, lookback: timedelta) -> None:
    """One live cycle at the simulator's time, through the objects ``run`` and ``once`` build."""
    service = build_service(settings, clock=sim.clock.now)
    try:
        service.start()
        plan = settings.publisher_plans[0]
        service.runner.cycle(plan.name, group_targets(service.registry, plan.reading_types), lookback)
    finally:
        service.close()


@pytest.mark.parametrize("window", scale(["P7D", "PT30M"], ["P7D", "PT1H", "PT30M"]))
def test_dst_days_have_46_and_50_distinct_half_hours_and_the_repeated_hour_twice(
    dst_sim: SimulatorServer, kafka_bootstrap: str, tmp_path: Path, window: str
) -> None:
    sim = dst_sim
    registry = write_registry(tmp_path / "registry.yaml", sim.config)
    settings = wiring(
        sim, kafka_bootstrap, registry, NETSTREAM_WINDOW=window, NETSTREAM_MIN_WINDOW="PT30M"
    ).settings()
    # one cycle two days after each transition day (late data and revisions have settled by then), looking
    # back far enough to cover the whole local day in both zones
    for day in sorted({day for _, day, _ in DST_DAYS}):
        sim.clock.set(datetime.combine(day + timedelta(days=2), time(0), tzinfo=UTC))
        poll(settings, sim, timedelta(days=3))

    events = read_events(kafka_bootstrap, settings.publisher_topic)
    newest = latest(events)
    for zone, day, half_hours in DST_DAYS:
        start, end = local_day_bounds(zone, day)
        assert end - start == half_hours * HALF_HOUR
        points = [p for p in sim.config.usage_points if p.timezone == zone]
        assert points
        for point, reading_type in itertools.product(points, (FORWARD, REVERSE)):
            series = {
                key: event
                for key, event in newest.items()
                if key[:2] == (point.mrid, reading_type) and key[2] is not None and start <= key[2] < end
            }
            starts = sorted(key[2] for key in series)
            label = f"{zone} {day} {point.mrid} {reading_type[:8]}"
            assert len(starts) == half_hours, label
            assert [b - a for a, b in itertools.pairwise(starts)] == [HALF_HOUR] * (half_hours - 1), label
            expected = {f for f in truth(sim, sim.config, start, end) if f[:2] == (point.mrid, reading_type)}
            assert {fact_of_event(e) for e in series.values()} == expected, label
            walls = Counter(s.astimezone(ZoneInfo(zone)).replace(tzinfo=None) for s in starts)
            repeated = sorted(wall.time() for wall, count in walls.items() if count == 2)
            if half_hours == 50:
                assert repeated == [time(2, 0), time(2, 30)], label
                for wall in repeated:
                    pair = [s for s in starts if s.astimezone(ZoneInfo(zone)).time() == wall]
                    assert len(pair) == 2
                    assert pair[1] - pair[0] == timedelta(hours=1), label
            else:
                assert repeated == [], label
                assert {time(2, 0), time(2, 30)}.isdisjoint(w.time() for w in walls), label
    # a fact is never published twice, and nothing was "revised" into the wrong hour and back
    assert max(Counter(fact_of_event(e) for e in events).values()) == 1
    assert max(Counter((*fact_of_event(e)[:4], e["revision"]) for e in events).values()) == 1


class JumpingClock:
    """The publisher's wall clock: the simulator's true time plus an offset that jumps.

    ``plan[cycle]`` is (offset at the start of the cycle, offset after the cycle's first reading of the
    clock), so a jump can fall between cycles or inside one.
    """

    def __init__(self, sim: SimulatorServer, plan: dict[int, tuple[timedelta, timedelta]]) -> None:
        self._sim = sim
        self._plan = plan
        self._cycle = 0
        self._reads = 0
        self.offsets: list[timedelta] = []

    def start_cycle(self, cycle: int) -> None:
        self._cycle, self._reads = cycle, 0

    def now(self) -> datetime:
        before, after = self._plan.get(self._cycle, (timedelta(), timedelta()))
        offset = before if self._reads == 0 else after
        self._reads += 1
        self.offsets.append(offset)
        return self._sim.clock.now() + offset


def test_a_wall_clock_jumping_an_hour_ahead_and_back_gives_no_gap_and_no_duplicate(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    hour = timedelta(hours=1)
    zero = timedelta()
    # between cycles: +1 h for cycles 3-5, -1 h for cycles 8-10; within cycles 6 (+1 h → 0) and 12 (0 → -1 h)
    plan = {
        **dict.fromkeys(range(3, 6), (hour, hour)),
        6: (hour, zero),
        **dict.fromkeys(range(8, 11), (-hour, -hour)),
        12: (zero, -hour),
        13: (-hour, zero),
    }
    cycles = 16
    lookback = timedelta(hours=9)  # late data (up to 6 h) + a 1 h jump + a cycle, with room to spare
    config = small_config(4, seed=97, revision_fraction=0.0)
    first_now = datetime(2025, 4, 5, 9, 0, tzinfo=UTC)  # the Auckland and Sydney fall-back is inside
    with SimulatorServer(config, clock=SimClock(first_now)) as sim:
        registry = write_registry(tmp_path / "registry.yaml", config)
        settings = wiring(sim, kafka_bootstrap, registry).settings()
        clock = JumpingClock(sim, plan)
        service = build_service(settings, clock=clock.now)
        cycle_nows: list[datetime] = []
        try:
            service.start()
            groups = group_targets(service.registry, settings.publisher_plans[0].reading_types)
            for cycle in range(cycles):
                clock.start_cycle(cycle)
                service.runner.cycle("live", groups, lookback)
                cycle_nows.append(sim.clock.now())
                sim.clock.advance(HALF_HOUR)
        finally:
            service.close()
        first_start = (first_now - lookback).replace(minute=0)
        last_now = cycle_nows[-1]  # the last cycle ran on the true time
        expected = truth(sim, config, first_start, last_now)
        events = read_events(kafka_bootstrap, settings.publisher_topic)

    assert {hour, -hour, zero} <= set(clock.offsets), "the clock really jumped both ways"
    published = defaultdict(list)
    for event in events:
        published[fact_of_event(event)[:4]].append(event)
    gaps = [fact for fact in expected if fact[:4] not in published]
    duplicates = sum(len(found) - 1 for found in published.values())
    assert len(expected) > 4 * 2 * 2 * 9
    assert gaps == []
    assert duplicates == 0
    assert {e["revision"] for e in events} == {0}, "no spurious revision"
    assert {
        fact_of_event(found[0]) for found in published.values() if found[0]["interval_end"] <= last_now
    } >= (expected)
    print(  # the figures quoted in docs/reliability.md
        "clock-jump figures:", {"cycles": cycles, "events": len(events), "truth": len(expected), "gaps": 0}
    )
