"""The compiled fast path writes exactly what the reference path (record checks + fastavro) writes."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings

from publisher.errors import ParseError
from publisher.kafka.avro import SingleObjectCodec, load_schema, schema_from_json
from publisher.kafka.avro_writer import Decline, compile_writer, zigzag
from publisher.pipeline.events import reading_type_record
from support.avro_strategies import BASE, RT, events, reference


def fast(codec: SingleObjectCodec, record: dict[str, Any]) -> bytes:
    assert codec._fast is not None
    buf = bytearray(codec._prefix)
    codec._fast(buf, record)
    return bytes(buf)


@pytest.fixture(scope="module")
def codec() -> SingleObjectCodec:
    return SingleObjectCodec(load_schema("meter_reading.avsc"))


def test_the_contract_schemas_compile() -> None:
    for name in ("meter_reading.avsc", "dead_letter.avsc"):
        assert compile_writer(load_schema(name).parsed) is not None, name


@pytest.mark.parametrize(
    "value", [0, 1, -1, 63, -64, 64, 127, 128, 2**31 - 1, -(2**31), 2**62, -(2**63), 2**63 - 1]
)
def test_zigzag_matches_fastavro(value: int) -> None:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, "long", value)
    assert zigzag(value) == buffer.getvalue()


@settings(max_examples=150, deadline=None)
@given(events)
def test_any_valid_event_is_written_exactly_as_the_reference_writes_it(fields: dict[str, Any]) -> None:
    codec = SingleObjectCodec(load_schema("meter_reading.avsc"))
    record = {**BASE, **fields}
    assert fast(codec, record) == reference(codec, record)
    assert codec.encode(record) == reference(codec, record)


def test_fields_left_out_are_written_as_their_defaults(codec: SingleObjectCodec) -> None:
    assert "previous_value" not in BASE
    assert "timezone" not in BASE
    assert fast(codec, BASE) == reference(codec, BASE)


def test_a_read_only_nested_record_is_memoised_and_still_exact(codec: SingleObjectCodec) -> None:
    shared = reading_type_record(RT)
    assert isinstance(shared, MappingProxyType)
    first = codec.encode({**BASE, "reading_type": shared})
    second = codec.encode({**BASE, "reading_type": shared, "revision": 1})
    assert first == reference(codec, BASE)
    assert second == reference(codec, {**BASE, "revision": 1})
    other = MappingProxyType({**shared, "unit_symbol": "Wh"})  # another object: encoded on its own
    assert codec.encode({**BASE, "reading_type": other}) == reference(
        codec, {**BASE, "reading_type": dict(other)}
    )


def test_memoised_timestamps_and_decimals_follow_the_value_not_the_object(codec: SingleObjectCodec) -> None:
    auckland = timezone(timedelta(hours=13))
    same_instant = BASE["interval_end"].astimezone(auckland)
    for record in (
        {**BASE, "interval_end": same_instant},
        {**BASE, "value": Decimal("0.1230")},  # equal to 0.123: the same bytes at scale 6
        {**BASE, "value": Decimal("-0")},
    ):
        assert codec.encode(record) == reference(codec, record)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"event_id": "3F2B8C1E-9D4A-5E6F-8A7B-1C2D3E4F5A6B"},
            None,
        ),  # upper case: the reference normalises it
        ({"value": Decimal("0.0000001")}, "more than 6 decimal places"),
        ({"value": 0.5}, "floats are never accepted"),
        ({"revision": True}, "expected an int, got bool"),
        ({"interval_end": datetime(2025, 3, 1, 11, 30)}, "naive datetime"),  # noqa: DTZ001 - the point
        ({"kind": "interval"}, "does not fit"),
        ({"quality_codes": None}, "quality_codes"),
    ],
)
def test_the_fast_path_declines_what_it_does_not_write_exactly(
    codec: SingleObjectCodec, change: dict[str, Any], message: str | None
) -> None:
    record = {**BASE, **change}
    with pytest.raises(Decline):
        fast(codec, record)
    if message is None:
        assert codec.encode(record) == reference(codec, {**BASE, "event_id": change["event_id"].lower()})
    else:
        with pytest.raises(ParseError, match=message):
            codec.encode(record)


def test_a_schema_the_fast_path_does_not_cover_is_encoded_by_the_reference_path() -> None:
    schema = schema_from_json(
        '{"type": "record", "name": "Wide", "fields": [{"name": "x", "type": ["null", "int", "string"]},'
        ' {"name": "y", "type": "double"}]}'
    )
    assert compile_writer(schema.parsed) is None
    codec = SingleObjectCodec(schema)
    assert codec._fast is None
    data = codec.encode({"x": "text", "y": 1.5})
    assert codec.decode(data) == {"x": "text", "y": 1.5}
