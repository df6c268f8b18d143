"""Hypothesis strategies and a sample record for the MeterReading encoders (full and partial)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import fastavro
from hypothesis import strategies as st

from publisher.kafka.avro import SingleObjectCodec
from publisher.netstream.readingtype import parse_reading_type
from publisher.pipeline.events import VARYING_FIELDS, reading_type_record

RT = parse_reading_type("0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0")
BASE: dict[str, Any] = {
    "event_id": "3f2b8c1e-9d4a-5e6f-8a7b-1c2d3e4f5a6b",
    "usage_point_mrid": "6f1c2a10-5b1e-4c2d-9a10-00000000000a",
    "meter_mrid": "a7e0c1d2-0001-4e00-8000-0000000000a1",
    "reading_type": dict(reading_type_record(RT)),
    "kind": "INTERVAL",
    "interval_start": datetime(2025, 3, 1, 11, 0, tzinfo=UTC),
    "interval_end": datetime(2025, 3, 1, 11, 30, tzinfo=UTC),
    "value": Decimal("0.123"),
    "quality_flags": 256,
    "quality_codes": ["3.0.0"],
    "revision": 0,
    "polled_at": datetime(2025, 3, 1, 13, 0, tzinfo=UTC),
    "source": "SCHEDULED",
}


def reference(codec: SingleObjectCodec, record: dict[str, Any]) -> bytes:
    """What the codec wrote before the fast path: its record checks, then fastavro."""
    buffer = io.BytesIO()
    buffer.write(codec._prefix)
    fastavro.schemaless_writer(buffer, codec.schema.parsed, codec._prepare(record))
    return buffer.getvalue()


optional_times = st.none() | st.datetimes(
    min_value=datetime(1900, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive; zones are added below
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001 - as above
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=13)), timezone(timedelta(hours=-3, minutes=-30))]
    ),
)
decimals = st.decimals(
    min_value=Decimal("-9999999999999999999999.999999"),
    max_value=Decimal("9999999999999999999999.999999"),
    places=6,
    allow_nan=False,
    allow_infinity=False,
)


events = st.fixed_dictionaries(
    {
        "value": st.none() | decimals,
        "previous_value": st.none() | decimals,
        "interval_start": optional_times,
        "interval_end": optional_times.filter(lambda moment: moment is not None),
        "reported_at": optional_times,
        "quality_flags": st.none() | st.integers(min_value=-(2**31), max_value=2**31 - 1),
        "quality_codes": st.lists(st.text(max_size=12), max_size=4),
        "revision": st.integers(min_value=0, max_value=2**31 - 1),
        "meter_mrid": st.none() | st.text(max_size=40),
        "timezone": st.none() | st.just("Pacific/Auckland"),
        "kind": st.sampled_from(["INTERVAL", "REGISTER"]),
        "usage_point_mrid": st.text(max_size=40),
    }
)


def split(record: dict[str, Any]) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """The record's fixed fields (every field not varying, defaults filled in) and its varying values, as a
    partial writer of :data:`~publisher.pipeline.events.VARYING_FIELDS` takes them."""
    fixed = {"timezone": None, **{k: v for k, v in record.items() if k not in VARYING_FIELDS}}
    return fixed, tuple(record.get(name) for name in VARYING_FIELDS)
