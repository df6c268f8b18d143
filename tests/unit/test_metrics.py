"""Prometheus metrics: names, the observer hooks of both sides, cycles, freshness and completeness."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from publisher.app import build_client
from publisher.config import load_settings
from publisher.metrics import Metrics, build_metrics, is_interval_type, revisions_by_topic
from publisher.netstream.client import ClientObserver, FetchedWindow
from publisher.netstream.localtime import local_midnight
from publisher.netstream.model import Reading, ReadingKind, ReadingsRequest, Target, TargetKind, WireFormat
from publisher.netstream.parse_common import ParsedResponse
from publisher.pipeline.publishing import CycleStats
from publisher.simulator.clock import SimClock
from publisher.simulator.faults import FaultRule
from publisher.simulator.server import SimulatorServer
from support.pipeline import small_config, wiring, write_registry

FORWARD = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
REVERSE = "0.0.5.4.19.1.12.0.0.0.0.0.0.0.224.3.72.0"
DAILY = "0.0.4.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
MONTHLY_REGISTER = "13.0.0.1.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
AUCKLAND = ZoneInfo("Pacific/Auckland")
SYDNEY = ZoneInfo("Australia/Sydney")
#: 6 April 2025 is Auckland's 25-hour day (daylight saving ends): 50 half-hours
DST_DAY = date(2025, 4, 6)
NOW = local_midnight(DST_DAY + timedelta(days=1), AUCKLAND) + timedelta(hours=9)  # 7 April, 09:00 local
HALF_HOUR = timedelta(minutes=30)


class Clock:
    """A settable clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def zone_of(usage_point: str) -> ZoneInfo:
    return SYDNEY if usage_point.startswith("syd") else AUCKLAND


def make(clock: Clock | None = None) -> tuple[Metrics, CollectorRegistry]:
    registry = CollectorRegistry()
    metrics = Metrics(
        registry,
        shard=2,
        dlq_topic="dlq",
        topics=["readings"],
        plans=["recent"],
        clock=clock or Clock(NOW),
    )
    return metrics, registry


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def interval(
    usage_point: str,
    start: datetime,
    amount: str | None = "1.5",
    rt: str = FORWARD,
    step: timedelta = HALF_HOUR,
) -> Reading:
    return Reading(
        usage_point,
        None,
        rt,
        ReadingKind.INTERVAL,
        start,
        start + step,
        None if amount is None else Decimal(amount),
        0 if amount is not None else None,
        (),
    )


def day_of(usage_point: str, day: date, *, count: int | None = None, rt: str = FORWARD) -> list[Reading]:
    """Consecutive half-hours of the local day (all of them unless ``count``)."""
    start = local_midnight(day, zone_of(usage_point))
    end = local_midnight(day + timedelta(days=1), zone_of(usage_point))
    total = (end - start) // HALF_HOUR if count is None else count
    return [interval(usage_point, start + i * HALF_HOUR, rt=rt) for i in range(total)]


def window(
    targets: list[Target],
    readings: list[Reading],
    start: datetime = NOW - timedelta(hours=48),
    end: datetime = NOW,
    types: tuple[str, ...] = (FORWARD,),
) -> FetchedWindow:
    return FetchedWindow(
        ReadingsRequest(tuple(targets), types, start, end), ParsedResponse(readings=readings), WireFormat.JSON
    )


def up(mrid: str) -> Target:
    return Target(TargetKind.USAGE_POINT, mrid)


# ------------------------------------------------------------------------------------------------ names


def test_every_metric_name_has_the_project_prefix_and_the_contract_counter_exists() -> None:
    _, registry = make()
    names = [metric.name for metric in registry.collect()]
    assert names
    assert all(name.startswith("netstream_publisher_") for name in names), names
    assert value(registry, "netstream_publisher_events_published_total", topic="readings") == 0.0
    text = generate_latest(registry).decode()
    assert 'netstream_publisher_events_published_total{topic="readings"} 0.0' in text
    assert 'netstream_publisher_transactions_total{outcome="aborted"} 0.0' in text
    assert 'netstream_publisher_cycles_total{outcome="failed",plan="recent"} 0.0' in text


def test_separate_registries_do_not_share_counts() -> None:
    first, first_registry = make()
    _, second_registry = make()
    first.transaction_aborted()
    assert value(first_registry, "netstream_publisher_transactions_total", outcome="aborted") == 1.0
    assert value(second_registry, "netstream_publisher_transactions_total", outcome="aborted") == 0.0


