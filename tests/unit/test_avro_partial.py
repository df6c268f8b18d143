"""A bound encoder (fixed fields encoded once, varying ones per record) writes what the codec writes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings

from publisher.errors import ParseError
from publisher.kafka.avro import SingleObjectCodec, load_schema, schema_from_json
from publisher.kafka.avro_partial import compile_partial
from publisher.pipeline.events import VARYING_FIELDS
from support.avro_strategies import BASE, events, reference, split


@pytest.fixture(scope="module")
def codec() -> SingleObjectCodec:
    return SingleObjectCodec(load_schema("meter_reading.avsc"))


@settings(max_examples=150, deadline=None)
@given(events)
def test_any_valid_event_is_written_exactly_as_the_full_path_writes_it(fields: dict[str, Any]) -> None:
    codec = SingleObjectCodec(load_schema("meter_reading.avsc"))
    record = {**BASE, **fields}
    fixed, values = split(record)
    encode = codec.bind(VARYING_FIELDS, fixed)
    assert encode is not None
    assert encode(*values) == reference(codec, record)


def test_one_binding_serves_many_records(codec: SingleObjectCodec) -> None:
    fixed, _ = split(BASE)
    encode = codec.bind(VARYING_FIELDS, fixed)
    assert encode is not None
    for revision, value, codes in (
        (0, Decimal("1.5"), ("3.0.0",)),
        (1, None, ()),
        (2, Decimal(-7), ["1.4.2"]),
    ):
        record = {**BASE, "revision": revision, "value": value, "quality_codes": codes}
        # twice: the second time from the memos (tuples of codes, integers, decimals, timestamps)
        assert encode(*split(record)[1]) == encode(*split(record)[1]) == reference(codec, record)


@pytest.mark.parametrize(
    "change",
    [
        {"event_id": "3F2B8C1E-9D4A-5E6F-8A7B-1C2D3E4F5A6B"},  # upper case: the full path normalises it
        {"value": Decimal("0.0000001")},  # more than 6 places
        {"value": 0.5},  # a float is never a decimal
        {"revision": True},  # a bool is never an int
        {"quality_flags": False},
        {"interval_end": datetime(2025, 3, 1, 11, 30)},  # noqa: DTZ001 - naive on purpose
        {"quality_codes": None},
        {"quality_codes": ("\ud800",)},  # a lone surrogate cannot be UTF-8
    ],
)
def test_a_value_it_does_not_write_exactly_is_left_to_the_full_path(
    codec: SingleObjectCodec, change: dict[str, Any]
) -> None:
    fixed, _ = split(BASE)
    encode = codec.bind(VARYING_FIELDS, fixed)
    assert encode is not None
    record = {**BASE, **change}
    assert encode(*split(record)[1]) is None
    if "event_id" in change:
        assert codec.encode(record) == reference(codec, {**record, "event_id": change["event_id"].lower()})
    else:
        with pytest.raises(ParseError):
            codec.encode(record)


def test_fixed_values_it_does_not_write_give_no_binding(codec: SingleObjectCodec) -> None:
    fixed, _ = split({**BASE, "kind": "interval"})
    assert codec.bind(VARYING_FIELDS, fixed) is None


def test_a_missing_fixed_field_is_a_programming_error(codec: SingleObjectCodec) -> None:
    fixed, _ = split(BASE)
    del fixed["source"]
    with pytest.raises(KeyError, match="source"):
        codec.bind(VARYING_FIELDS, fixed)


def test_varying_fields_must_be_distinct_fields_of_the_schema(codec: SingleObjectCodec) -> None:
    with pytest.raises(ValueError, match="not distinct fields"):
        codec.bind(("event_id", "no_such_field"), {})
    with pytest.raises(ValueError, match="not distinct fields"):
        codec.bind(("revision", "revision"), {})


def test_varying_fields_may_come_first_or_last_in_any_order(codec: SingleObjectCodec) -> None:
    varying = ("timezone", "event_id", "revision")
    fixed = {k: v for k, v in BASE.items() if k not in varying}
    encode = codec.bind(varying, fixed)
    assert encode is not None
    assert encode("Pacific/Chatham", BASE["event_id"], 4) == reference(
        codec, {**BASE, "timezone": "Pacific/Chatham", "revision": 4}
    )


def test_a_schema_without_a_fast_path_has_no_binding() -> None:
    schema = schema_from_json(
        '{"type": "record", "name": "Wide", "fields": [{"name": "x", "type": ["null", "int", "string"]},'
        ' {"name": "y", "type": "double"}]}'
    )
    assert compile_partial(schema.parsed, ("x",)) is None
    assert SingleObjectCodec(schema).bind(("x",), {"y": 1.5}) is None


def test_timestamps_equal_as_instants_encode_equally(codec: SingleObjectCodec) -> None:
    fixed, _ = split(BASE)
    encode = codec.bind(VARYING_FIELDS, fixed)
    assert encode is not None
    later = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    record = {**BASE, "reported_at": later}
    assert encode(*split(record)[1]) == reference(codec, record)


def test_canonical_uuid_fields_are_written_after_a_framing_check_only(codec: SingleObjectCodec) -> None:
    fixed, values = split(BASE)
    encode = codec.bind(VARYING_FIELDS, fixed, canonical=("event_id",))
    assert encode is not None
    assert encode(*values) == reference(codec, BASE)
    for bad in (None, 42, BASE["event_id"][:-1], "é" * 36):  # not text, or not 36 ASCII characters
        assert encode(bad, *values[1:]) is None


def test_only_varying_uuid_fields_can_be_canonical(codec: SingleObjectCodec) -> None:
    fixed, _ = split(BASE)
    with pytest.raises(ValueError, match="not varying uuid fields"):
        codec.bind(VARYING_FIELDS, fixed, canonical=("revision",))
    with pytest.raises(ValueError, match="not varying uuid fields"):
        codec.bind(("revision",), {k: v for k, v in BASE.items() if k != "revision"}, canonical=("event_id",))
