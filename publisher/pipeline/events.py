"""Build MeterReading and DeadLetter records (schemas/) from normalised readings and dedup decisions.

The event id is a UUIDv5 of the fact it states — usage point, reading type, interval and revision — so a
republish of the same fact (a retried batch, a replay) carries the same id and consumers can deduplicate.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from publisher.netstream.model import Reading, ReadingKind, isoformat_z
from publisher.netstream.readingtype import ReadingType

#: namespace of every event id; never change it (ids must stay stable across releases)
EVENT_NAMESPACE: Final = uuid.UUID("6f7c1d2e-4a8b-5c3d-9e0f-1a2b3c4d5e6f")

_READING_TYPE_FIELDS: Final = (
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
    """Deterministic id of one published fact: ``uuid5(EVENT_NAMESPACE, "<up>|<rt>|<start>|<end>|<rev>")``."""
    return event_ids(usage_point, reading_type)(start, end, revision)


def event_ids(usage_point: str, reading_type: str) -> Callable[[datetime | None, datetime, int], str]:
    """:func:`event_id` of one series: ``ids(start, end, revision)``, hashing the series' part once."""
    series = _NAMESPACE_SHA1.copy()
    series.update(f"{usage_point}|{reading_type}|".encode())
    texts, variant, revisions = _PARTS, _VARIANT, _REVISIONS

    def ids(start: datetime | None, end: datetime, revision: int) -> str:
        hasher = series.copy()
        hasher.update(
            (b"-|" if start is None else texts.get(start) or _utc_part(start))
            + (texts.get(end) or _utc_part(end))
            + (revisions[revision] if 0 <= revision < _REVISION_TEXTS else b"%d" % revision)
        )
        # str(uuid.uuid5(...)) by hand (same text), without building a UUID object per event: the first 16
        # bytes of the SHA-1, with the version nibble set to 5 and the variant bits to 10
        h = hasher.hexdigest()
        return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{variant[h[16]]}{h[17:20]}-{h[20:32]}"

    return ids


_NAMESPACE_SHA1: Final = hashlib.sha1(EVENT_NAMESPACE.bytes, usedforsecurity=False)
#: hex digit -> the same digit with its two high bits set to the RFC 4122 variant (10)
_VARIANT: Final = {f"{n:x}": f"{(n & 0x3) | 0x8:x}" for n in range(16)}
_TEXTS: Final[dict[datetime, str]] = {}
_TEXTS_LIMIT: Final = 4096


#: UTC instant -> its :func:`isoformat_z` text and "|", as UTF-8: the parts of the hashed event-id text
_PARTS: Final[dict[datetime, bytes]] = {}
_REVISION_TEXTS: Final = 64
_REVISIONS: Final = tuple(b"%d" % n for n in range(_REVISION_TEXTS))


def _utc_part(moment: datetime) -> bytes:
    """``_utc_text(moment) + "|"`` as UTF-8, remembered for UTC instants as :func:`_utc_text` is."""
    part = (_utc_text(moment) + "|").encode()
    if moment.tzinfo is UTC:
        if len(_PARTS) >= _TEXTS_LIMIT:
            _PARTS.clear()
        _PARTS[moment] = part
    return part


def _utc_text(moment: datetime) -> str:
    """:func:`isoformat_z`, remembered: neighbouring readings share instants (one's end, the next's start).

    Only UTC datetimes are remembered, so a hit in ``_TEXTS`` is always the text of an equal UTC instant
    (equal instants have equal texts whatever their zone)."""
    text = _TEXTS.get(moment)
    if text is None:
        text = isoformat_z(moment)
        if moment.tzinfo is UTC:
            if len(_TEXTS) >= _TEXTS_LIMIT:
                _TEXTS.clear()
            _TEXTS[moment] = text
    return text


def reading_type_record(rt: ReadingType) -> Mapping[str, Any]:
    """The nested ReadingType record: the code, its 18 fields, interval length and unit symbol.

    Read-only and shared by every event of the reading type (the encoder memoises its bytes by identity).
    """
    hit = _TYPE_RECORDS.get(rt.mrid)
    if hit is not None and hit[0] is rt:  # parse_reading_type hands out one object per code
        return hit[1]
    record: dict[str, Any] = {"mrid": rt.mrid}
    for name in _READING_TYPE_FIELDS:
        record[name] = getattr(rt, name)
    record["interval_seconds"] = rt.interval_seconds
    record["unit_symbol"] = rt.unit_symbol
    frozen = MappingProxyType(record)
    if len(_TYPE_RECORDS) >= _TEXTS_LIMIT:
        _TYPE_RECORDS.clear()
    _TYPE_RECORDS[rt.mrid] = (rt, frozen)
    return frozen


_TYPE_RECORDS: Final[dict[str, tuple[ReadingType, Mapping[str, Any]]]] = {}


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
    """The MeterReading record for one reading at one revision: its series' fields and its own."""
    record = series_fields(reading, rt, polled_at=polled_at, source=source, timezone=timezone)
    record.update(
        event_id=event_id(
            reading.usage_point, reading.reading_type, reading.start, reading.end, revision.number
        ),
        interval_start=reading.start,
        interval_end=reading.end,
        value=reading.value,
        quality_flags=reading.quality,
        quality_codes=list(reading.quality_codes),
        revision=revision.number,
        previous_value=revision.previous_value,
        reported_at=reading.reported_at,
        previous_quality_flags=revision.previous_flags,
    )
    return record


#: the MeterReading fields that differ between the readings of one series polled in one window, in the
#: order a bound encoder takes them (:meth:`~publisher.kafka.avro.SingleObjectCodec.bind`); the others are
#: :func:`series_fields`
VARYING_FIELDS: Final = (
    "event_id",
    "interval_start",
    "interval_end",
    "value",
    "quality_flags",
    "quality_codes",
    "revision",
    "previous_value",
    "reported_at",
    "previous_quality_flags",
)


#: varying fields the pipeline builds in canonical form itself (:func:`event_ids` formats them as
#: ``str(uuid.UUID)`` does), so the encoder need not check their form again
CANONICAL_FIELDS: Final = ("event_id",)


def series_fields(
    reading: Reading, rt: ReadingType, *, polled_at: datetime, source: Source, timezone: str
) -> dict[str, Any]:
    """The MeterReading fields every reading of ``reading``'s series shares within one polled window."""
    return {
        "usage_point_mrid": reading.usage_point,
        "meter_mrid": reading.meter,
        "reading_type": reading_type_record(rt),
        "kind": "INTERVAL" if reading.kind is ReadingKind.INTERVAL else "REGISTER",
        "polled_at": polled_at,
        "source": source.value,
        "timezone": timezone,
    }


def message_key(reading: Reading) -> bytes:
    """The Kafka key: the meter mRID, or the usage point's when the response names no meter (DESIGN §6)."""
    return (reading.meter or reading.usage_point).encode("utf-8")