def test_build_metrics_creates_the_configured_topics_and_plans() -> None:
    settings = load_settings(
        None,
        {
            "PUBLISHER_TOPIC": "main",
            "PUBLISHER_TOPICS": '{"register": "registers"}',
            "PUBLISHER_DLQ_TOPIC": "bad",
            "PUBLISHER_SHARD_INDEX": "1",
            "PUBLISHER_SHARD_COUNT": "2",
        },
    )
    registry = CollectorRegistry()
    build_metrics(settings, registry)
    for topic in ("main", "registers"):
        assert value(registry, "netstream_publisher_events_published_total", topic=topic) == 0.0
    assert value(registry, "netstream_publisher_events_dead_lettered_total", topic="bad") == 0.0
    for plan in settings.publisher_plans:
        for outcome in ("succeeded", "failed"):
            assert value(registry, "netstream_publisher_cycles_total", plan=plan.name, outcome=outcome) == 0.0


# ------------------------------------------------------------------------------------------------ client


def test_client_observer_counts_attempts_by_status_retries_and_rate_limit_waits() -> None:
    metrics, registry = make()
    metrics.request_completed(200, 0.2)
    metrics.request_completed(200, 0.3)
    metrics.request_completed(429, 0.01)
    metrics.request_completed(None, 10.0)
    metrics.request_retried("http_429", 2.0)
    metrics.request_retried("connection_error", 0.4)
    metrics.request_retried("http_429", 1.0)
    metrics.rate_limited(0.25)
    metrics.rate_limited(0.5)

    requests = "netstream_publisher_api_requests_total"
    assert value(registry, requests, status="200") == 2.0
    assert value(registry, requests, status="429") == 1.0
    assert value(registry, requests, status="error") == 1.0
    assert value(registry, "netstream_publisher_api_request_seconds_count") == 4.0
    assert value(registry, "netstream_publisher_api_request_seconds_sum") == pytest.approx(10.51)
    assert value(registry, "netstream_publisher_api_request_seconds_bucket", le="0.25") == 2.0
    assert value(registry, "netstream_publisher_api_retries_total", reason="http_429") == 2.0
    assert value(registry, "netstream_publisher_api_retries_total", reason="connection_error") == 1.0
    assert value(registry, "netstream_publisher_api_rate_limit_wait_seconds_total") == pytest.approx(0.75)


# ------------------------------------------------------------------------------------------------ pipeline


def test_committed_transactions_count_events_by_topic() -> None:
    metrics, registry = make()
    metrics.transaction_committed(
        CycleStats(
            fetched=12,
            new=4,
            revised=2,
            suppressed=5,
            dlq=1,
            windows=1,
            per_topic={"readings": 6},
            revised_per_topic={"readings": 2},
        )
    )
    metrics.transaction_committed(CycleStats(fetched=3, suppressed=3, windows=1))
    metrics.transaction_aborted()

    assert value(registry, "netstream_publisher_events_published_total", topic="readings") == 6.0
    assert value(registry, "netstream_publisher_events_revised_total", topic="readings") == 2.0
    assert value(registry, "netstream_publisher_events_suppressed_total") == 8.0
    assert value(registry, "netstream_publisher_events_dead_lettered_total", topic="dlq") == 1.0
    assert value(registry, "netstream_publisher_transactions_total", outcome="committed") == 2.0
    assert value(registry, "netstream_publisher_transactions_total", outcome="aborted") == 1.0


def test_revisions_of_a_window_spread_over_routed_topics() -> None:
    spread = CycleStats(
        revised=3,
        per_topic={"readings": 5, "registers": 1},
        revised_per_topic={"readings": 2, "registers": 1},
    )
    assert revisions_by_topic(spread) == {"readings": 2, "registers": 1}
    assert revisions_by_topic(CycleStats(per_topic={"readings": 5})) == {}


def test_cycles_count_outcomes_durations_and_the_last_success() -> None:
    clock = Clock(NOW)
    metrics, registry = make(clock)
    metrics.cycle_completed("recent", CycleStats(windows=2), 12.5, ok=True)
    clock.now = NOW + timedelta(minutes=30)
    metrics.cycle_completed("recent", CycleStats(windows=2, failed_windows=1), 40.0, ok=False)

    assert value(registry, "netstream_publisher_cycles_total", plan="recent", outcome="succeeded") == 1.0
    assert value(registry, "netstream_publisher_cycles_total", plan="recent", outcome="failed") == 1.0
    assert value(registry, "netstream_publisher_cycle_duration_seconds_count", plan="recent") == 2.0
    assert value(registry, "netstream_publisher_cycle_duration_seconds_sum", plan="recent") == 52.5
    assert (
        value(registry, "netstream_publisher_last_cycle_success_timestamp_seconds", plan="recent")
        == NOW.timestamp()
    )


