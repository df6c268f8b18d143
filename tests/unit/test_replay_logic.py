"""The pure parts of ``replay``: offset ranges, headers, the JSON line format and flag validation."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from publisher.commands.replay import ReplayRequest, json_line, parse_request, utc_text
from publisher.config import load_settings
from publisher.errors import ConfigError
from publisher.kafka.avro import SingleObjectCodec
from publisher.kafka.replay import (
    OffsetRange,
    Undecodable,
    event_decoder,
    merge_headers,
    plan_range,
    released_event_schemas,
)

RT = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
CIM = (0, 0, 5, 4, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 224, 3, 72, 0)
CIM_NAMES = (
    "macro_period",
    "aggregate",
    "measuring_period",
    "accumulation",
    "flow_direction",
    "commodity",
    "measurement_kind",
    "interharmonic_numerator",
    "interharmonic_denominator",
    "argument_numerator",
    "argument_denominator",
    "tou",
    "cpp",
    "consumption_tier",
    "phases",
    "multiplier",
    "unit",
    "currency",
)

#: an event as ReadingDecoder returns it: uuid, Decimal at the schema's scale, aware UTC datetimes
DECODED: dict[str, Any] = {
    "event_id": UUID("3f2b8c1e-9d4a-5e6f-8a7b-1c2d3e4f5a6b"),
    "usage_point_mrid": "6f1c2a10-5b1e-4c2d-9a10-00000000000a",
    "meter_mrid": None,
    "reading_type": {
        "mrid": RT,
        **dict(zip(CIM_NAMES, CIM, strict=True)),
        "interval_seconds": 1800,
        "unit_symbol": "kWh",
    },
    "kind": "INTERVAL",
    "interval_start": datetime(2025, 3, 1, 11, 0, tzinfo=UTC),
    "interval_end": datetime(2025, 3, 1, 11, 30, tzinfo=UTC),
    "value": Decimal("-0.000100"),
    "quality_flags": 256,
    "quality_codes": ["3.0.0", "1.4.2"],
    "revision": 2,
    "previous_value": Decimal("12345.678000"),
    "reported_at": None,
    "polled_at": datetime(2025, 3, 1, 13, 0, 0, 123456, tzinfo=UTC),
    "source": "SCHEDULED",
    "previous_quality_flags": None,
    "timezone": "Pacific/Auckland",
}

GOLDEN_LINE = (
    '{"event_id":"3f2b8c1e-9d4a-5e6f-8a7b-1c2d3e4f5a6b",'
    '"usage_point_mrid":"6f1c2a10-5b1e-4c2d-9a10-00000000000a","meter_mrid":null,'
    '"reading_type":{"mrid":"0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0","macro_period":0,"aggregate":0,'
    '"measuring_period":5,"accumulation":4,"flow_direction":1,"commodity":1,"measurement_kind":12,'
    '"interharmonic_numerator":0,"interharmonic_denominator":0,"argument_numerator":0,'
    '"argument_denominator":0,"tou":0,"cpp":0,"consumption_tier":0,"phases":224,"multiplier":3,"unit":72,'
    '"currency":0,"interval_seconds":1800,"unit_symbol":"kWh"},"kind":"INTERVAL",'
    '"interval_start":"2025-03-01T11:00:00.000000Z","interval_end":"2025-03-01T11:30:00.000000Z",'
    '"value":"-0.000100","quality_flags":256,"quality_codes":["3.0.0","1.4.2"],"revision":2,'
    '"previous_value":"12345.678000","reported_at":null,"polled_at":"2025-03-01T13:00:00.123456Z",'
    '"source":"SCHEDULED","previous_quality_flags":null,"timezone":"Pacific/Auckland"}'
)


# ------------------------------------------------------------------------------------- offset ranges


@pytest.mark.parametrize(
    ("end", "first", "stop", "expected"),
    [
        (100, 10, -1, OffsetRange(0, 10, 100)),  # no --to: up to the end captured at the start
        (100, 10, 40, OffsetRange(0, 10, 40)),  # --to found inside the partition
        (100, 10, 250, OffsetRange(0, 10, 100)),  # --to found beyond the captured end (a live topic)
        (100, -1, -1, None),  # nothing published at or after --from
        (100, 40, 40, None),  # nothing between --from and --to
        (0, -1, -1, None),  # an empty partition
    ],
)
def test_plan_range(end: int, first: int, stop: int, expected: OffsetRange | None) -> None:
    assert plan_range(0, end, first, stop) == expected


def test_offset_range_size() -> None:
    assert OffsetRange(2, 10, 40).size == 30


# ------------------------------------------------------------------------------------------ decoding


def test_events_written_with_every_released_schema_decode() -> None:
    released = released_event_schemas()
    assert released
    assert {schema.name for schema in released} == {"netstream.publisher.v1.MeterReading"}
    decoder = event_decoder()
    for schema in released:
        assert decoder.decode(SingleObjectCodec(schema).encode(DECODED)) == DECODED


# ------------------------------------------------------------------------------------------- headers


def test_headers_are_kept_in_order_and_describe_the_new_value() -> None:
    original = (("event_type", b"E"), ("trace", b"abc"), ("schema_fingerprint", b"old"))
    codec = [("event_type", b"E"), ("schema_fingerprint", b"new"), ("content_type", b"avro")]
    assert merge_headers(original, codec) == (
        ("event_type", b"E"),
        ("trace", b"abc"),
        ("schema_fingerprint", b"new"),
        ("content_type", b"avro"),
    )


def test_headers_written_by_the_same_codec_are_unchanged() -> None:
    headers = (("event_type", b"E"), ("schema_fingerprint", b"f"), ("content_type", b"c"))
    assert merge_headers(headers, list(headers)) == headers


def test_undecodable_record_is_described_on_one_line() -> None:
    item = Undecodable(2, 17, "value starts with 6e6f\nwhich is not Avro")
    assert item.describe("readings") == (
        "undecodable: readings partition 2 offset 17: value starts with 6e6f which is not Avro"
    )


# ---------------------------------------------------------------------------------------- JSON lines


def test_json_line_is_the_documented_golden_text() -> None:
    assert json_line(DECODED) == GOLDEN_LINE
    assert "\n" not in GOLDEN_LINE
    assert list(json.loads(GOLDEN_LINE)) == list(DECODED)


def test_utc_text_is_fixed_width_utc_with_z() -> None:
    auckland = timezone(timedelta(hours=13))
    assert utc_text(datetime(2025, 3, 2, 0, 30, tzinfo=auckland)) == "2025-03-01T11:30:00.000000Z"
    assert utc_text(datetime(2025, 3, 1, 11, 30, 0, 5, tzinfo=UTC)) == "2025-03-01T11:30:00.000005Z"


# ------------------------------------------------------------------------------------------- flags


def args(**given: Any) -> argparse.Namespace:
    values: dict[str, Any] = {
        "start": "2025-03-01",
        "end": None,
        "usage_point": [],
        "to_topic": None,
        "output": "jsonl",
        "commit_every": 1000,
    }
    values.update(given)
    return argparse.Namespace(**values)


SETTINGS = load_settings(None, {})


def test_times_without_an_offset_are_netstream_local_time() -> None:
    request = parse_request(args(start="2025-03-01", end="2025-03-01T12:00:00Z"), SETTINGS)
    assert request == ReplayRequest(
        start=datetime(2025, 2, 28, 11, 0, tzinfo=UTC),  # Auckland midnight, daylight time (+13)
        end=datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
        usage_points=frozenset(),
        to_topic=None,
        commit_every=1000,
    )


def test_to_topic_and_usage_points_are_kept() -> None:
    request = parse_request(
        args(output=None, to_topic="replays.v1", usage_point=["up-1", "up-2", "up-1"], commit_every=5),
        SETTINGS,
    )
    assert (request.to_topic, request.usage_points, request.commit_every, request.end) == (
        "replays.v1",
        frozenset({"up-1", "up-2"}),
        5,
        None,
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"to_topic": "x"}, "give exactly one of --to-topic NAME or --output jsonl"),
        ({"output": None}, "give exactly one of --to-topic NAME or --output jsonl"),
        ({"end": "2025-02-01"}, "--from 2025-03-01 must be before --to 2025-02-01"),
        ({"end": "2025-03-01"}, "--from 2025-03-01 must be before --to 2025-03-01"),
        ({"start": "last week"}, "--from 'last week' is not a time"),
        ({"end": "soon"}, "--to 'soon' is not a time"),
        ({"usage_point": [" "]}, "--usage-point needs a usage point mRID"),
        ({"commit_every": 0}, "--commit-every 0 must be at least 1"),
        ({"output": None, "to_topic": "bad name"}, "is not a valid Kafka topic name"),
        (
            {"output": None, "to_topic": "netstream.meter-readings.v1"},
            "--to-topic netstream.meter-readings.v1 is a topic the publisher itself writes",
        ),
        ({"output": None, "to_topic": "netstream-publisher.state.v1"}, "is a topic the publisher itself"),
        ({"output": None, "to_topic": "netstream.meter-readings.dlq.v1"}, "is a topic the publisher itself"),
    ],
)
def test_bad_flags_are_config_errors(given: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_request(args(**given), SETTINGS)
    assert message in caught.value.message
    assert "\n" not in caught.value.message
    assert caught.value.exit_code == 2


def test_routed_topics_are_refused_as_targets() -> None:
    settings = load_settings(None, {"PUBLISHER_TOPICS": '{"register": "netstream.registers.v1"}'})
    with pytest.raises(ConfigError, match="itself writes"):
        parse_request(args(output=None, to_topic="netstream.registers.v1"), settings)
