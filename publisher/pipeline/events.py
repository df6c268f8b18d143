"""Build MeterReading and DeadLetter records (schemas/) from normalised readings and dedup decisions.

The event id is a UUIDv5 of the fact it states — usage point, reading type, interval and revision — so a
republish of the same fact (a retried batch, a replay) carries the same id and consumers can deduplicate.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from publisher.netstream.model import Reading, ReadingKind, isoformat_z
from publisher.netstream.readingtype import ReadingType

#: namespace of every event id; never change it (ids must stay stable across releases)
EVENT_NAMESPACE = uuid.UUID("6f7c1d2e-4a8b-5c3d-9e0f-1a2b3c4d5e6f")

_READING_TYPE_FIELDS = (
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


class Source(StrEnum):
    """What produced an event (the ``source`` field)."""

    SCHEDULED = "SCHEDULED"
    BACKFILL = "BACKFILL"
    REPLAY = "REPLAY"


def event_id(
    usage_point: str, reading_type: str, start: datetime | None, end: datetime, revision: int
) -> str:
    """Deterministic id of one published fact."""
    start_text = isoformat_z(start) if start is not None else "-"
    name = f"{usage_point}|{reading_type}|{start_text}|{isoformat_z(end)}|{revision}"
    return str(uuid.uuid5(EVENT_NAMESPACE, name))


def reading_type_record(rt: ReadingType) -> dict[str, Any]:
    """The nested ReadingType record: the code, its 18 fields, interval length and unit symbol."""
    record: dict[str, Any] = {"mrid": rt.mrid}
    for name in _READING_TYPE_FIELDS:
        record[name] = getattr(rt, name)
    record["interval_seconds"] = rt.interval_seconds
    record["unit_symbol"] = rt.unit_symbol
    return record


@dataclass(frozen=True, slots=True)
class Revision:
    """What dedup decided to publish for a reading."""

    number: int
    previous_value: Any = None
    previous_flags: int | None = None


def meter_reading(
    reading: Reading,
    rt: ReadingType,
    revision: Revision,
    *,
    polled_at: datetime,
    source: Source,
    timezone: str,
) -> dict[str, Any]:
    """The MeterReading record for one reading at one revision."""
    return {
        "event_id": event_id(
            reading.usage_point, reading.reading_type, reading.start, reading.end, revision.number
        ),
        "usage_point_mrid": reading.usage_point,
        "meter_mrid": reading.meter,
        "reading_type": reading_type_record(rt),
        "kind": "INTERVAL" if reading.kind is ReadingKind.INTERVAL else "REGISTER",
        "interval_start": reading.start,
        "interval_end": reading.end,
        "value": reading.value,
        "quality_flags": reading.quality,
        "quality_codes": list(reading.quality_codes),
        "revision": revision.number,
        "previous_value": revision.previous_value,
        "reported_at": reading.reported_at,
        "polled_at": polled_at,
        "source": source.value,
        "previous_quality_flags": revision.previous_flags,
        "timezone": timezone,
    }


def message_key(reading: Reading) -> bytes:
    """The Kafka key: the meter mRID, or the usage point's when the response names no meter (DESIGN §6)."""
    return (reading.meter or reading.usage_point).encode("utf-8")