def test_state_restore_sets_the_state_gauges() -> None:
    metrics, registry = make()
    metrics.state_restored(3.25, 1200, 16800)
    assert value(registry, "netstream_publisher_state_restore_seconds") == 3.25
    assert value(registry, "netstream_publisher_state_series") == 1200.0
    assert value(registry, "netstream_publisher_state_days") == 16800.0
    metrics.state_size(1100, 15000)
    assert value(registry, "netstream_publisher_state_series") == 1100.0
    assert value(registry, "netstream_publisher_state_restore_seconds") == 3.25


# ------------------------------------------------------------------------------------------------ freshness


def test_freshness_is_now_minus_the_newest_end_with_a_value() -> None:
    clock = Clock(NOW)
    metrics, registry = make(clock)
    assert value(registry, "netstream_publisher_data_freshness_seconds", shard="2") is None

    newest = NOW - timedelta(hours=2)
    readings = [
        interval("up-a", newest - HALF_HOUR),  # ends at `newest`
        interval("up-a", newest - 2 * HALF_HOUR),
        interval("up-a", newest, amount=None),  # later, but missing: not data
    ]
    metrics.window_published(window([up("up-a")], readings), zone_of)
    assert value(registry, "netstream_publisher_data_freshness_seconds", shard="2") == 7200.0

    clock.now = NOW + timedelta(minutes=10)  # read at scrape time
    assert value(registry, "netstream_publisher_data_freshness_seconds", shard="2") == 7800.0
    metrics.window_published(window([up("up-a")], [interval("up-a", newest - 5 * HALF_HOUR)]), zone_of)
    assert value(registry, "netstream_publisher_data_freshness_seconds", shard="2") == 7800.0


# ---------------------------------------------------------------------------------------------- completeness


def completeness(registry: CollectorRegistry) -> float | None:
    return value(registry, "netstream_publisher_data_completeness_ratio", shard="2")


def test_interval_types_are_fixed_length_or_daily_deltas_never_registers() -> None:
    assert is_interval_type(FORWARD)
    assert is_interval_type(DAILY)
    assert not is_interval_type(MONTHLY_REGISTER)
    assert not is_interval_type("0.0.5.1.1.1.12.0.0.0.0.0.0.0.224.3.72.0")  # 30-minute bulkQuantity
    assert not is_interval_type("not-a-reading-type")


def test_completeness_counts_the_last_complete_local_day_including_its_dst_length() -> None:
    metrics, registry = make()
    readings = [
        *day_of("up-a", DST_DAY),  # all 50 half-hours of the 25-hour day
        *day_of("up-b", DST_DAY, count=40),
        interval("up-b", local_midnight(DST_DAY, AUCKLAND) + 40 * HALF_HOUR, amount=None),  # missing
        *day_of("up-b", DST_DAY + timedelta(days=1), count=18),  # today: not counted
    ]
    metrics.window_published(window([up("up-a"), up("up-b")], readings), zone_of)
    assert completeness(registry) is None  # only at the end of the cycle
    metrics.cycle_completed("recent", CycleStats(windows=1), 5.0, ok=True)

    assert completeness(registry) == pytest.approx(90 / 100)


def test_completeness_over_zones_groups_and_windows_of_one_cycle() -> None:
    metrics, registry = make()
    group = Target(TargetKind.USAGE_POINT_GROUP, "group-1")
    sydney_day = date(2025, 4, 6)  # Sydney's DST also ends on 6 April: 50 half-hours
    first_half = NOW - timedelta(hours=48)
    middle = NOW - timedelta(hours=24)
    metrics.window_published(
        window([group], [*day_of("syd-1", sydney_day, count=20)], start=first_half, end=middle), zone_of
    )
    metrics.window_published(
        window([group], [*day_of("syd-1", sydney_day)[20:]], start=middle, end=NOW), zone_of
    )
    metrics.window_published(
        window([up("up-a")], day_of("up-a", DST_DAY, rt=DAILY, count=0), types=(FORWARD, DAILY)), zone_of
    )
    metrics.cycle_completed("recent", CycleStats(windows=3), 5.0, ok=True)

    # expected: syd-1 forward (50) + up-a forward (50) + up-a daily (1); received: syd-1's 50
    assert completeness(registry) == pytest.approx(50 / 101)


def test_register_readings_neither_count_nor_expect() -> None:
    metrics, registry = make()
    register = Reading(
        "up-a",
        None,
        MONTHLY_REGISTER,
        ReadingKind.REGISTER,
        None,
        local_midnight(DST_DAY, AUCKLAND),
        Decimal("1234.5"),
        0,
        (),
    )
    metrics.window_published(
        window([up("up-a")], [register, *day_of("up-a", DST_DAY)], types=(FORWARD, MONTHLY_REGISTER)),
        zone_of,
    )
    metrics.cycle_completed("recent", CycleStats(windows=1), 5.0, ok=True)
    assert completeness(registry) == 1.0


