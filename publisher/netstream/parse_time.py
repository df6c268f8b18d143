"""Placing a response's values in time: block intervals and the start of end-stamped CIM readings.

Offset-less times are wall-clock times in the usage point's zone. On the autumn fall-back day a local
time occurs twice; which one a block means is decided by its values (netstream-api.md §8.3): the
reading of start and end whose interval count exactly fills the block's period wins.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from publisher.errors import ParseError
from publisher.netstream.localtime import block_intervals, local_date, local_midnight, parse_timestamp
from publisher.netstream.readingtype import ReadingType

_TINY: Final = timedelta(microseconds=1)


def place_block(
    start_text: str,
    end_text: str | None,
    count: int,
    rt: ReadingType,
    zone: ZoneInfo,
    *,
    within: tuple[datetime, datetime] | None = None,
) -> list[tuple[datetime, datetime]]:
    """The UTC intervals of a block's ``count`` values; ParseError if they cannot be placed.

    When the block's start or end is a local time that occurs twice, a reading that keeps the values inside
    ``within`` (the UTC window the request asked for) wins first, then one that makes the values exactly
    fill ``[start, end)``; failing both, the first that fits at all. The window is what tells a block lying
    wholly inside the repeated hour (``02:00``-``02:30`` twice over) which of the two hours it is.
    """
    start = parse_timestamp(start_text, zone)
    end = parse_timestamp(end_text, zone) if end_text is not None else None
    if count == 0:
        return []
    starts = dict.fromkeys((start, parse_timestamp(start_text, zone, fold=1)))
    ends = dict.fromkeys((end, parse_timestamp(end_text, zone, fold=1) if end_text is not None else None))
    if len(starts) == 1 and len(ends) == 1:
        return block_intervals(start, count, rt, zone, end)
    best: list[tuple[datetime, datetime]] | None = None
    best_rank = (False, False)
    error: ParseError | None = None
    for candidate_start in starts:
        for candidate_end in ends:
            try:
                intervals = block_intervals(candidate_start, count, rt, zone, candidate_end)
            except ParseError as exc:
                error = error or exc
                continue
            inside = within is None or (within[0] <= intervals[0][0] and intervals[-1][1] <= within[1])
            rank = (inside, candidate_end is None or intervals[-1][1] == candidate_end)
            if best is None or rank > best_rank:
                best, best_rank = intervals, rank
    if best is None:
        assert error is not None  # every candidate failed, so one error was kept
        raise error
    return best


def end_stamped(text: str, zone: ZoneInfo, previous_end: datetime | None) -> datetime:
    """The end of a CIM interval reading; a repeated local time is the later one if the earlier is past."""
    end = parse_timestamp(text, zone)
    if previous_end is not None and end <= previous_end:
        later = parse_timestamp(text, zone, fold=1)
        if later > previous_end:
            return later
    return end


def start_before(end: datetime, rt: ReadingType, zone: ZoneInfo) -> datetime:
    """Start of a CIM interval reading stamped at ``end``: one interval earlier, or the local period start."""
    step = rt.interval
    if step is not None:
        return end - step
    period = rt.calendar_period
    if period is None:
        raise ParseError(
            f"reading type {rt.mrid} has no interval length, so an interval reading stamped at its end "
            "cannot be placed; add timePeriod.start or use an interval reading type"
        )
    day = local_date(end - _TINY, zone)
    if period == "month":
        day = day.replace(day=1)
    return local_midnight(day, zone)
