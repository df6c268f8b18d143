"""Compact series state in memory and the dedup decision: new, suppressed or revised.

The store remembers, for every series (usage point, reading type) and local day, what was published:
each interval's exact value, its quality and, where not 0, its revision. It holds every (series, day)
as ONE immutable ``bytes`` object, the very value of its state-topic record (:mod:`state_codec`), so
there is no Python object per reading: a 48-interval day costs about 120 bytes plus the ``bytes``
header, and a series keeps its days in one flat ``[day, bytes, day, bytes, ...]`` list. A day is
decoded when a reading for it arrives (the last decoded day is cached); applying readings to it turns
it into a working draft that is packed and encoded again once the next day is touched, so a run of
readings of one day costs one decode and one encode.

Transactions: a day's bytes are replaced on change, and the first change in a transaction remembers
the bytes it replaced (copy-on-write of the touched days only, by reference).
:meth:`~SeriesStore.dirty_records` are the records to write in the Kafka transaction;
:meth:`~SeriesStore.commit` forgets the old bytes once Kafka committed, and
:meth:`~SeriesStore.rollback` puts them back when it aborted.

Memory stays bounded: days older than the horizon are dropped with :meth:`~SeriesStore.evict_before`;
older days needed by a backfill are loaded from the state topic on demand
(:meth:`~SeriesStore.load_record`), and :meth:`~SeriesStore.mark_loaded` records which days the store
holds completely, so the pipeline can tell which days it still has to load.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import cast
from zoneinfo import ZoneInfo

import structlog

from publisher.errors import ParseError
from publisher.kafka.state_codec import (
    DayDraft,
    DayState,
    Published,
    Quality,
    check_day_value,
    decode_day,
    encode_day,
    parse_state_key,
    read_entry,
    read_slot,
    state_key,
)
from publisher.netstream.model import Reading

log = structlog.get_logger(__name__)

_SECOND = timedelta(seconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ZERO = timedelta(0)
#: Python overhead of one stored day (bytes header, two list slots) and of one series (its list, the
#: usage point string, a dict entry), as measured by tests/bench/bench_state_memory.py
_DAY_OVERHEAD = 50
_SERIES_OVERHEAD = 320

_DayKey = tuple[str, str, int]  # (reading type, usage point, day ordinal)


class Outcome(Enum):
    """What to do with a reading."""

    NEW = "new"  #: never published for this interval: publish with revision 0
    SUPPRESSED = "suppressed"  #: same value and quality as published: drop it
    REVISED = "revised"  #: changed: publish as the next revision with the previous value


@dataclass(frozen=True, slots=True)
class Decision:
    """The dedup verdict for one reading."""

    outcome: Outcome
    revision: int  #: to publish: 0 when NEW, previous + 1 when REVISED, the current one when SUPPRESSED
    previous_value: Decimal | None = None  #: exact previous value (REVISED only)
    previous_flags: int | None = None  #: previous Netstream flags (REVISED only)
    previous_missing: bool = False  #: the previous publication was a missing value (REVISED only)


_NEW = Decision(Outcome.NEW, 0)  # immutable, so one instance serves every new reading


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


class SeriesStore:
    """What was published, per series and local day, and the dedup decisions derived from it.

    ``value_scale`` is the finest decimal place held in the packed integers (6: micro-units); values
    finer than that, or beyond 64 bits, are kept exactly as decimal text for their slot.
    """

    def __init__(self, *, horizon_days: int = 14, value_scale: int = 6) -> None:
        if horizon_days < 1 or value_scale < 0:
            raise ValueError("horizon_days must be at least 1 and value_scale not negative")
        self.horizon_days = horizon_days
        self.value_scale = value_scale
        #: reading type -> usage point -> flat [day ordinal, encoded day state, ...] (a list is half a dict)
        self._series: dict[str, dict[str, list[int | bytes]]] = {}
        self._ordinals: dict[int, int] = {}  # one int object per day ordinal, shared by all series
        self._touched: dict[_DayKey, bytes | None] = {}  # days changed since commit -> bytes they replaced
        self._hot: tuple[_DayKey, DayDraft] | None = None  # the day being applied to, not yet re-encoded
        self._cached: tuple[bytes, DayState] | None = None  # the day decoded last
        self._days = 0
        self._series_count = 0
        self._block_bytes = 0
        self._loaded_from: int | None = None  # every day from this ordinal on is loaded
        self._loaded_days: set[int] = set()  # days loaded before _loaded_from
        #: the last located reading (decide and apply of one reading locate it once) and the last local
        #: day seen, (zone, first instant, first instant of the next day, day, its ordinal): most readings
        #: share it
        self._located: tuple[tuple[object, ...], Position] | None = None
        self._span: tuple[ZoneInfo, datetime, datetime, date, int] | None = None

    # -------------------------------------------------------------------------------- decisions

    def decide(  # noqa: PLR0917 -- the pipeline's agreed signature: one argument per reading field
        self,
        usage_point: str,
        reading_type: str,
        zone: ZoneInfo,
        start: datetime | None,
        end: datetime,
        interval: timedelta | None,
        value: Decimal | None,
        flags: int | None,
        quality_codes: tuple[str, ...],
    ) -> Decision:
        """The verdict for a reading; changes nothing. Same value and quality identity -> SUPPRESSED."""
        _check_value(value)
        position = self._locate(zone, start, end, interval)
        key = (reading_type, usage_point, position.day.toordinal())
        hot = self._hot
        if hot is not None and hot[0] == key:
            previous = _previous_in_draft(hot[1], position)
        else:
            block = self._block(key)
            previous = None if block is None else _previous(self._decoded(block), position)
        return _verdict(previous, value, Quality.of(flags, quality_codes))

    def publish_run(
        self,
        usage_point: str,
        reading_type: str,
        zone: ZoneInfo,
        interval: timedelta | None,
        readings: Sequence[Reading],
        emit: Callable[[Reading, Decision], bool],
    ) -> None:
        """Decide each reading of one series in turn, hand it to ``emit`` with the decision, and apply it
        when ``emit`` returns True (it published the reading): exactly :meth:`decide`, then :meth:`apply`
        with the decided revision, reading by reading, so a later reading of the run sees an earlier one.

        The readings of a run mostly fill the slots of the day being applied to; those take a short path
        (slot arithmetic on the cached day span, the working draft read and changed in place).
        """
        step = interval if interval is not None and interval > _ZERO and not interval % _SECOND else None
        seconds = step // _SECOND if step is not None else 0
        grid = step or _SECOND  # the slot length; only used while a draft is taken, which needs a step
        # the working draft of the day being applied to and that day's span [first, following), while the
        # run's readings fall in it; refreshed after every reading that takes the general path
        draft: DayDraft | None = None
        first = following = _EPOCH
        for reading in readings:
            start, value = reading.start, reading.value
            if (
                draft is not None
                and start is not None
                and start.tzinfo is UTC  # aware, so the comparisons below are defined
                and reading.end.tzinfo is UTC
                and first <= start < following
                and (value is None or value.is_finite())
            ):
                offset = start - first
                if not offset % grid:
                    slot = offset // grid
                    quality = Quality.of(reading.quality, reading.quality_codes)
                    decision = _verdict(draft.published(slot), value, quality)
                    if emit(reading, decision):
                        draft.put(slot, seconds, value, quality, decision.revision)
                    continue
            fields = (zone, start, reading.end, interval, value, reading.quality, reading.quality_codes)
            decision = self.decide(usage_point, reading_type, *fields)
            if emit(reading, decision):
                self.apply(usage_point, reading_type, *fields, decision.revision)
            hot, span = self._hot, self._span
            draft = None
            if (
                step is not None
                and hot is not None
                and span is not None
                and span[0] is zone
                and hot[0] == (reading_type, usage_point, span[4])
                and hot[1].interval_seconds in (0, seconds)
            ):
                draft, first, following = hot[1], span[1], span[2]

    def apply(  # noqa: PLR0917 -- the pipeline's agreed signature: one argument per reading field
        self,
        usage_point: str,
        reading_type: str,
        zone: ZoneInfo,
        start: datetime | None,
        end: datetime,
        interval: timedelta | None,
        value: Decimal | None,
        flags: int | None,
        quality_codes: tuple[str, ...],
        revision: int,
    ) -> None:
        """Record a published reading (with the revision it was published as); its day becomes dirty.

        Consecutive applies to one day change one working draft; it is packed and encoded when another
        day is applied to, or when records, sizes or a commit are asked for.
        """
        _check_value(value)
        if revision < 0:
            raise ValueError(f"revision {revision} is negative; publish revisions count from 0")
        position = self._locate(zone, start, end, interval)
        key = (reading_type, usage_point, position.day.toordinal())
        hot = self._hot
        if hot is not None and hot[0] == key:
            draft = hot[1]
        else:
            self._flush()
            old = self._block(key)
            if key not in self._touched:
                self._touched[key] = old
            if old is None:
                draft = DayDraft(position.day, self.value_scale)
            else:
                draft = DayDraft.of(self._decoded(old), self.value_scale)
            self._hot = (key, draft)
        published = Published(value, Quality.of(flags, quality_codes), revision)
        if position.slot is not None and draft.interval_seconds in (0, position.interval_seconds):
            draft.put_slot(position.slot, position.interval_seconds, published)
        else:
            draft.put_entry(position.end, published)

    # -------------------------------------------------------------------------------- transactions

    def begin(self) -> None:
        """Start a batch; every :meth:`apply` until :meth:`commit` or :meth:`rollback` belongs to it."""
        if self._touched:
            raise RuntimeError("begin() with uncommitted changes: call commit() or rollback() first")

    def dirty_records(self) -> list[tuple[bytes, bytes]]:
        """``(key, value)`` state records of every day changed since the last commit, for the transaction."""
        self._flush()
        records = []
        for key in self._touched:
            block = self._block(key)
            assert block is not None  # touched days are neither evicted nor overwritten by loads
            reading_type, usage_point, ordinal = key
            records.append((state_key(usage_point, reading_type, date.fromordinal(ordinal)), block))
        return records

    def commit(self) -> None:
        """The Kafka transaction committed: the changes are the store's state now."""
        self._flush()
        self._touched.clear()

    def clear_dirty(self) -> None:
        """Same as :meth:`commit`: the dirty days were written and committed."""
        self.commit()

    def rollback(self) -> None:
        """The Kafka transaction aborted: every day changed since the last commit gets its old bytes back."""
        self._hot = None
        if self._touched:
            log.info("series_state_rolled_back", days=len(self._touched))
        for key, old in self._touched.items():
            self._put(key, old)
        self._touched.clear()

    # -------------------------------------------------------------------------------- loading, eviction

    def load_record(
        self, key: bytes, value: bytes | None, parsed: tuple[str, str, date] | None = None
    ) -> None:
        """Restore one record of the state topic (``None``: tombstone); other record types are ignored.

        A later record for the same key replaces an earlier one. A day with uncommitted changes keeps
        them: memory is newer than the topic then. ``parsed`` is ``parse_state_key(key)`` when the caller
        has it already.
        """
        if parsed is None:
            parsed = parse_state_key(key)
        if parsed is None:
            return
        usage_point, reading_type, day = parsed
        day_key = (reading_type, usage_point, day.toordinal())
        if day_key in self._touched:
            return
        if value is not None:
            check_day_value(value)
        self._put(day_key, value)

    def mark_loaded(self, first: date, last: date | None = None) -> None:
        """Days ``first``..``last`` (``None``: and every later day) are fully loaded from the state topic."""
        if last is None or (self._loaded_from is not None and last.toordinal() + 1 >= self._loaded_from):
            start = first.toordinal()
            self._loaded_from = start if self._loaded_from is None else min(start, self._loaded_from)
            self._loaded_days = {o for o in self._loaded_days if o < self._loaded_from}
        else:
            self._loaded_days.update(range(first.toordinal(), last.toordinal() + 1))

    def unloaded_days(self, first: date, last: date) -> list[date]:
        """The days in ``first``..``last`` that must be loaded from the state topic before deciding."""
        return [
            date.fromordinal(o)
            for o in range(first.toordinal(), last.toordinal() + 1)
            if (self._loaded_from is None or o < self._loaded_from) and o not in self._loaded_days
        ]

    def has_day(self, usage_point: str, reading_type: str, day: date) -> bool:
        """Whether the store holds state of this series for this local day."""
        key = (reading_type, usage_point, day.toordinal())
        return (self._hot is not None and self._hot[0] == key) or self._block(key) is not None

    def horizon_start(self, today: date) -> date:
        """The oldest day the horizon keeps in memory when it is ``today``."""
        return today - timedelta(days=self.horizon_days)

    def evict_expired(self, today: date) -> int:
        """Drop the days before :meth:`horizon_start`; returns how many were dropped."""
        return self.evict_before(self.horizon_start(today))

    def evict_before(self, day: date) -> int:
        """Drop every day older than ``day`` (except days with uncommitted changes); returns the count."""
        self._flush()
        cutoff = day.toordinal()
        dropped = 0
        for reading_type, by_point in list(self._series.items()):
            for usage_point, days in list(by_point.items()):
                for ordinal in [o for o in days[::2] if cast(int, o) < cutoff]:
                    key = (reading_type, usage_point, cast(int, ordinal))
                    if key not in self._touched:
                        self._put(key, None)
                        dropped += 1
        self._ordinals = {o: o for o in self._ordinals if o >= cutoff}
        self._loaded_days = {o for o in self._loaded_days if o >= cutoff}
        if self._loaded_from is not None and self._loaded_from < cutoff:
            self._loaded_from = cutoff
        self._cached = None
        log.info("series_state_evicted", before=day.isoformat(), days=dropped, remaining=self._days)
        return dropped

    # -------------------------------------------------------------------------------- size

    def series_count(self) -> int:
        """Series with state in memory."""
        self._flush()
        return self._series_count

    def day_count(self) -> int:
        """(series, day) states in memory."""
        self._flush()
        return self._days

    def approx_bytes(self) -> int:
        """Estimated resident bytes of the state (encoded days plus Python overhead), in O(1)."""
        self._flush()
        return self._block_bytes + self._days * _DAY_OVERHEAD + self._series_count * _SERIES_OVERHEAD

    # -------------------------------------------------------------------------------- internals

    def _locate(
        self, zone: ZoneInfo, start: datetime | None, end: datetime, interval: timedelta | None
    ) -> Position:
        """:func:`locate`, remembering the last answer and the last local day (same results, less work)."""
        args = (zone, start, end, interval)
        located = self._located
        if located is not None and located[0] == args:
            return located[1]
        span = self._span
        if (
            span is not None
            and span[0] is zone
            and start is not None
            and start.tzinfo is not None
            and end.tzinfo is UTC
            and interval is not None
            and interval > _ZERO
            and span[1] <= start < span[2]
            and not interval % _SECOND
        ):
            offset = start - span[1]
            if not offset % interval:
                position = Position(span[3], offset // interval, interval // _SECOND, end)
                self._located = (args, position)
                return position
        position = locate(zone, start, end, interval)
        if position.slot is not None:
            first = day_start(zone, position.day)
            following = day_start(zone, position.day + timedelta(days=1))
            self._span = (zone, first, following, position.day, position.day.toordinal())
        self._located = (args, position)
        return position

    def _flush(self) -> None:
        """Pack and encode the hot draft into its day's bytes."""
        hot = self._hot
        if hot is not None:
            self._hot = None
            state = hot[1].pack()
            block = encode_day(state)
            self._put(hot[0], block)
            self._cached = (block, state)

    def _block(self, key: _DayKey) -> bytes | None:
        by_point = self._series.get(key[0])
        days = None if by_point is None else by_point.get(key[1])
        if days is None:
            return None
        at = _find(days, key[2])
        return None if at < 0 else cast(bytes, days[at + 1])

    def _put(self, key: _DayKey, block: bytes | None) -> None:
        reading_type, usage_point, ordinal = key
        by_point = self._series.get(reading_type)
        days = None if by_point is None else by_point.get(usage_point)
        at = -1 if days is None else _find(days, ordinal)
        if at >= 0:
            assert days is not None
            self._block_bytes -= len(cast(bytes, days[at + 1]))
            self._days -= 1
            if block is None:
                del days[at : at + 2]
                if not days:
                    self._drop_series(reading_type, usage_point)
            else:
                days[at + 1] = block
        elif block is not None:
            if days is None:
                days = self._new_series(reading_type, usage_point)
            days += (self._ordinals.setdefault(ordinal, ordinal), block)
        if block is not None:
            self._block_bytes += len(block)
            self._days += 1

    def _new_series(self, reading_type: str, usage_point: str) -> list[int | bytes]:
        by_point = self._series.setdefault(sys.intern(reading_type), {})
        days: list[int | bytes] = []
        by_point[sys.intern(usage_point)] = days
        self._series_count += 1
        return days

    def _drop_series(self, reading_type: str, usage_point: str) -> None:
        by_point = self._series[reading_type]
        del by_point[usage_point]
        if not by_point:
            del self._series[reading_type]
        self._series_count -= 1

    def _decoded(self, block: bytes) -> DayState:
        cached = self._cached
        if cached is not None and cached[0] is block:
            return cached[1]
        state = decode_day(block)
        self._cached = (block, state)
        return state


def _find(days: list[int | bytes], ordinal: int) -> int:
    """Position of ``ordinal`` in a flat ``[ordinal, block, ...]`` list, or -1 (bytes never equal ints)."""
    if ordinal not in days:  # a miss (every day a restore adds) without the cost of an exception
        return -1
    return days.index(ordinal)


def _verdict(previous: Published | None, value: Decimal | None, quality: Quality) -> Decision:
    if previous is None:
        return _NEW
    if previous.value == value and previous.quality == quality:
        return Decision(Outcome.SUPPRESSED, previous.revision)
    return Decision(
        Outcome.REVISED,
        previous.revision + 1,
        previous_value=previous.value,
        previous_flags=previous.quality.flags,
        previous_missing=previous.value is None,
    )


def _previous_in_draft(draft: DayDraft, position: Position) -> Published | None:
    if position.slot is not None and draft.interval_seconds in (0, position.interval_seconds):
        return draft.published(position.slot)
    return draft.entries.get(position.end)


def _previous(state: DayState, position: Position) -> Published | None:
    if position.slot is not None and state.interval_seconds in (0, position.interval_seconds):
        return read_slot(state, position.slot)
    return read_entry(state, position.end)


def _check_value(value: Decimal | None) -> None:
    if value is not None and not value.is_finite():
        raise ParseError(f"reading value {value} is not a finite number; only numbers can be published")