def test_a_cycle_that_does_not_span_the_day_leaves_the_ratio_alone() -> None:
    metrics, registry = make()
    metrics.window_published(window([up("up-a")], day_of("up-a", DST_DAY)), zone_of)
    metrics.cycle_completed("recent", CycleStats(windows=1), 5.0, ok=True)
    assert completeness(registry) == 1.0

    short = window([up("up-a")], [], start=NOW - timedelta(hours=3), end=NOW)
    metrics.window_published(short, zone_of)
    metrics.cycle_completed("recent", CycleStats(windows=1), 5.0, ok=True)
    assert completeness(registry) == 1.0


def test_series_that_stop_answering_and_cycles_that_fail_lower_the_ratio() -> None:
    clock = Clock(NOW)
    metrics, registry = make(clock)
    both = [up("up-a"), up("up-b")]
    metrics.window_published(window(both, [*day_of("up-a", DST_DAY), *day_of("up-b", DST_DAY)]), zone_of)
    metrics.cycle_completed("recent", CycleStats(windows=1), 5.0, ok=True)
    assert completeness(registry) == 1.0

    # next cycle: up-b's batch failed, so only up-a's window was committed
    metrics.window_published(window([up("up-a")], day_of("up-a", DST_DAY)), zone_of)
    metrics.cycle_completed("recent", CycleStats(windows=1, failed_windows=1), 5.0, ok=False)
    assert completeness(registry) == pytest.approx(0.5)

    # a cycle in which every window failed: nothing arrived for the day
    metrics.cycle_completed("recent", CycleStats(failed_windows=2), 5.0, ok=False)
    assert completeness(registry) == 0.0


def test_plans_keep_their_own_series() -> None:
    metrics, registry = make()
    metrics.window_published(window([up("up-a")], day_of("up-a", DST_DAY)), zone_of)
    metrics.cycle_completed("recent", CycleStats(windows=1), 5.0, ok=True)
    reverse = day_of("up-z", DST_DAY, count=25, rt=REVERSE)
    metrics.window_published(window([up("up-z")], reverse, types=(REVERSE,)), zone_of)
    metrics.cycle_completed("weekly", CycleStats(windows=1), 5.0, ok=True)
    assert completeness(registry) == pytest.approx(25 / 50)

    # up-z's reverse channel is expected by the plan that polls it, not held against "recent"
    metrics.window_published(window([up("up-a")], day_of("up-a", DST_DAY)), zone_of)
    metrics.cycle_completed("recent", CycleStats(windows=1), 5.0, ok=True)
    assert completeness(registry) == 1.0


def test_a_cycle_without_any_window_before_the_first_success_tells_nothing() -> None:
    metrics, registry = make()
    metrics.cycle_completed("recent", CycleStats(failed_windows=1), 5.0, ok=False)
    assert completeness(registry) is None


def test_a_usage_point_polled_twice_in_a_cycle_never_exceeds_one() -> None:
    metrics, registry = make()
    group = Target(TargetKind.USAGE_POINT_GROUP, "group-1")
    metrics.window_published(window([up("up-a")], day_of("up-a", DST_DAY)), zone_of)
    metrics.window_published(window([group], day_of("up-a", DST_DAY)), zone_of)
    metrics.cycle_completed("recent", CycleStats(windows=2), 5.0, ok=True)
    assert completeness(registry) == 1.0


# ---------------------------------------------------------------------------------------------- wired in


def test_the_netstream_client_reports_every_attempt_through_the_observer(tmp_path: Path) -> None:
    config = small_config(2)
    with SimulatorServer(config, clock=SimClock(NOW)) as sim:
        settings = wiring(sim, "127.0.0.1:9", write_registry(tmp_path / "r.yaml", config)).settings(
            NETSTREAM_WINDOW="PT12H"
        )
        sim.faults.add(FaultRule(kind="status", status=429, retry_after="0"))
        sim.faults.add(FaultRule(kind="status", status=503))
        metrics, registry = make()
        observer: ClientObserver = metrics
        targets = [up(point.mrid) for point in config.usage_points]
        with build_client(settings, observer=observer) as client:
            windows = list(client.fetch(targets, [FORWARD], NOW - timedelta(hours=24), NOW))
        answered = [r for r in sim.requests if r.path.startswith("/api/")]

    assert len(windows) == 2
    assert len(answered) == 4  # two windows, one 429 and one 503 retried
    requests = "netstream_publisher_api_requests_total"
    assert value(registry, requests, status="200") == 2.0
    assert value(registry, requests, status="429") == 1.0
    assert value(registry, requests, status="503") == 1.0
    assert value(registry, "netstream_publisher_api_request_seconds_count") == 4.0
    assert value(registry, "netstream_publisher_api_retries_total", reason="http_429") == 1.0
    assert value(registry, "netstream_publisher_api_retries_total", reason="http_503") == 1.0
