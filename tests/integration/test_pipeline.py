"""End to end, in process: simulator over real HTTP → pipeline → real broker, read back read_committed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from structlog.testing import LogCapture

from publisher.app import build_service
from publisher.config import Settings
from publisher.kafka.avro import ReadingDecoder, load_schema
from publisher.netstream.client import FetchedWindow, plan_windows
from publisher.netstream.localtime import format_with_offset
from publisher.netstream.model import Reading, ReadingKind, ReadingsRequest, Target, TargetKind, WireFormat
from publisher.netstream.parser import ParsedResponse, Rejected
from publisher.pipeline.events import Source
from publisher.pipeline.publishing import CycleStats
from publisher.pipeline.runner import group_targets
from publisher.simulator.clock import SimClock
from publisher.simulator.faults import FaultRule
from publisher.simulator.server import SimulatorServer
from support.kafka import read_committed
from support.pipeline import (
    FORWARD,
    decode_all,
    fact_of_event,
    latest,
    read_events,
    small_config,
    truth,
    wiring,
    write_registry,
)

T0 = datetime(2025, 4, 8, 1, 0, tzinfo=UTC)
LOOKBACK = timedelta(hours=48)


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    config = small_config(4, late_fraction=0.2, revision_fraction=0.1)
    server = SimulatorServer(config, clock=SimClock(T0))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def run_cycle(settings: Settings, server: SimulatorServer) -> CycleStats:
    service = build_service(settings, clock=server.clock.now)
    try:
        service.start()
        plan = settings.publisher_plans[0]
        return service.runner.cycle(plan.name, group_targets(service.registry, plan.reading_types), LOOKBACK)
    finally:
        service.close()


def window_start(now: datetime) -> datetime:
    return (now - LOOKBACK).replace(minute=0, second=0, microsecond=0)


def test_first_run_publishes_the_truth_once_and_a_second_run_nothing(
    sim: SimulatorServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    config = sim.config
    registry = write_registry(tmp_path / "registry.yaml", config)
    settings = wiring(sim, kafka_bootstrap, registry).settings()

    stats = run_cycle(settings, sim)

    events = read_events(kafka_bootstrap, settings.publisher_topic)
    expected = truth(sim, config, window_start(T0), T0)
    assert len(expected) > 4 * 2 * 90  # two 30-minute channels over ~2 days per usage point
    assert {fact_of_event(e) for e in events} == expected
    assert len(events) == len(expected), "every fact exactly once"
    assert {e["revision"] for e in events} == {0}
    assert stats.new == len(expected)
    assert stats.missing == sum(1 for fact in expected if fact[4] is None)
    assert {e["source"] for e in events} == {"SCHEDULED"}
    # key: the meter where the response names one, else the usage point
    records = read_committed(kafka_bootstrap, settings.publisher_topic)
    for record, event in zip(records, decode_all(records), strict=True):
        assert record.key == (event["meter_mrid"] or event["usage_point_mrid"]).encode()
        assert dict(record.headers)["event_type"] == b"netstream.publisher.v1.MeterReading"

    again = run_cycle(settings, sim)

    assert again.new == again.revised == 0
    assert again.suppressed == len(expected)
    assert len(read_events(kafka_bootstrap, settings.publisher_topic)) == len(events)


def test_late_data_and_revisions_are_published_exactly(
    sim: SimulatorServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    config = sim.config
    settings = wiring(sim, kafka_bootstrap, write_registry(tmp_path / "r.yaml", config)).settings()
    run_cycle(settings, sim)
    first = read_events(kafka_bootstrap, settings.publisher_topic)
    published = {fact_of_event(e)[:4]: fact_of_event(e) for e in first}

    sim.clock.advance(timedelta(hours=14))  # late intervals arrive, estimates become actuals
    later = sim.clock.now()
    run_cycle(settings, sim)

    events = read_events(kafka_bootstrap, settings.publisher_topic)
    first_ids = {e["event_id"] for e in first}
    new_events = [e for e in events if e["event_id"] not in first_ids]
    now_true = truth(sim, config, window_start(later), later)
    changed = {f for f in now_true if published.get(f[:4]) != f}
    revised = {f for f in changed if f[:4] in published}
    assert revised, "the simulator should have revised some published values"
    assert any(f[:4] not in published for f in changed), "late or new intervals should have arrived"
    assert {fact_of_event(e) for e in new_events} == changed
    assert len(new_events) == len(changed)
    for event in new_events:
        key = fact_of_event(event)[:4]
        if key in published:
            old = published[key]
            assert event["revision"] >= 1
            assert (None if event["previous_value"] is None else event["previous_value"].normalize()) == old[
                4
            ]
            assert event["previous_quality_flags"] == old[5]
        else:
            assert event["revision"] == 0
    # what a consumer ends up with (latest revision per interval) is the truth
    newest = {k: fact_of_event(v) for k, v in latest(events).items()}
    assert {newest[f[:4]] for f in now_true} == now_true


def test_a_window_that_keeps_failing_leaves_the_others_published_and_the_next_cycle_fills_it(
    sim: SimulatorServer, kafka_bootstrap: str, tmp_path: Path, captured_logs: LogCapture
) -> None:
    config = sim.config
    settings = wiring(
        sim,
        kafka_bootstrap,
        write_registry(tmp_path / "r.yaml", config),
        NETSTREAM_WINDOW="PT6H",
        NETSTREAM_MAX_RETRIES="1",
    ).settings()
    windows = plan_windows(window_start(T0), T0, timedelta(hours=6))
    failing = windows[2]  # one request of the cycle's eight: all four usage points fit one batch
    start_field = re.escape(format_with_offset(failing[0], settings.zone))
    sim.faults.add(FaultRule("status", status=503, times=None, match_body=f'"start":\\s*"{start_field}"'))

    stats = run_cycle(settings, sim)

    expected = truth(sim, config, window_start(T0), T0)
    missed = {fact for fact in expected if failing[0] < fact[3] <= failing[1]}
    assert missed
    assert len(windows) == 8
    assert stats.failed_windows == 1
    events = read_events(kafka_bootstrap, settings.publisher_topic)
    assert {fact_of_event(e) for e in events} == expected - missed  # the windows after it too
    assert len(events) == len(expected - missed)
    (failed,) = [e for e in captured_logs.entries if e["event"] == "window_failed"]
    assert (failed["start"], failed["end"]) == (failing[0].isoformat(), failing[1].isoformat())

    sim.faults.clear()
    stats = run_cycle(settings, sim)

    assert stats.failed_windows == 0
    assert stats.new == len(missed)
    events = read_events(kafka_bootstrap, settings.publisher_topic)
    assert {fact_of_event(e) for e in events} == expected
    assert len(events) == len(expected), "every fact exactly once"


def test_rejected_fragments_and_unencodable_readings_go_to_the_dead_letter_topic(
    sim: SimulatorServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = wiring(sim, kafka_bootstrap, write_registry(tmp_path / "r.yaml", sim.config)).settings()
    service = build_service(settings, clock=sim.clock.now)
    start = T0 - timedelta(hours=1)
    good = Reading(
        "up-000",
        None,
        FORWARD,
        ReadingKind.INTERVAL,
        start,
        start + timedelta(minutes=30),
        Decimal("1.5"),
        256,
        ("3.0.0",),
    )
    too_precise = Reading(
        "up-000",
        None,
        FORWARD,
        ReadingKind.INTERVAL,
        start + timedelta(minutes=30),
        T0,
        Decimal("0.1234567"),
        256,
        ("3.0.0",),
    )
    window = FetchedWindow(
        request=ReadingsRequest((Target(TargetKind.USAGE_POINT, "up-000"),), (FORWARD,), start, T0),
        parsed=ParsedResponse(
            readings=[good, too_precise],
            rejected=[Rejected("value 'NaN' is not a number", '{"values": [NaN]}', "up-000", FORWARD)],
        ),
        raw_format=WireFormat.JSON,
    )
    try:
        service.start()
        stats = service.shard.publish(window, source=Source.SCHEDULED)
    finally:
        service.close()

    assert (stats.new, stats.dlq) == (1, 2)
    events = read_events(kafka_bootstrap, settings.publisher_topic)
    assert [e["value"] for e in events] == [Decimal("1.500000")]
    decoder = ReadingDecoder(load_schema("dead_letter.avsc"))
    letters = [
        decoder.decode(r.value)
        for r in read_committed(kafka_bootstrap, settings.publisher_dlq_topic)
        if r.value
    ]
    by_stage = {letter["stage"]: letter for letter in letters}
    assert set(by_stage) == {"PARSE", "ENCODE"}
    assert by_stage["PARSE"]["raw"] == b'{"values": [NaN]}'
    assert by_stage["PARSE"]["reason"] == "value 'NaN' is not a number"
    assert by_stage["PARSE"]["usage_point_mrid"] == "up-000"
    assert b"0.1234567" in by_stage["ENCODE"]["raw"]
