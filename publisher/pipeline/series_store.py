"""Compact series state in memory and the dedup decision: new, suppressed or revised.

The store remembers, for every series (usage point, reading type) and local day, what was published:
each interval's exact value, its quality and, where not 0, its revision. It holds a series' state as
the very values of its state-topic records: one immutable ``bytes`` block per week
(:mod:`~publisher.kafka.state_blocks`: an index and up to seven encoded days, :mod:`state_codec`), kept
in one flat ``[block's Monday, block, ...]`` list per series. There is no Python object per reading or
per day: a 48-interval day costs about 120 bytes, a block its index and the ``bytes`` header, and a
restore stores each record it reads as it is. A day is sliced out of its block and decoded when a
reading for it arrives (the last decoded day is cached); applying readings to it turns it into a
working draft that is packed, encoded and put back into its block once another day is touched, so a
run of readings of one day costs one decode and one encode.

Transactions: a block is replaced on change, and the first change in a transaction remembers the block
it replaced (copy-on-write of the touched blocks only, by reference). :meth:`~SeriesStore.dirty_records`
are the records to write in the Kafka transaction (one per touched block);
:meth:`~SeriesStore.commit` forgets the old blocks once Kafka committed, and
:meth:`~SeriesStore.rollback` puts them back when it aborted.

Memory stays bounded: blocks whose every day is older than the horizon are dropped with
:meth:`~SeriesStore.evict_before` (a block straddling the horizon's first day is kept whole, so at
most six days beyond the horizon stay, and a block is always written back whole); older blocks needed
by a backfill are loaded from the state topic on demand (:meth:`~SeriesStore.load_record`), and
:meth:`~SeriesStore.mark_loaded` records which days the store holds completely, so the pipeline can
tell which days it still has to load.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Final, cast
from zoneinfo import ZoneInfo

import structlog

from publisher.errors import KafkaFatalError, ParseError
from publisher.kafka.state_blocks import (
    BLOCK_DAYS,
    StateKey,
    block_days,
    block_key,
    block_start,
    check_block,
    day_key,
    day_value,
    is_merged,
    parse_state_key,
    put_day,
    written,
)
from publisher.kafka.state_codec import (
    DayDraft,
    DayState,
    Published,
    Quality,
    check_day_value,
    decode_day,
    encode_day,
)
from publisher.netstream.model import END, QUALITY, QUALITY_CODES, START, VALUE, Reading
from publisher.pipeline.decision import Decision, Outcome, previous_in_draft, previous_in_state, verdict
from publisher.pipeline.locate import Position, day_start, locate

__all__ = ["Decision", "Outcome", "SeriesStore"]  # the verdict types belong to the store's interface

log = structlog.get_logger(__name__)

#: UTC as a module constant: compiled, an imported name is looked up in the module's namespace per use
_UTC: Final = UTC
_SECOND: Final = timedelta(seconds=1)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ZERO: Final = timedelta(0)
#: Python overhead of one stored block (bytes header, two list slots, its Monday's int) and of one series
#: (its list, the usage point string, a dict entry), as measured by tests/bench/state.py
_BLOCK_OVERHEAD: Final = 60
_SERIES_OVERHEAD: Final = 320

_MONDAYS_LIMIT: Final = 1 << 12  # distinct Mondays a loader remembers (78 years)

_DayKey = tuple[str, str, int]  # (reading type, usage point, day ordinal)
_BlockKey = tuple[str, str, int]  # (reading type, usage point, ordinal of the block's Monday)


class SeriesStore:
    """What was published, per series and local day (held in weekly blocks), and the dedup decisions.

    ``value_scale`` is the finest decimal place held in the packed integers (6: micro-units); values
    finer than that, or beyond 64 bits, are kept exactly as decimal text for their slot.
    """

    def __init__(self, *, horizon_days: int = 14, value_scale: int = 6) -> None:
        if horizon_days < 1 or value_scale < 0:
            raise ValueError("horizon_days must be at least 1 and value_scale not negative")
        self.horizon_days = horizon_days
        self.value_scale = value_scale
        #: reading type -> usage point -> flat [block's Monday ordinal, block, ...] (a list is half a dict)
        self._series: dict[str, dict[str, list[int | bytes]]] = {}
        self._ordinals: dict[int, int] = {}  # one int object per block ordinal, shared by all series
        self._touched: dict[_BlockKey, bytes | None] = {}  # blocks changed since commit -> blocks replaced
        self._hot: tuple[_DayKey, DayDraft] | None = None  # the day being applied to, not yet re-encoded
        self._cached: tuple[bytes, int, DayState] | None = None  # the day decoded last: block, ordinal
        self._days = 0
        self._blocks = 0
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
            previous = previous_in_draft(hot[1], position)
        else:
            state = self._day(key)
            previous = None if state is None else previous_in_state(state, position)
        return verdict(previous, value, Quality.of(flags, quality_codes))

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
        # the slot length in seconds; a draft is only taken with a step, so it is positive wherever it divides
        seconds = step // _SECOND if step is not None else 0
        # the working draft of the day being applied to and that day's span [first, following), while the
        # run's readings fall in it; refreshed after every reading that takes the general path
        draft: DayDraft | None = None
        first = following = _EPOCH
        for reading in readings:
            start, end, value = reading[START], reading[END], reading[VALUE]
            if (
                draft is not None
                and start is not None
                and start.tzinfo is _UTC  # aware, so the comparisons below are defined
                and end.tzinfo is _UTC
                and first <= start < following
                and (value is None or value.is_finite())
            ):
                # whole seconds since the day's start (0 to 25 hours): integer arithmetic, which costs a
                # third of timedelta's % and //
                offset = start - first
                elapsed = offset.days * 86400 + offset.seconds
                if not offset.microseconds and not elapsed % seconds:
                    slot = elapsed // seconds
                    quality = Quality.of(reading[QUALITY], reading[QUALITY_CODES])
                    decision = verdict(draft.published(slot), value, quality)
                    if emit(reading, decision):
                        draft.put(slot, seconds, value, quality, decision.revision)
                    continue
            fields = (zone, start, end, interval, value, reading[QUALITY], reading[QUALITY_CODES])
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
        """Record a published reading (with the revision it was published as); its block becomes dirty.

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
            block_at = (reading_type, usage_point, block_start(key[2]))
            if block_at not in self._touched:
                self._touched[block_at] = self._block(block_at)
            state = self._day(key)
            if state is None:
                draft = DayDraft(position.day, self.value_scale)
            else:
                draft = DayDraft.of(state, self.value_scale)
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

    def dirty_records(self) -> list[tuple[bytes, bytes | None]]:
        """``(key, value)`` state records of every block changed since the last commit, for the transaction.

        A block merged from day-keyed records (the layout before blocks) is preceded by tombstones for
        the day keys of its days, so those records leave the topic once the block holds their days.
        """
        self._flush()
        records: list[tuple[bytes, bytes | None]] = []
        for key in self._touched:
            block = self._block(key)
            assert block is not None  # touched blocks are neither evicted nor overwritten by loads
            reading_type, usage_point, first = key
            if is_merged(block):
                records.extend(
                    (day_key(usage_point, reading_type, date.fromordinal(first + offset)), None)
                    for offset in block_days(block)
                )
            records.append((block_key(usage_point, reading_type, date.fromordinal(first)), written(block)))
        return records

    def commit(self) -> None:
        """The Kafka transaction committed: the changes are the store's state now."""
        self._flush()
        for key in self._touched:
            block = self._block(key)
            if block is not None and is_merged(block):
                self._put(key, written(block))  # its day-keyed records are tombstoned now
        self._touched.clear()

    def clear_dirty(self) -> None:
        """Same as :meth:`commit`: the dirty blocks were written and committed."""
        self.commit()

    def rollback(self) -> None:
        """The Kafka transaction aborted: each block changed since the last commit gets its old value back."""
        self._hot = None
        if self._touched:
            log.info("series_state_rolled_back", blocks=len(self._touched))
        for key, old in self._touched.items():
            self._put(key, old)
        self._touched.clear()

    # -------------------------------------------------------------------------------- loading, eviction

    def load_record(self, key: bytes, value: bytes | None, parsed: StateKey | None = None) -> None:
        """Restore one record of the state topic (``None``: tombstone); other record types are ignored.

        A block record replaces the block; a record of the layout before blocks (a ``day|`` key) replaces
        that day in its block, and the block is marked to tombstone the day keys when it is written.
        Records are applied in topic order, so the later one wins. A block with uncommitted changes keeps
        them: memory is newer than the topic then. ``parsed`` is ``parse_state_key(key)`` when the caller
        has it already. A corrupt value raises :class:`KafkaFatalError`.
        """
        if parsed is None:
            parsed = parse_state_key(key)
        if parsed is None:
            return
        usage_point, reading_type, first, day = parsed
        block_at = (reading_type, usage_point, first)
        if self._touched and block_at in self._touched:
            return
        if day is not None:
            if value is not None:
                check_day_value(value)
            value = put_day(self._block(block_at), day - first, value, merged=True)
        elif value is not None:
            check_block(value)
        self._put(block_at, value)

    def loader(self, wanted: Callable[[int], bool]) -> Callable[[bytes, bytes | None], None]:
        """A sink for every record of the state topic: :meth:`load_record` for the block and day records
        of the blocks ``wanted`` accepts (by the ordinal of their Monday), others are ignored.

        A restore calls it once per record, so the usual case (an unescaped block key, a block the store
        does not hold yet, no uncommitted changes) is written out here in one call; anything else takes
        :meth:`load_record`'s way, with the same result.
        """
        series = self._series
        #: date part of a block key -> the ordinal of that Monday, or -1 when its blocks are not wanted;
        #: the int objects are shared by every series' list
        mondays: dict[str, int] = {}

        def load(key: bytes, value: bytes | None) -> None:
            try:
                text = key.decode()
            except UnicodeDecodeError:
                return
            parts = text.split("|")
            first = mondays.get(parts[-1])
            if first is None or parts[0] != "block" or len(parts) != 4 or "%" in text:
                parsed = parse_state_key(key)
                if parsed is None:
                    return
                loading = wanted(parsed[2])
                if parsed[3] is None and len(mondays) < _MONDAYS_LIMIT:
                    mondays[parts[-1]] = self._ordinals.setdefault(parsed[2], parsed[2]) if loading else -1
                if loading:
                    self.load_record(key, value, parsed)
                return
            if first < 0:
                return
            by_point = series.get(parts[2])
            blocks = None if by_point is None else by_point.get(parts[1])
            if value is None or self._touched or by_point is None or (blocks is not None and first in blocks):
                self.load_record(key, value, (parts[1], parts[2], first, None))
                return
            check_block(value)
            if blocks is None:
                by_point[parts[1]] = [first, value]
                self._series_count += 1
            else:
                blocks += (first, value)
            self._block_bytes += len(value)
            self._days += value[1]
            self._blocks += 1

        return load

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
        ordinal = day.toordinal()
        if self._hot is not None and self._hot[0] == (reading_type, usage_point, ordinal):
            return True
        first = block_start(ordinal)
        block = self._block((reading_type, usage_point, first))
        return block is not None and ordinal - first in block_days(block)

    def horizon_start(self, today: date) -> date:
        """The oldest day the horizon keeps in memory when it is ``today``."""
        return today - timedelta(days=self.horizon_days)

    def evict_expired(self, today: date) -> int:
        """Drop the blocks that end before :meth:`horizon_start`; returns how many days were dropped."""
        return self.evict_before(self.horizon_start(today))

    def evict_before(self, day: date) -> int:
        """Drop every block whose days are all older than ``day`` (except blocks with uncommitted changes).

        A block holding ``day`` is kept whole (at most six older days stay): a block is always written
        back whole, so it never loses days it held in the topic. Returns the number of days dropped.
        """
        self._flush()
        cutoff = day.toordinal()
        dropped = 0
        for reading_type, by_point in list(self._series.items()):
            for usage_point, blocks in list(by_point.items()):
                for first in [o for o in blocks[::2] if cast(int, o) + BLOCK_DAYS <= cutoff]:
                    key = (reading_type, usage_point, cast(int, first))
                    block = self._block(key)
                    if key not in self._touched and block is not None:
                        dropped += block[1]
                        self._put(key, None)
        kept_from = block_start(cutoff)
        self._ordinals = {o: o for o in self._ordinals if o >= kept_from}
        self._loaded_days = {o for o in self._loaded_days if o >= kept_from}
        if self._loaded_from is not None and self._loaded_from < kept_from:
            self._loaded_from = kept_from
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
        """Estimated resident bytes of the state (blocks plus Python overhead), in O(1)."""
        self._flush()
        return self._block_bytes + self._blocks * _BLOCK_OVERHEAD + self._series_count * _SERIES_OVERHEAD

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
        """Pack and encode the hot draft, and put it into its block."""
        hot = self._hot
        if hot is not None:
            self._hot = None
            (reading_type, usage_point, ordinal), draft = hot
            state = draft.pack()
            key = (reading_type, usage_point, block_start(ordinal))
            block = put_day(self._block(key), ordinal - key[2], encode_day(state))
            assert block is not None  # it holds the day just put
            self._put(key, block)
            self._cached = (block, ordinal, state)

    def _day(self, key: _DayKey) -> DayState | None:
        """The decoded state of one series day, or ``None`` if the store holds none."""
        reading_type, usage_point, ordinal = key
        first = ordinal - (ordinal - 1) % BLOCK_DAYS
        block = self._block((reading_type, usage_point, first))
        if block is None:
            return None
        cached = self._cached
        if cached is not None and cached[0] is block and cached[1] == ordinal:
            return cached[2]
        value = day_value(block, ordinal - first)
        if value is None:
            return None
        state = decode_day(value)
        if state.day.toordinal() != ordinal:
            raise KafkaFatalError(
                f"state block of {date.fromordinal(first)} holds {state.day} where "
                f"{date.fromordinal(ordinal)} belongs; write a tombstone for its key "
                "(that week's readings are then published again as new)"
            )
        self._cached = (block, ordinal, state)
        return state

    def _block(self, key: _BlockKey) -> bytes | None:
        by_point = self._series.get(key[0])
        blocks = None if by_point is None else by_point.get(key[1])
        if blocks is None:
            return None
        at = _find(blocks, key[2])
        return None if at < 0 else cast(bytes, blocks[at + 1])

    def _put(self, key: _BlockKey, block: bytes | None) -> None:
        """Set (``None``: drop) one block; the hot path of a restore, so written out in full."""
        reading_type, usage_point, first = key
        by_point = self._series.get(reading_type)
        if by_point is None:
            if block is None:
                return
            by_point = self._series[sys.intern(reading_type)] = {}
        blocks = by_point.get(usage_point)
        if blocks is None:
            if block is None:
                return
            by_point[usage_point] = [self._ordinals.setdefault(first, first), block]
            self._series_count += 1
        elif first in blocks:  # bytes never equal ints
            at = blocks.index(first)
            old = cast(bytes, blocks[at + 1])
            self._block_bytes -= len(old)
            self._days -= old[1]
            self._blocks -= 1
            if block is None:
                del blocks[at : at + 2]
                if not blocks:
                    self._drop_series(reading_type, usage_point)
                return
            blocks[at + 1] = block
        elif block is None:
            return
        else:
            blocks += (self._ordinals.setdefault(first, first), block)
        self._block_bytes += len(block)
        self._days += block[1]
        self._blocks += 1

    def _drop_series(self, reading_type: str, usage_point: str) -> None:
        by_point = self._series[reading_type]
        del by_point[usage_point]
        if not by_point:
            del self._series[reading_type]
        self._series_count -= 1


def _find(blocks: list[int | bytes], ordinal: int) -> int:
    """Position of ``ordinal`` in a flat ``[ordinal, block, ...]`` list, or -1 (bytes never equal ints)."""
    if ordinal not in blocks:  # a miss (every block a restore adds) without the cost of an exception
        return -1
    return blocks.index(ordinal)


def _check_value(value: Decimal | None) -> None:
    if value is not None and not value.is_finite():
        raise ParseError(f"reading value {value} is not a finite number; only numbers can be published")
