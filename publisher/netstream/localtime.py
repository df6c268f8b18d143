"""Local wall-clock time of the Netstream API and the intervals of a block, computed in real elapsed time.

Netstream sends offset-less local times (netstream-api.md §2.5) and expects request windows with an offset.
Everything this module returns is an aware UTC ``datetime``. Interval series step in elapsed time, so a
30-minute series has 46 or 50 values on a daylight-saving day and a daily value lasts 23 or 25 hours.
A local hour that occurs twice (autumn fall-back) is told apart by a value's position in its block:
:func:`block_intervals` steps from the block start in UTC, so the n-th value lands on the right instant.
"""

from __future__ import annotations

import functools
import operator
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from itertools import accumulate, pairwise, repeat
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from publisher.errors import ConfigError, ParseError
from publisher.netstream.readingtype import ReadingType

_TIMESTAMP = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[T ]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]+))?)?"
    r"(?:(?P<utc>Z)|(?P<sign>[+-])(?P<off_hour>[0-9]{2})(?::?(?P<off_minute>[0-9]{2}))?)?",
    re.ASCII | re.IGNORECASE,
)
_MICRO_DIGITS = 6
_EXCERPT = 80
_ONE_DAY = timedelta(days=1)
_ONE_SECOND = timedelta(seconds=1)


def load_zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; :class:`ConfigError` when there is no such zone."""
    key = name.strip()
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ConfigError(
            f"unknown time zone {name!r}: set an IANA zone name such as Pacific/Auckland or Australia/Sydney "
            "(and make sure the system or the tzdata package provides the zone database)"
        ) from exc


def _require_aware(moment: datetime, what: str) -> None:
    # A naive datetime here is a bug in the caller, not bad input, hence ValueError.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {moment.isoformat()}")


# ------------------------------------------------------------------------------------------------ parsing


#: first and last calendar year a timestamp may name: anything else is a corrupt or placeholder date (year 1,
#: 9999) that would only overflow date arithmetic further down (the next local day of 9999-12-31)
PLAUSIBLE_YEARS = (1970, 2199)


def _bad_timestamp(text: str, problem: str) -> ParseError:
    return ParseError(
        f"timestamp {text[:_EXCERPT]!r} {problem}; expected ISO 8601 such as 2025-03-01T00:00:00 "
        "(local), 2025-03-01T00:00:00+13:00 or 2025-02-28T11:00:00Z",
        fragment=text[:200],
    )


def parse_timestamp(text: object, zone: ZoneInfo, *, fold: int = 0) -> datetime:
    """Parse an ISO 8601 timestamp into aware UTC; offset-less times are wall-clock time in ``zone``.

    Accepts ``Z``, ``±HH:MM``/``±HHMM``/``±HH`` offsets, fractional seconds (digits beyond microseconds are
    truncated, as .NET sends seven) and a space instead of ``T``. A local time inside a daylight-saving
    gap raises :class:`ParseError`; a repeated local time is resolved with ``fold`` (0 = first occurrence).
    """
    if not isinstance(text, str):
        raise ParseError(f"timestamp must be a string, got {type(text).__name__}", fragment=repr(text)[:200])
    return _parse_timestamp(text, zone, fold)


@functools.lru_cache(maxsize=4096)
def _parse_timestamp(text: str, zone: ZoneInfo, fold: int) -> datetime:
    """:func:`parse_timestamp`, remembered: the blocks of a response share their start and end times (an
    error is raised again each time, never remembered)."""
    match = _TIMESTAMP.fullmatch(text.strip())
    if match is None:
        raise _bad_timestamp(text, "is not an ISO 8601 date and time")
    part = match.groupdict()
    if not PLAUSIBLE_YEARS[0] <= int(part["year"]) <= PLAUSIBLE_YEARS[1]:
        raise _bad_timestamp(
            text,
            f"is outside the plausible years {PLAUSIBLE_YEARS[0]}-{PLAUSIBLE_YEARS[1]} of a meter reading",
        )
    fraction = (part["fraction"] or "")[:_MICRO_DIGITS].ljust(_MICRO_DIGITS, "0")
    tzinfo: timezone | None = None
    if part["utc"]:
        tzinfo = UTC
    elif part["sign"]:
        minutes = int(part["off_hour"]) * 60 + int(part["off_minute"] or 0)
        if int(part["off_minute"] or 0) >= 60 or minutes >= 24 * 60:
            raise _bad_timestamp(text, "has an impossible UTC offset")
        tzinfo = timezone(timedelta(minutes=-minutes if part["sign"] == "-" else minutes))
    try:
        wall = datetime(
            int(part["year"]),
            int(part["month"]),
            int(part["day"]),
            int(part["hour"]),
            int(part["minute"]),
            int(part["second"] or 0),
            int(fraction),
            tzinfo=tzinfo or zone,
            fold=fold,
        )
    except ValueError as exc:
        raise _bad_timestamp(text, "is not a valid calendar date and time") from exc
    moment = wall.astimezone(UTC)
    if tzinfo is None and moment.astimezone(zone).replace(tzinfo=None) != wall.replace(tzinfo=None):
        raise ParseError(
            f"local time {text[:_EXCERPT]!r} does not exist in {zone.key} (clocks skip it for daylight "
            "saving); check the configured time zone or send times with an offset",
            fragment=text[:200],
        )
    return moment


# ------------------------------------------------------------------------------------------------ rendering


def to_local_naive(moment: datetime, zone: ZoneInfo) -> datetime:
    """The wall-clock time of ``moment`` in ``zone``, without tzinfo."""
    _require_aware(moment, "moment")
    return moment.astimezone(zone).replace(tzinfo=None)


def format_with_offset(moment: datetime, zone: ZoneInfo) -> str:
    """``moment`` as wall-clock time in ``zone`` with its offset, e.g. ``2025-03-01T00:00:00+13:00``."""
    _require_aware(moment, "moment")
    return moment.astimezone(zone).isoformat()


# ------------------------------------------------------------------------------------------------ local days


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    """The calendar date in ``zone`` at ``moment``."""
    _require_aware(moment, "moment")
    return moment.astimezone(zone).date()


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant (UTC) of the local calendar ``day`` in ``zone``.

    Usually local 00:00 (its first occurrence if repeated). Where a zone skips midnight for daylight
    saving, the day starts at the end of the gap.
    """
    candidate = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
    local = candidate.astimezone(zone)
    if local.date() == day and local.time() == time():
        return candidate
    # Midnight is inside a gap: find the first instant whose local date is `day` (transitions are whole
    # seconds, so a binary search over seconds between a point on the previous day and the candidate).
    low, high = candidate - _ONE_DAY, candidate
    while high - low > _ONE_SECOND:
        middle = low + (high - low) // 2
        if middle.astimezone(zone).date() >= day:
            high = middle
        else:
            low = middle
    return high


