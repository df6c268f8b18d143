"""Avro single-object encoding of MeterReading: golden bytes, exact decimals, records that do not fit."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from importlib import resources
from typing import Any
from uuid import UUID

import fastavro
import pytest
from fastavro.schema import fingerprint as fastavro_fingerprint
from fastavro.schema import parse_schema
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.errors import ParseError
from publisher.kafka.avro import CONTENT_TYPE, SingleObjectCodec, ValueCodec, load_schema

CIM_FIELDS = (
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


def reading_type(mrid: str, interval_seconds: int | None, unit_symbol: str) -> dict[str, Any]:
    codes = dict(zip(CIM_FIELDS, map(int, mrid.split(".")), strict=True))
    return {"mrid": mrid, **codes, "interval_seconds": interval_seconds, "unit_symbol": unit_symbol}


FULL: dict[str, Any] = {
    "event_id": UUID("3f2b8c1e-9d4a-5e6f-8a7b-1c2d3e4f5a6b"),
    "usage_point_mrid": "6f1c2a10-5b1e-4c2d-9a10-00000000000a",
    "meter_mrid": "a7e0c1d2-0001-4e00-8000-0000000000a1",
    "reading_type": reading_type("0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0", 1800, "kWh"),
    "kind": "INTERVAL",
    "interval_start": datetime(2025, 3, 1, 11, 0, tzinfo=UTC),
    "interval_end": datetime(2025, 3, 1, 11, 30, tzinfo=UTC),
    "value": Decimal("12345.678"),
    "quality_flags": 256,
    "quality_codes": ["3.0.0", "1.4.2"],
    "revision": 2,
    "previous_value": Decimal("-0.000001"),
    "reported_at": datetime(2025, 3, 1, 12, 5, 7, 250000, tzinfo=UTC),
    "polled_at": datetime(2025, 3, 1, 13, 0, 0, 123456, tzinfo=UTC),
    "source": "BACKFILL",
    "previous_quality_flags": 8448,
    "timezone": "Pacific/Auckland",
}

#: a register read with every nullable field null and every defaulted field left out
NULLS: dict[str, Any] = {
    "event_id": "0e4c1b7a-52d3-5c8e-9f10-2a3b4c5d6e7f",
    "usage_point_mrid": "6f1c2a10-5b1e-4c2d-9a10-00000000000a",
    "reading_type": reading_type("13.0.0.1.1.1.12.0.0.0.0.0.0.0.224.3.72.0", None, "kWh"),
    "kind": "REGISTER",
    "interval_start": None,
    "interval_end": datetime(2025, 3, 31, 11, 0, tzinfo=UTC),
    "value": None,
    "quality_flags": None,
    "quality_codes": [],
    "revision": 0,
    "polled_at": datetime(2025, 4, 1, 0, 0, tzinfo=UTC),
    "source": "SCHEDULED",
}

# Derived once from the encoder, then checked below by an independent decoder and by hand.
GOLDEN_FULL = (
    "c301ccac30f9b6ae81a64833663262386331652d396434612d356536662d386137622d31633264336534663561366248"
    "36663163326131302d356231652d346332642d396131302d303030303030303030303061024861376530633164322d30"
    "3030312d346530302d383030302d3030303030303030303061314e302e302e352e342e312e312e31322e302e302e302e"
    "302e302e302e302e3232342e332e37322e3000000a0802021800000000000000c0030690010002901c066b5768000280"
    "b0bcb0bad1970680f88ae5c7d19706020a02dfdc18b0028004040a332e302e300a312e342e3200040202ff02a0cddbbe"
    "d7d1970680d98583f0d1970602028084010220506163696669632f4175636b6c616e64"
)
GOLDEN_NULLS = (
    "c301ccac30f9b6ae81a64830653463316237612d353264332d356338652d396631302d32613362346335643665376648"
    "36663163326131302d356231652d346332642d396131302d303030303030303030303061005031332e302e302e312e31"
    "2e312e31322e302e302e302e302e302e302e302e3232342e332e37322e301a00000202021800000000000000c0030690"
    "010000066b5768020080b0a6a4aae898060000000000008080a1fc86eb9806000000"
)
FINGERPRINT_HEX = "ccac30f9b6ae81a6"


@pytest.fixture(scope="module")
def codec() -> SingleObjectCodec:
    return SingleObjectCodec(load_schema("meter_reading.avsc"))


def independent_read(body: bytes) -> dict[str, Any]:
    """Decode a body with fastavro straight from the .avsc file, bypassing the codec."""
    text = (resources.files("publisher") / "schemas" / "meter_reading.avsc").read_text(encoding="utf-8")
    buffer = io.BytesIO(body)
    record = fastavro.schemaless_reader(buffer, parse_schema(json.loads(text)), None)
    assert buffer.tell() == len(body)
    assert isinstance(record, dict)
    return record


def zigzag_varint(value: int) -> bytes:
    number = (value << 1) ^ (value >> 63)
    out = bytearray()
    while True:
        byte, number = number & 0x7F, number >> 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


# ---------------------------------------------------------------------------------- golden bytes


def test_full_record_encodes_to_the_golden_bytes(codec: SingleObjectCodec) -> None:
    assert codec.encode(FULL).hex() == GOLDEN_FULL


def test_record_with_nulls_encodes_to_the_golden_bytes(codec: SingleObjectCodec) -> None:
    assert codec.encode(NULLS).hex() == GOLDEN_NULLS


def test_golden_header_is_magic_and_little_endian_fingerprint() -> None:
    schema = load_schema("meter_reading.avsc")
    for golden in (GOLDEN_FULL, GOLDEN_NULLS):
        data = bytes.fromhex(golden)
        assert data[:2] == b"\xc3\x01"
        assert data[2:10] == schema.fingerprint == bytes.fromhex(FINGERPRINT_HEX)
        assert data[2:10].hex() == fastavro_fingerprint(schema.canonical, "CRC-64-AVRO")


def test_golden_full_body_decodes_independently() -> None:
    record = independent_read(bytes.fromhex(GOLDEN_FULL)[10:])
    assert record == {**FULL, "value": Decimal("12345.678000"), "previous_value": Decimal("-0.000001")}
    assert record["value"].as_tuple().exponent == -6
    assert record["interval_start"].tzinfo is not None


def test_golden_nulls_body_decodes_independently() -> None:
    record = independent_read(bytes.fromhex(GOLDEN_NULLS)[10:])
    defaults = {"meter_mrid": None, "previous_value": None, "reported_at": None}
    extras = {"previous_quality_flags": None, "timezone": None}
    assert record == {**NULLS, **defaults, **extras, "event_id": UUID(NULLS["event_id"])}


def test_golden_full_body_by_hand() -> None:
    body = bytes.fromhex(GOLDEN_FULL)[10:]
    event_id = str(FULL["event_id"]).encode()
    assert body[:1] == zigzag_varint(len(event_id)) == b"\x48"
    assert body[1:37] == event_id
    # value: union branch 1, then the unscaled integer 12345678000 as big-endian two's complement
    unscaled = (12345678000).to_bytes(5, "big", signed=True)
    assert zigzag_varint(1) + zigzag_varint(len(unscaled)) + unscaled in body
    # previous_value -0.000001: unscaled -1 is the single byte ff
    assert zigzag_varint(1) + zigzag_varint(1) + b"\xff" in body
    # polled_at in microseconds since the epoch
    polled = FULL["polled_at"] - datetime(1970, 1, 1, tzinfo=UTC)
    assert zigzag_varint(polled // timedelta(microseconds=1)) in body
    assert body.endswith(zigzag_varint(1) + zigzag_varint(16) + b"Pacific/Auckland")


def test_codec_decodes_its_own_bytes(codec: SingleObjectCodec) -> None:
    decoded = codec.decode(bytes.fromhex(GOLDEN_FULL))
    assert decoded["value"] == FULL["value"]
    assert decoded["event_id"] == FULL["event_id"]
    assert decoded["kind"] == "INTERVAL"


def test_headers_name_event_type_fingerprint_and_content_type(codec: SingleObjectCodec) -> None:
    assert codec.headers() == [
        ("event_type", b"netstream.publisher.v1.MeterReading"),
        ("schema_fingerprint", FINGERPRINT_HEX.encode()),
        ("content_type", CONTENT_TYPE),
    ]
    codec.headers().append(("x", b"y"))  # callers get a copy
    assert len(codec.headers()) == 3


def test_codec_satisfies_the_value_codec_protocol(codec: SingleObjectCodec) -> None:
    as_protocol: ValueCodec = codec
    assert as_protocol.schema.name == "netstream.publisher.v1.MeterReading"


def test_aware_non_utc_times_are_converted_to_utc(codec: SingleObjectCodec) -> None:
    auckland_summer = timezone(timedelta(hours=13))
    local = {**FULL, "interval_start": FULL["interval_start"].astimezone(auckland_summer)}
    assert codec.encode(local) == codec.encode(FULL)


def test_dead_letter_round_trip() -> None:
    dead_letters = SingleObjectCodec(load_schema("dead_letter.avsc"))
    record = {
        "dead_letter_id": UUID("9a1b2c3d-4e5f-5a6b-8c7d-0e1f2a3b4c5d"),
        "reason": "value 'abc' is not a number; check the response encoding",
        "error_type": "ParseError",
        "stage": "PARSE",
        "window_start": datetime(2025, 3, 1, tzinfo=UTC),
        "raw": b'{"values": ["abc"]}',
        "raw_format": "json",
        "occurred_at": datetime(2025, 3, 1, 0, 1, tzinfo=UTC),
        "source": "SCHEDULED",
    }
    decoded = dead_letters.decode(dead_letters.encode(record))
    assert decoded == {
        **record,
        "usage_point_mrid": None,
        "reading_type": None,
        "window_end": None,
        "raw_length": None,
    }
    assert dead_letters.headers()[0] == ("event_type", b"netstream.publisher.v1.DeadLetter")


# ------------------------------------------------------------------------------------- decimals


@pytest.mark.parametrize(
    ("value", "unscaled"),
    [
        (Decimal("0.1"), 100000),
        (Decimal("12345.678"), 12345678000),
        (Decimal("-0.000001"), -1),
        (Decimal("1234567890123456789012.123456"), 1234567890123456789012123456),
        (Decimal("-9999999999999999999999.999999"), -9999999999999999999999999999),
        (Decimal("1.2300000000"), 1230000),  # trailing zeros beyond the scale are exact
        (Decimal("5E+3"), 5000000000),
        (Decimal(0), 0),
        (7, 7000000),
    ],
)
def test_decimals_are_stored_exactly(codec: SingleObjectCodec, value: Decimal | int, unscaled: int) -> None:
    data = codec.encode({**FULL, "value": value})
    size = (unscaled.bit_length() + 8) // 8
    assert zigzag_varint(size) + unscaled.to_bytes(size, "big", signed=True) in data
    decoded = codec.decode(data)["value"]
    assert decoded == Decimal(value)
    assert decoded.as_tuple().exponent == -6


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (Decimal("0.0000001"), "more than 6 decimal places"),
        (Decimal("12345.6789999"), "more than 6 decimal places"),
        (Decimal(12345678901234567890123), "more than 22 digits before the point"),
        (Decimal("-12345678901234567890123.5"), "more than 22 digits before the point"),
        (Decimal("NaN"), "not a finite number"),
        (Decimal("-Infinity"), "not a finite number"),
        (1.5, "floats are never accepted"),
        ("1.5", "expected an exact Decimal, got str"),
        (True, "expected an exact Decimal, got bool"),
    ],
)
def test_inexact_decimals_are_rejected_never_rounded(
    codec: SingleObjectCodec, value: Any, match: str
) -> None:
    with pytest.raises(ParseError, match=match) as caught:
        codec.encode({**FULL, "value": value})
    assert "MeterReading.value" in caught.value.message
    assert "\n" not in caught.value.message


def test_previous_value_is_checked_too(codec: SingleObjectCodec) -> None:
    with pytest.raises(ParseError, match=r"MeterReading\.previous_value: .* more than 6 decimal places"):
        codec.encode({**FULL, "previous_value": Decimal("0.1234567")})


@settings(max_examples=100, deadline=None)
@given(
    st.decimals(
        min_value=Decimal("-9999999999999999999999.999999"),
        max_value=Decimal("9999999999999999999999.999999"),
        places=6,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_any_decimal_within_precision_and_scale_round_trips(value: Decimal) -> None:
    codec = SingleObjectCodec(load_schema("meter_reading.avsc"))
    assert codec.decode(codec.encode({**FULL, "value": value}))["value"] == value


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=10**12), st.integers(min_value=7, max_value=12))
def test_any_decimal_with_more_places_is_rejected(coefficient: int, places: int) -> None:
    value = Decimal(coefficient * 10 + 1).scaleb(-places)
    codec = SingleObjectCodec(load_schema("meter_reading.avsc"))
    with pytest.raises(ParseError, match="decimal places"):
        codec.encode({**FULL, "value": value})


# --------------------------------------------------------------------------- records that do not fit


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"interval_end": datetime(2025, 3, 1, 11, 30)}, r"interval_end: naive datetime"),  # noqa: DTZ001 - the point
        ({"reported_at": datetime(2025, 3, 1)}, r"reported_at: naive datetime"),  # noqa: DTZ001 - the point
        ({"event_id": "not-a-uuid"}, r"event_id: 'not-a-uuid' is not a UUID"),
        ({"revision": 2**31}, r"revision: 2147483648 does not fit an Avro int"),
        ({"revision": True}, r"revision: expected an int, got bool"),
        ({"quality_flags": "256"}, r"quality_flags: expected an int, got str"),
        ({"kind": "interval"}, r"does not fit netstream\.publisher\.v1\.MeterReading: 'interval'"),
        ({"source": "MANUAL"}, r"does not fit netstream\.publisher\.v1\.MeterReading"),
        ({"usage_point_mrid": 42}, r"usage_point_mrid"),
        ({"quality_codes": None}, r"quality_codes"),
        ({"reading_type": "0.0.5.4"}, r"reading_type: expected a record \(mapping\), got str"),
    ],
)
def test_records_that_do_not_fit_raise_parse_error(
    codec: SingleObjectCodec, change: dict[str, Any], match: str
) -> None:
    with pytest.raises(ParseError, match=match) as caught:
        codec.encode({**FULL, **change})
    assert "\n" not in caught.value.message


def test_nested_int_out_of_range_names_its_path(codec: SingleObjectCodec) -> None:
    bad_type = {**FULL["reading_type"], "currency": 99999999999}
    with pytest.raises(ParseError, match=r"MeterReading\.reading_type\.currency: 99999999999 does not fit"):
        codec.encode({**FULL, "reading_type": bad_type})


def test_missing_field_without_default_is_rejected_not_written_as_null(codec: SingleObjectCodec) -> None:
    record = dict(FULL)
    del record["value"]
    with pytest.raises(ParseError, match=r"missing field\(s\) value, which have no default"):
        codec.encode(record)
    partial_type = dict(FULL["reading_type"])
    del partial_type["interval_seconds"]
    with pytest.raises(ParseError, match=r"reading_type: missing field\(s\) interval_seconds"):
        codec.encode({**FULL, "reading_type": partial_type})


def test_a_record_that_is_not_a_mapping_is_rejected(codec: SingleObjectCodec) -> None:
    with pytest.raises(ParseError, match="expected a record"):
        codec.encode(["not", "a", "record"])  # type: ignore[arg-type]  # the point: a wrong argument type


def test_encoding_does_not_change_the_callers_record(codec: SingleObjectCodec) -> None:
    record = {**FULL, "value": Decimal("0.1")}
    codec.encode(record)
    assert record["value"].as_tuple().exponent == -1
    assert record["event_id"] == FULL["event_id"]
