"""The normalised reading: what every Netstream response becomes, whatever its encoding or shape."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, NamedTuple


class ReadingKind(StrEnum):
    """Interval (load profile) readings cover ``[start, end)``; register readings are a dial at ``end``."""

    INTERVAL = "interval"
    REGISTER = "register"


def isoformat_z(moment: datetime) -> str:
    """Render an aware datetime as UTC ISO 8601 with a ``Z`` suffix (the ``fetch`` contract)."""
    text = moment.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


class Reading(NamedTuple):
    """One reading of one series ``(usage_point, reading_type)`` for one interval or instant.

    All datetimes are timezone-aware UTC. ``value`` is exact (``Decimal``) or ``None`` when Netstream
    says the interval exists but has no value (a missing reading, never zero).

    An immutable named tuple rather than a frozen dataclass: a response holds thousands of readings, and
    the parser builds each with ``tuple.__new__`` in a fifth of the time a frozen dataclass takes (that
    sets every field through ``object.__setattr__``). Change one field with ``reading._replace(...)``.
    """

    usage_point: str
    meter: str | None
    reading_type: str
    kind: ReadingKind
    start: datetime | None
    end: datetime
    value: Decimal | None
    quality: int | None
    quality_codes: tuple[str, ...]
    reported_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON-lines shape printed by ``netstream-publisher fetch`` (DESIGN §4)."""
        return {
            "usage_point": self.usage_point,
            "meter": self.meter,
            "reading_type": self.reading_type,
            "kind": self.kind.value,
            "start": isoformat_z(self.start) if self.start is not None else None,
            "end": isoformat_z(self.end),
            "value": None if self.value is None else format(self.value, "f"),
            "quality": self.quality,
            "quality_codes": list(self.quality_codes),
            "reported_at": isoformat_z(self.reported_at) if self.reported_at is not None else None,
        }


#: positions of :class:`Reading`'s fields, for the per-reading loops of the compiled modules: there
#: ``reading[START]`` is a direct tuple item, ``reading.start`` a look-up through the class's descriptor
START: Final = 4
END: Final = 5
VALUE: Final = 6
QUALITY: Final = 7
QUALITY_CODES: Final = 8
REPORTED_AT: Final = 9


class WireFormat(StrEnum):
    """Encoding of request and response bodies, chosen with ``Content-Type`` and ``Accept``."""

    JSON = "json"
    XML = "xml"


class TargetKind(StrEnum):
    """What a request names: the four identifier kinds of GetMeterReadings."""

    USAGE_POINT = "usage_point"
    USAGE_POINT_GROUP = "usage_point_group"
    METER = "meter"
    METER_GROUP = "meter_group"


@dataclass(frozen=True, slots=True)
class Target:
    """One polling target: an mRID and the kind of thing it names."""

    kind: TargetKind
    mrid: str


@dataclass(frozen=True, slots=True)
class ReadingsRequest:
    """One GetMeterReadings call: targets, reading types and a half-open UTC window ``[start, end)``."""

    targets: tuple[Target, ...]
    reading_types: tuple[str, ...]
    start: datetime
    end: datetime