def local_day_start(moment: datetime, zone: ZoneInfo) -> datetime:
    """The first instant (UTC) of the local day that holds ``moment``."""
    return local_midnight(local_date(moment, zone), zone)


def _next_boundary(moment: datetime, period: str, zone: ZoneInfo) -> datetime:
    today = moment.astimezone(zone).date()
    if period == "day":
        return local_midnight(today + _ONE_DAY, zone)
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return local_midnight(date(year, month, 1), zone)


# ------------------------------------------------------------------------------------------------ blocks


def _no_time_semantics(rt: ReadingType) -> ParseError:
    return ParseError(
        f"reading type {rt.mrid} has neither a fixed interval nor a calendar period, so its values cannot "
        "be placed in time; use an interval reading type or read it as a register",
        fragment=rt.mrid,
    )


def _room(start: datetime, end: datetime, rt: ReadingType, zone: ZoneInfo, limit: int | None) -> int:
    """How many whole intervals of ``rt`` fit in ``[start, end)``, counting at most up to ``limit``."""
    if end <= start:
        return 0
    step = rt.interval
    if step is not None:
        return (end - start) // step
    period = rt.calendar_period
    if period is None:
        raise _no_time_semantics(rt)
    fitted, cursor = 0, start
    while limit is None or fitted < limit:
        cursor = _next_boundary(cursor, period, zone)
        if cursor > end:
            break
        fitted += 1
    return fitted


def block_intervals(
    start: datetime, count: int, rt: ReadingType, zone: ZoneInfo, end: datetime | None = None
) -> list[tuple[datetime, datetime]]:
    """The ``count`` consecutive half-open UTC intervals ``[s, e)`` of a block that starts at ``start``.

    Fixed-length types step by ``rt.interval`` in elapsed time; daily ones to the next local midnight in
    ``zone``; monthly ones to the first of the next local month. With ``end``, a block holding more values
    than ``[start, end)`` has room for raises :class:`ParseError`; fewer is a partial block and fine.
    """
    _require_aware(start, "start")
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    begin = start.astimezone(UTC)
    step, period = rt.interval, rt.calendar_period
    if step is None and period is None:
        raise _no_time_semantics(rt)
    if end is not None:
        _require_aware(end, "end")
        finish = end.astimezone(UTC)
        room = _room(begin, finish, rt, zone, count)
        if room < count:
            raise ParseError(
                f"block holds {count} values but its period has room for {room} ({rt.mrid} from "
                f"{begin.isoformat()} to {finish.isoformat()} in {zone.key}); check the block's timePeriod "
                "and the configured time zone",
                fragment=f"{begin.isoformat()}/{finish.isoformat()} {rt.mrid} values={count}",
            )
    if step is not None:
        return list(_fixed_intervals(begin, step, count))  # a list of its own for the caller
    assert period is not None  # narrowed above: one of the two is set
    intervals: list[tuple[datetime, datetime]] = []
    cursor = begin
    for _ in range(count):
        following = _next_boundary(cursor, period, zone)
        intervals.append((cursor, following))
        cursor = following
    return intervals


#: (UTC start, fold, step, count) -> the intervals of a fixed-length block: every series of a response
#: shares its window's boundaries, so each instant is one object, whose hash is computed once (an aware
#: datetime's hash converts it to UTC first) for the many dictionaries keyed by instants downstream
_FIXED: Final[dict[tuple[datetime, int, timedelta, int], tuple[tuple[datetime, datetime], ...]]] = {}
_FIXED_LIMIT: Final = 1024


def _fixed_intervals(begin: datetime, step: timedelta, count: int) -> tuple[tuple[datetime, datetime], ...]:
    key = (begin, begin.fold, step, count)
    intervals = _FIXED.get(key)
    if intervals is None:
        # each boundary computed once, by exact whole-microsecond additions in C (one interval's end is the
        # next one's start, the very same object)
        bounds = accumulate(repeat(step, count), operator.add, initial=begin)
        intervals = tuple(pairwise(bounds))
        if len(_FIXED) >= _FIXED_LIMIT:
            _FIXED.clear()
        _FIXED[key] = intervals
    return intervals


def expected_interval_count(day: date, rt: ReadingType, zone: ZoneInfo) -> int:
    """Whole intervals of ``rt`` in the local ``day``: 46/48/50 for 30-minute data, 1 for daily, 0 monthly."""
    start = local_midnight(day, zone)
    return _room(start, local_midnight(day + _ONE_DAY, zone), rt, zone, None)
