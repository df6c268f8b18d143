"""The benchmark's Kafka paths on tiny inputs, on the session broker: what they publish, never how fast."""

from __future__ import annotations

from datetime import date

import pytest

from bench import naive, scaling, state, throughput, workload
from publisher.kafka.state_blocks import parse_state_key
from support.kafka import read_committed
from support.pipeline import decode_all

READINGS_PER_POINT = 2 * 48


@pytest.fixture(scope="module")
def recorded() -> list[workload.Recorded]:
    return workload.record(2, points_per_response=4)


def test_the_pipeline_benchmark_publishes_every_reading_once_with_its_state(
    kafka_bootstrap: str, recorded: list[workload.Recorded]
) -> None:
    run = throughput.run_pipeline(kafka_bootstrap, recorded)

    readings = 2 * 4 * READINGS_PER_POINT
    assert run.rate.count == readings
    assert run.events == readings
    events = decode_all(read_committed(kafka_bootstrap, run.topics.readings))
    assert len(events) == readings
    assert (
        len({(e["usage_point_mrid"], e["reading_type"]["mrid"], e["interval_start"]) for e in events})
        == readings
    )
    assert {e["revision"] for e in events} == {0}
    states = read_committed(kafka_bootstrap, run.topics.state)
    assert len(states) == run.state_records == 2 * 4 * 2  # one record per series and week
    keys = {parse_state_key(record.key) for record in states if record.key is not None}
    assert {date.fromordinal(key[2]) for key in keys if key is not None} == {workload.DAY}  # a Monday


def test_the_raw_producer_benchmark_writes_every_message(
    kafka_bootstrap: str, recorded: list[workload.Recorded]
) -> None:
    batches = throughput.encoded_events(recorded)
    for transactional in (True, False):
        rate = throughput.run_raw(kafka_bootstrap, batches, transactional=transactional)
        assert rate.count == sum(len(batch) for batch in batches)


def test_the_naive_benchmark_publishes_every_reading(
    kafka_bootstrap: str, recorded: list[workload.Recorded]
) -> None:
    rate, events = naive.run_naive(kafka_bootstrap, recorded)
    assert rate.count == events == 2 * 4 * READINGS_PER_POINT


def test_the_restore_benchmark_restores_every_series(kafka_bootstrap: str) -> None:
    _, templates = state.measure_memory(30, templates=3)
    restored = state.measure_restore(kafka_bootstrap, templates, 30)
    assert restored.series == 30
    assert restored.records == 30 * state.BLOCKS
    assert restored.bare.count == restored.records


@pytest.mark.timeout(300)
def test_a_scaling_run_publishes_a_cold_and_a_steady_cycle(kafka_bootstrap: str) -> None:
    measured = scaling.measure(20, kafka_bootstrap, timeout=240)
    assert measured.failed_windows == 0
    assert measured.cold_readings == 20 * 2 * 12  # 6 hours of half-hours, both reading types
    assert measured.steady_readings == 20 * 2 * 13  # 30 minutes later, from the same floored hour
    assert measured.events == 20 * 2 * 13  # every interval once: dedup suppressed the 12 already published
    assert measured.peak_rss >= measured.rss_before > 0
    assert measured.state_bytes > 0
