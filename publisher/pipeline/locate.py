"""Where a reading lives in the series state: its local day and slot, or an instant entry of a day.

The local day (in the usage point's zone) is the unit of the state: a day's slot table starts at its first
instant, so DST days have 46 or 50 half-hours, and both passes through a repeated hour get slots of their own.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

_SECOND: Final = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Position:
    """Where a reading lives in the state: its local day and slot, or an instant entry keyed by ``end``."""

    day: date
    slot: int | None  #: slot of the day's slot table; ``None``: an entry keyed by ``end``
    interval_seconds: int  #: slot length (0 for entries)
    end: datetime  #: the reading's end, UTC


@functools.lru_cache(maxsize=4096)
def day_start(zone: ZoneInfo, day: date) -> datetime:
    """The first instant (UTC) of local ``day`` in ``zone``; also right when midnight falls in a DST gap."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def locate(zone: ZoneInfo, start: datetime | None, end: datetime, interval: timedelta | None) -> Position:
    """Where the reading ``[start, end)`` is kept.

    An interval reading whose start lies on the grid of whole-second ``interval`` steps from the first
    instant of its local day gets slot ``(start - day start) // interval`` of that day: 46, 48 or 50
    half-hours on DST days, and the two passes through a repeated hour get different slots. Any other
    reading (register, no interval, off-grid) is an entry of the local day of ``end``, keyed by ``end``.
    """
    if end.tzinfo is None or (start is not None and start.tzinfo is None):
        raise ValueError("reading times must be timezone-aware; pass UTC datetimes to dedup")
    end = end.astimezone(UTC)
    if start is not None and interval is not None and interval > timedelta(0) and not interval % _SECOND:
        day = start.astimezone(zone).date()
        offset = start - day_start(zone, day)
        if not offset % interval:
            return Position(day, offset // interval, interval // _SECOND, end)
    return Position(end.astimezone(zone).date(), None, 0, end)
