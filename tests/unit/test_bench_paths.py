"""The benchmark's code paths on tiny inputs, without a broker: no timing is asserted, only structure."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from bench import instructions, report, state, workload
from bench.naive import NaivePublisher
from bench.scaling import ScalePoint, slope
from bench.throughput import encoded_events
from bench.workload import READING_TYPES
from publisher import buildinfo
from publisher.kafka.avro import ReadingDecoder, load_schema
from publisher.netstream.model import WireFormat
from publisher.netstream.parser import parse_response

READINGS_PER_POINT = 2 * 48  # two half-hourly reading types, one 48-interval day


@pytest.fixture(scope="module")
def recorded() -> list[workload.Recorded]:
    return workload.record(2, points_per_response=3)


def results(**changes: object) -> report.Results:
    values: dict[str, object] = {
        "size": "quick",
        "raw_producer_msgs_per_s": 200_000.0,
        "raw_untransactional_msgs_per_s": 150_000.0,
        "pipeline_readings_per_s": 60_000.0,
        "naive_readings_per_s": 20_000.0,
        "readings": 1_000,
        "pipeline_events": 1_000,
        "naive_events": 1_000,
        "event_bytes": 250.0,
        "state_bytes_per_series": 2_600.0,
        "state_bytes_applied": 2_900.0,
        "state_bytes_estimate": 2_700.0,
        "state_series": 100_000,
        "state_record_bytes": 122.0,
        "apply_us": 5.0,
        "restore_series_per_s": 10_000.0,
        "restore_series": 100_000,
        "restore_records": 1_400_000,
        "consumer_records_per_s": 150_000.0,
        "scaling": [point(1_000, 2.0), point(10_000, 20.0)],
        "machine": {
            "cpus": 2,
            "load_average": [1.0, 1.0, 1.0],
            "when": "2025-01-01T00:00:00+00:00",
            "build": "compiled",
        },
    }
    values.update(changes)
    return report.Results(**values)  # type: ignore[arg-type]  # the values above match the fields


def point(points: int, seconds: float) -> ScalePoint:
    return ScalePoint(
        points=points,
        cold_seconds=seconds,
        cold_cpu_seconds=seconds / 2,
        cold_readings=points * 24,
        steady_seconds=seconds,
        steady_cpu_seconds=seconds / 4,
        steady_readings=points * 26,
        events=points * 26,
        rss_before=70_000_000,
        peak_rss=70_000_000 + points * 1_000,
        state_bytes=points * 1_200,
        failed_windows=0,
    )


def test_the_name_value_lines_are_exactly_the_issue_names_in_order() -> None:
    lines = report.value_lines(results())
    assert [line.split("=", 1)[0] for line in lines] == [
        "raw_producer_msgs_per_s",
        "pipeline_readings_per_s",
        "ratio_vs_raw_producer",
        "naive_readings_per_s",
        "speedup_vs_naive",
        "state_bytes_per_series",
        "restore_series_per_s",
    ]
    values = {name: float(value) for name, value in (line.split("=", 1) for line in lines)}
    assert values["ratio_vs_raw_producer"] == pytest.approx(0.3)
    assert values["speedup_vs_naive"] == pytest.approx(3.0)
    assert values["pipeline_readings_per_s"] == 60_000


def test_tables_mark_each_goal_met_or_missed() -> None:
    text = "\n".join(
        report.tables(results(restore_series_per_s=10_000.0, round_ratios=[0.3, 0.4, 0.2, 0.25]))
    )
    assert "| `ratio_vs_raw_producer` | 0.300 | >= 0.25 | yes |" in text
    assert "| `restore_series_per_s` | 10,000 | >= 50000 | **no** |" in text
    assert "| `state_bytes_per_series` | 2,600 | <= 4096 | yes |" in text
    assert "| 10,000 | 20.00 | 10.00 | 240,000 | 12,000 |" in text  # one scaling row
    assert "cold_cycle 1.00" in text  # ten times the points in ten times the time: linear
    assert text.startswith("Run: size `quick`, compiled build, 2 CPUs")  # which build was measured
    assert "the pair back to back (min / median / max of 4) | 0.200 / 0.275 / 0.400 |" in text


def test_the_machine_record_names_the_build_that_ran() -> None:
    assert report.machine()["build"] == buildinfo.build_kind()


def test_results_round_trip_through_the_json_file(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    original = results()
    report.write_json(original, path)
    again = report.read_json(path)
    assert again == original
    assert again.values() == original.values()


def test_a_later_run_keeps_the_sizes_only_an_earlier_run_measured() -> None:
    merged = report.merged_scaling([point(1_000, 3.0)], [point(1_000, 2.0), point(100_000, 200.0)])
    assert [(p.points, p.cold_seconds) for p in merged] == [(1_000, 3.0), (100_000, 200.0)]
    text = "\n".join(report.tables(results(scaling=merged, earlier_sizes=[100_000])))
    assert "measured by an earlier run (BENCH_SIZE=full), not this one: 100,000" in text


def test_slope_is_the_fitted_exponent() -> None:
    sizes = [1_000, 10_000, 100_000]
    assert slope(sizes, [3 * n for n in sizes]) == pytest.approx(1.0)
    assert slope(sizes, [n**2 for n in sizes]) == pytest.approx(2.0)
    assert math.isnan(slope([1_000], [1.0]))


def test_recorded_responses_parse_to_the_readings_they_hold(recorded: list[workload.Recorded]) -> None:
    assert [item.readings for item in recorded] == [3 * READINGS_PER_POINT] * 2
    seen: set[str] = set()
    for item in recorded:
        parsed = parse_response(item.body, WireFormat.JSON, default_zone=workload.ZONE)
        assert not parsed.rejected
        assert len(parsed.readings) == item.readings
        points = {reading.usage_point for reading in parsed.readings}
        assert points == {target.mrid for target in item.request.targets}
        assert not points & seen, "every response names other usage points"
        seen |= points


def test_the_raw_producer_input_is_the_pipeline_events_encoded(recorded: list[workload.Recorded]) -> None:
    batches = encoded_events(recorded)
    decoder = ReadingDecoder(load_schema("meter_reading.avsc"))
    assert [len(batch) for batch in batches] == [item.readings for item in recorded]
    events = [decoder.decode(message.value) for batch in batches for message in batch]
    assert len({event["event_id"] for event in events}) == len(events)
    assert {message.key for batch in batches for message in batch} == {
        workload.meter_id(i).encode() for i in range(6)
    }


def test_the_naive_publisher_encodes_confluent_events_and_drops_repeats(
    recorded: list[workload.Recorded],
) -> None:
    naive = NaivePublisher(None, "readings")
    first = naive.events(recorded[0].body)
    assert len(first) == recorded[0].readings
    assert naive.events(recorded[0].body) == [], "the same response again is suppressed"
    deserialize = AvroDeserializer(naive.registry)
    context = SerializationContext("readings", MessageField.VALUE)
    decoded = [deserialize(value, context) for _, value in first]
    assert all(value[:1] == b"\x00" for _, value in first)  # Confluent wire format
    assert {event["usage_point_mrid"] for event in decoded} == {workload.usage_point_id(i) for i in range(3)}
    assert {event["revision"] for event in decoded} == {0}


def test_state_memory_is_measured_over_the_requested_series() -> None:
    memory, templates = state.measure_memory(40, templates=4)
    assert memory.series == 40
    assert memory.days == 40 * state.DAYS
    assert len(templates) == 4 * state.BLOCKS == 4 * 3  # 14 days from a Wednesday: three weeks
    assert 0 < memory.restored_per_series < 10 * state.GOAL_BYTES
    assert memory.estimate_per_series > 0
    scaled = list(state.scaled_records(templates, 10))
    assert len(scaled) == 10 * state.BLOCKS
    assert len({key for key, _ in scaled}) == len(scaled)


def test_the_instruction_count_harness_parses_and_publishes_every_reading(
    recorded: list[workload.Recorded],
) -> None:
    """What callgrind counts in ``bench.instructions``: parse and publish of a response, stub producer."""
    shard = instructions.publisher()
    readings = [instructions.parse_and_publish(shard, item) for item in recorded]
    assert readings == [item.readings for item in recorded]
    assert shard._store.series_count() == 2 * 3 * len(READING_TYPES)  # two responses of three points
    assert instructions.TOGGLES  # what callgrind counts inside: nothing is counted without them
