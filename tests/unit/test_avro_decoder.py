"""ReadingDecoder with single-object values: known and unknown writers, schema evolution, garbage in."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.errors import ParseError
from publisher.kafka.avro import AvroSchema, ReadingDecoder, SingleObjectCodec, load_schema, schema_from_json

RT_FIELDS = (
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
RT = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"

RECORD: dict[str, Any] = {
    "event_id": "5d6f7a8b-9c0d-5e1f-a2b3-c4d5e6f7a8b9",
    "usage_point_mrid": "6f1c2a10-5b1e-4c2d-9a10-00000000000a",
    "meter_mrid": None,
    "reading_type": {
        "mrid": RT,
        **dict(zip(RT_FIELDS, map(int, RT.split(".")), strict=True)),
        "interval_seconds": 1800,
        "unit_symbol": "kWh",
    },
    "kind": "INTERVAL",
    "interval_start": datetime(2025, 3, 1, 11, 0, tzinfo=UTC),
    "interval_end": datetime(2025, 3, 1, 11, 30, tzinfo=UTC),
    "value": Decimal("0.123"),
    "quality_flags": 256,
    "quality_codes": ["3.0.0"],
    "revision": 0,
    "polled_at": datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
    "source": "SCHEDULED",
}


def raw_meter_reading() -> dict[str, Any]:
    text = (resources.files("publisher") / "schemas" / "meter_reading.avsc").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def variant(edit: Any) -> AvroSchema:
    """A copy of the current MeterReading schema changed by ``edit`` (a function of the raw JSON)."""
    raw = copy.deepcopy(raw_meter_reading())
    edit(raw)
    return schema_from_json(json.dumps(raw), origin="test variant")


def field(raw: dict[str, Any], name: str) -> dict[str, Any]:
    return next(entry for entry in raw["fields"] if entry["name"] == name)


def newer(raw: dict[str, Any]) -> None:
    """A later compatible version: a new reading kind and a new optional field."""
    field(raw, "kind")["type"]["symbols"].insert(2, "CALCULATED")
    raw["fields"].append({"name": "tariff", "type": ["null", "string"], "default": None, "doc": "A tariff."})


def older(raw: dict[str, Any]) -> None:
    """An earlier version without the optional extras."""
    raw["fields"] = [
        entry for entry in raw["fields"] if entry["name"] not in {"timezone", "previous_quality_flags"}
    ]


@pytest.fixture(scope="module")
def current() -> SingleObjectCodec:
    return SingleObjectCodec(load_schema("meter_reading.avsc"))


def test_decodes_a_value_of_the_reader_schema(current: SingleObjectCodec) -> None:
    decoded = ReadingDecoder().decode(current.encode(RECORD))
    assert decoded["usage_point_mrid"] == RECORD["usage_point_mrid"]
    assert decoded["value"] == Decimal("0.123")
    assert decoded["timezone"] is None


def test_newer_writer_is_resolved_unknown_kind_maps_to_the_default() -> None:
    writer = variant(newer)
    data = SingleObjectCodec(writer).encode({**RECORD, "kind": "CALCULATED", "tariff": "anytime"})
    assert data[2:10] == writer.fingerprint != load_schema("meter_reading.avsc").fingerprint
    decoded = ReadingDecoder(writers=[writer]).decode(data)
    assert decoded["kind"] == "UNKNOWN"
    assert "tariff" not in decoded
    assert decoded["value"] == Decimal("0.123")


def test_older_writer_gets_defaults_for_fields_it_lacks() -> None:
    writer = variant(older)
    data = SingleObjectCodec(writer).encode(RECORD)
    decoded = ReadingDecoder(writers=[writer]).decode(data)
    assert decoded["timezone"] is None
    assert decoded["previous_quality_flags"] is None
    assert decoded["interval_end"] == RECORD["interval_end"]


def test_unknown_fingerprint_is_a_parse_error() -> None:
    data = SingleObjectCodec(variant(newer)).encode(RECORD)
    with pytest.raises(ParseError, match=f"unknown schema fingerprint {data[2:10].hex()}"):
        ReadingDecoder().decode(data)


def test_codec_refuses_a_value_of_another_schema(current: SingleObjectCodec) -> None:
    data = SingleObjectCodec(variant(older)).encode(RECORD)
    with pytest.raises(ParseError, match="decode it with ReadingDecoder"):
        current.decode(data)


def test_incompatible_known_writer_is_a_parse_error() -> None:
    def revision_as_string(raw: dict[str, Any]) -> None:
        field(raw, "revision")["type"] = "string"

    writer = variant(revision_as_string)
    data = SingleObjectCodec(writer).encode({**RECORD, "revision": "zero"})
    with pytest.raises(ParseError, match="could not be decoded"):
        ReadingDecoder(writers=[writer]).decode(data)


def test_a_dead_letter_is_not_a_meter_reading() -> None:
    dead_letters = load_schema("dead_letter.avsc")
    data = SingleObjectCodec(dead_letters).encode(
        {
            "dead_letter_id": "9a1b2c3d-4e5f-5a6b-8c7d-0e1f2a3b4c5d",
            "reason": "bad",
            "error_type": "ParseError",
            "stage": "PARSE",
            "raw": b"{",
            "raw_format": "json",
            "occurred_at": datetime(2025, 3, 1, tzinfo=UTC),
            "source": "SCHEDULED",
        }
    )
    with pytest.raises(ParseError, match="DeadLetter value could not be decoded"):
        ReadingDecoder(writers=[dead_letters]).decode(data)
    assert ReadingDecoder(dead_letters).decode(data)["raw"] == b"{"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "starts with nothing"),
        (b"\x01\x02\x03", "starts with 0102"),
        (b'{"json": true}', "neither Avro single-object"),
        (b"\xc3\x01\x00", "neither Avro single-object"),  # too short for a fingerprint
    ],
)
def test_bad_magic_is_a_parse_error(data: bytes, match: str) -> None:
    with pytest.raises(ParseError, match=match):
        ReadingDecoder().decode(data)


def test_truncated_and_padded_values_are_parse_errors(current: SingleObjectCodec) -> None:
    data = current.encode(RECORD)
    decoder = ReadingDecoder()
    with pytest.raises(ParseError, match="could not be decoded"):
        decoder.decode(data[:-4])
    with pytest.raises(ParseError, match="could not be decoded"):
        decoder.decode(data[:10])
    with pytest.raises(ParseError, match="2 bytes after the record"):
        decoder.decode(data + b"\x00\x00")


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_after_a_known_header_never_escapes_as_another_error(body: bytes) -> None:
    schema = load_schema("meter_reading.avsc")
    outcome: dict[str, Any] | ParseError
    try:
        outcome = ReadingDecoder(schema).decode(b"\xc3\x01" + schema.fingerprint + body)
    except ParseError as exc:
        outcome = exc
    if isinstance(outcome, ParseError):
        assert "\n" not in outcome.message
    else:
        assert set(outcome) >= {"event_id", "value", "kind"}


@settings(max_examples=50, deadline=None)
@given(
    value=st.none() | st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False),
    quality=st.none() | st.integers(min_value=0, max_value=0xFFFF),
    codes=st.lists(st.sampled_from(["3.0.0", "1.4.2", "1.4.4", "2.5.259"]), max_size=4),
    revision=st.integers(min_value=0, max_value=2**31 - 1),
    kind=st.sampled_from(["INTERVAL", "REGISTER"]),
    meter=st.none() | st.text(min_size=1, max_size=40),
    end=st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis takes naive bounds and adds the zone
        max_value=datetime(2100, 1, 1),  # noqa: DTZ001 - as above
        timezones=st.just(UTC),
    ),
)
def test_any_valid_reading_round_trips(
    value: Decimal | None,
    quality: int | None,
    codes: list[str],
    revision: int,
    kind: str,
    meter: str | None,
    end: datetime,
) -> None:
    record = {
        **RECORD,
        "value": value,
        "quality_flags": quality,
        "quality_codes": codes,
        "revision": revision,
        "kind": kind,
        "meter_mrid": meter,
        "interval_end": end,
    }
    schema = load_schema("meter_reading.avsc")
    decoded = ReadingDecoder(schema).decode(SingleObjectCodec(schema).encode(record))
    assert decoded["value"] == value
    assert (decoded["quality_flags"], decoded["quality_codes"]) == (quality, codes)
    assert (decoded["revision"], decoded["kind"], decoded["meter_mrid"]) == (revision, kind, meter)
    assert decoded["interval_end"] == end
