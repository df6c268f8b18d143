"""Values of the compacted state topic: the Avro day state and backfill progress, and key escaping.

The state topic (``netstream-publisher.state.v1``) holds two kinds of record, told apart by the key:

``block|<usage point>|<reading type>|<YYYY-MM-DD of a Monday>``
    what was published for one series in one week, as up to seven day states (:class:`DayState`)
    packed into one value by :mod:`publisher.kafka.state_blocks`, which also explains the key layout,
    why a record holds a week, and how records of the former one-record-per-day layout
    (``day|<usage point>|<reading type>|<YYYY-MM-DD>``) are still read;
``backfill|<job id>``
    which windows of one backfill job are committed (:class:`BackfillProgress`).

The local day stays the unit of the state itself: of Netstream windows, of the DST slot layout
(46/48/50 half-hours) and of decoding. A day state is about 120 bytes for 48 half-hours, however long
the history; a block is its days' values side by side behind a small index, so one day is read
without decoding the others.

Key parts are UTF-8 with ``%`` and ``|`` percent-escaped (:func:`escape_key_part`), so any identifier
round-trips.

A day value is one format byte (:data:`FORMAT_VERSION`) and a schemaless Avro ``StateRecord``
(``schemas/series_state.avsc``), as is a progress value. The topic is internal, so there is no registry;
the format byte lets the layout evolve. :func:`read_slot` and :func:`read_entry` read one published
reading straight from a :class:`DayState`; :class:`DayDraft` is the mutable working form that packs
back into one.
"""

from __future__ import annotations

import functools
import io
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final, cast

from fastavro import schemaless_reader, schemaless_writer

from publisher.errors import KafkaFatalError
from publisher.kafka.avro import load_schema
from publisher.kafka.avro_writer import Decline, Write, compile_writer

#: first byte of every state value; bump it when the layout changes incompatibly
FORMAT_VERSION: Final = 1
_DAY_RECORD: Final = "netstream.publisher.state.SeriesDayState"
_PROGRESS_RECORD: Final = "netstream.publisher.state.BackfillProgress"
#: the Avro union index of ``SeriesDayState`` (zigzag varint 0), right after the format byte
_DAY_BRANCH: Final = 0

_CORRUPT_FIX: Final = "write a tombstone for its key (its readings are then published again as new)"
_SEP: Final = "|"
_PROGRESS_TAG: Final = "backfill"

# ------------------------------------------------------------------------------------------ keys


def escape_key_part(part: str) -> str:
    """A key part with ``%`` and ``|`` percent-escaped, so that ``|`` separates the parts of a key."""
    return part.replace("%", "%25").replace(_SEP, "%7C")


def unescape_key_part(part: str) -> str:
    """Undo :func:`escape_key_part`."""
    # "%" only ever starts an escape, so undoing "%7C" first cannot create a false "%25"
    return part.replace("%7C", _SEP).replace("%25", "%")


def progress_key(job_id: str) -> bytes:
    """Key of the progress record of one backfill job, e.g. ``b"backfill|<job id>"``."""
    return _SEP.join((_PROGRESS_TAG, escape_key_part(job_id))).encode()


def parse_progress_key(key: bytes) -> str | None:
    """The job id of a backfill progress key; ``None`` for keys of other records."""
    parts = _split_key(key, _PROGRESS_TAG, 2)
    return None if parts is None else unescape_key_part(parts[1])


def _split_key(key: bytes, tag: str, count: int) -> list[str] | None:
    try:
        parts = key.decode("utf-8").split(_SEP)
    except UnicodeDecodeError:
        return None
    return parts if len(parts) == count and parts[0] == tag else None


# ------------------------------------------------------------------------------------------ records


@dataclass(frozen=True, slots=True)
class Quality:
    """A quality identity: the Netstream flags when present, else the tuple of IEC quality codes."""

    flags: int | None = None
    codes: tuple[str, ...] = ()

    @classmethod
    def of(cls, flags: int | None, codes: Iterable[str]) -> Quality:
        """The identity of a reading's quality: codes count only when there are no flags."""
        if flags is not None:
            quality = _BY_FLAGS.get(flags)
            if quality is None:
                quality = cls(flags, ())
                if len(_BY_FLAGS) < _BY_FLAGS_LIMIT:
                    _BY_FLAGS[flags] = quality  # a handful of flag values cover nearly every reading
            return quality
        return cls(None, tuple(codes))


_BY_FLAGS: Final[dict[int, Quality]] = {}
_BY_FLAGS_LIMIT: Final = 1024


@dataclass(frozen=True, slots=True)
class InstantEntry:
    """What was published for a reading outside the slot table, keyed by its end (UTC)."""

    end: datetime
    quality: int  #: index into :attr:`DayState.qualities`
    value: Decimal | None  #: ``None``: published as missing
    revision: int = 0


@dataclass(frozen=True, slots=True)
class DayState:
    """One ``SeriesDayState`` record, field for field (see the schema's docs for the packing)."""

    day: date
    interval_seconds: int = 0
    value_exponent: int = 0
    value_width: int = 1
    values: bytes = b""
    wide_values: tuple[tuple[int, str], ...] = ()  #: (slot, exact decimal text), in slot order
    tags: bytes = b""
    qualities: tuple[Quality, ...] = ()
    revisions: tuple[tuple[int, int], ...] = ()  #: (slot, revision), in slot order, revision > 0
    entries: tuple[InstantEntry, ...] = ()  #: in time order

    @property
    def slot_count(self) -> int:
        """Number of slots in the slot table (slots after the last published one are not stored)."""
        return len(self.values) // self.value_width


@dataclass(frozen=True, slots=True)
class BackfillProgress:
    """The committed windows of one backfill job."""

    job_id: str
    windows_done: frozenset[int]


def encode_day(state: DayState) -> bytes:
    """The state-topic value of one series day."""
    body = {
        "day": state.day,
        "interval_seconds": state.interval_seconds,
        "value_exponent": state.value_exponent,
        "value_width": state.value_width,
        "values": state.values,
        "wide_values": [{"slot": slot, "value": text} for slot, text in state.wide_values],
        "tags": state.tags,
        "qualities": [{"flags": q.flags, "codes": list(q.codes)} for q in state.qualities],
        "revisions": [{"slot": slot, "revision": rev} for slot, rev in state.revisions],
        "entries": [
            {
                "end": entry.end,
                "quality": entry.quality,
                "value": None if entry.value is None else str(entry.value),
                "revision": entry.revision,
            }
            for entry in state.entries
        ],
    }
    return _write(_DAY_RECORD, body)


def decode_day(data: bytes) -> DayState:
    """Read a value written by :func:`encode_day`; :class:`KafkaFatalError` when it is not one."""
    body = _read(data, _DAY_RECORD)
    width, values, tags = body["value_width"], body["values"], body["tags"]
    count = len(values) // width if width in _INT_CODES else -1
    if count < 0 or len(values) != count * width or len(tags) not in {0, count, 2 * count}:
        raise KafkaFatalError(f"day state record is corrupt (slot table sizes disagree); {_CORRUPT_FIX}")
    return DayState(
        day=body["day"],
        interval_seconds=body["interval_seconds"],
        value_exponent=body["value_exponent"],
        value_width=width,
        values=values,
        wide_values=tuple((item["slot"], item["value"]) for item in body["wide_values"]),
        tags=tags,
        qualities=tuple(Quality(item["flags"], tuple(item["codes"])) for item in body["qualities"]),
        revisions=tuple((item["slot"], item["revision"]) for item in body["revisions"]),
        entries=tuple(
            InstantEntry(
                end=item["end"],
                quality=item["quality"],
                value=None if item["value"] is None else Decimal(item["value"]),
                revision=item["revision"],
            )
            for item in body["entries"]
        ),
    )


def check_day_value(data: bytes) -> None:
    """Cheap check (no decoding) that ``data`` is a day-state value of this format version."""
    if len(data) < 2 or data[0] != FORMAT_VERSION or data[1] != _DAY_BRANCH:
        raise KafkaFatalError(
            f"state record is not a version-{FORMAT_VERSION} day state (starts {data[:2].hex() or 'empty'}); "
            "the state topic holds foreign or newer records: use the matching netstream-publisher version"
        )


def encode_progress(job_id: str, windows_done: Iterable[int]) -> bytes:
    """The state-topic value listing the committed windows of a backfill job (stored as runs)."""
    runs: list[dict[str, int]] = []
    for index in sorted(set(windows_done)):
        if index < 0:
            raise ValueError(f"window index {index} is negative; window indices count from 0")
        if runs and runs[-1]["first"] + runs[-1]["count"] == index:
            runs[-1]["count"] += 1
        else:
            runs.append({"first": index, "count": 1})
    return _write(_PROGRESS_RECORD, {"job_id": job_id, "windows_done": runs})


def decode_progress(data: bytes) -> BackfillProgress:
    """Read a value written by :func:`encode_progress`."""
    body = _read(data, _PROGRESS_RECORD)
    done = frozenset(
        index for run in body["windows_done"] for index in range(run["first"], run["first"] + run["count"])
    )
    return BackfillProgress(job_id=body["job_id"], windows_done=done)


# ------------------------------------------------------------------------------------------ Avro


def _write(record_name: str, body: dict[str, Any]) -> bytes:
    if record_name == _DAY_RECORD:
        fast = _day_writer()
        if fast is not None:
            buf = bytearray((FORMAT_VERSION, _DAY_BRANCH))  # the branch index, a zig-zag 0
            try:
                fast(buf, body)
            except Decline:
                pass  # fastavro below writes it, or raises what is wrong with it
            else:
                return bytes(buf)
    buffer = io.BytesIO()
    buffer.write(bytes((FORMAT_VERSION,)))
    schemaless_writer(buffer, load_schema("series_state.avsc").parsed, {"body": (record_name, body)})
    return buffer.getvalue()


@functools.cache
def _day_writer() -> Write | None:
    """The compiled writer of the SeriesDayState branch (:mod:`avro_writer`), byte for byte fastavro's."""
    return compile_writer(day_record_schema())


def day_record_schema() -> Mapping[str, Any]:
    """The SeriesDayState record of the state topic's schema (parsed), the one a day value holds."""
    (body,) = load_schema("series_state.avsc").parsed["fields"]
    return cast(Mapping[str, Any], next(branch for branch in body["type"] if branch["name"] == _DAY_RECORD))


def _read(data: bytes, record_name: str) -> dict[str, Any]:
    what = "day state" if record_name == _DAY_RECORD else "backfill progress"
    if not data or data[0] != FORMAT_VERSION:
        raise KafkaFatalError(
            f"{what} record has format version {data[0] if data else 'none'}, this build reads "
            f"{FORMAT_VERSION}; run the netstream-publisher version that wrote the state topic"
        )
    buffer = io.BytesIO(data)
    buffer.seek(1)
    try:
        record: Any = schemaless_reader(
            buffer, load_schema("series_state.avsc").parsed, return_record_name=True
        )
    except (EOFError, ValueError, IndexError, KeyError, TypeError, OverflowError) as exc:
        raise KafkaFatalError(f"{what} record is corrupt ({type(exc).__name__}); {_CORRUPT_FIX}") from exc
    name, body = record["body"]
    if name != record_name or buffer.tell() != len(data):
        raise KafkaFatalError(
            f"{what} record is corrupt (holds {name.rsplit('.', 1)[-1]}, "
            f"{len(data) - buffer.tell()} trailing bytes); {_CORRUPT_FIX}"
        )
    return dict(body)


# ------------------------------------------------------------------------------------------ slots

#: tag bit of "published as missing" in the working form (and in two-byte tags)
MISSING: Final = 0x8000
_MISSING_BYTE: Final = 0x80
_INT_CODES: Final = {1: "b", 2: "h", 4: "i", 8: "q"}
_INT64: Final = 1 << 63
#: significant digits that always fit a signed 64-bit integer
_MAX_DIGITS: Final = 18
_POWERS: Final = tuple(10**n for n in range(40))
#: a draft's slot table grows to a whole day at once (its longest: 25 hours) when that is at most this many
#: slots (five-minute data and longer), rather than by one slot per reading
_DAY_SLOTS_AT_ONCE: Final = 512
_LONGEST_DAY_SECONDS: Final = 25 * 3600


@dataclass(frozen=True, slots=True)
class Published:
    """What was last published for one interval or instant."""

    value: Decimal | None  #: ``None``: published as missing
    quality: Quality
    revision: int = 0


def split_decimal(value: Decimal) -> tuple[int, int] | None:
    """``(mantissa, exponent)`` of a finite value without trailing zeros, exactly.

    ``None`` when the value has more significant digits than a 64-bit integer always holds.
    """
    if not value.is_finite():
        return _split_decimal(value)  # raises
    split = _SPLITS.get(value, _UNKNOWN)  # equal decimals (0.10, 0.1) split the same
    if split is _UNKNOWN:
        split = _split_decimal(value)
        if len(_SPLITS) >= _SPLITS_LIMIT:
            _SPLITS.clear()
        _SPLITS[value] = split
    return cast(tuple[int, int] | None, split)


_UNKNOWN: Final = object()
#: meter values repeat (kWh with three decimals): most readings' split is a dictionary hit
_SPLITS: Final[dict[Decimal, object]] = {}
_SPLITS_LIMIT: Final = 1 << 16


def _split_decimal(value: Decimal) -> tuple[int, int] | None:
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite decimal")
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite values have an integer exponent
    end = len(digits)
    while end > 1 and digits[end - 1] == 0:
        end -= 1
    if end > _MAX_DIGITS:
        return None
    mantissa = 0
    for digit in digits[:end]:
        mantissa = mantissa * 10 + digit
    if mantissa == 0:
        return 0, 0
    return (-mantissa if sign else mantissa), exponent + len(digits) - end


def _decimal(mantissa: int, exponent: int) -> Decimal:
    # the string constructor is exact whatever the thread's decimal context says
    return Decimal(f"{mantissa}E{exponent}")


def read_slot(state: DayState, slot: int) -> Published | None:
    """What was published for ``slot`` of the slot table, or ``None`` if nothing was."""
    count = state.slot_count
    if not 0 <= slot < count:
        return None
    tags = state.tags
    if not tags:
        tag = 1
    elif len(tags) == count:
        tag = tags[slot]
        if tag & _MISSING_BYTE:
            tag = (tag & ~_MISSING_BYTE) | MISSING
    else:
        tag = int.from_bytes(tags[2 * slot : 2 * slot + 2], "little")
    if not tag:
        return None
    quality = state.qualities[(tag & ~MISSING) - 1]
    revision = next((rev for where, rev in state.revisions if where == slot), 0)
    if tag & MISSING:
        return Published(None, quality, revision)
    return Published(_slot_value(state, slot), quality, revision)


def _slot_value(state: DayState, slot: int) -> Decimal:
    for where, text in state.wide_values:
        if where == slot:
            return Decimal(text)
    width = state.value_width
    mantissa = int.from_bytes(state.values[slot * width : (slot + 1) * width], "little", signed=True)
    return _decimal(mantissa, state.value_exponent)


def read_entry(state: DayState, end: datetime) -> Published | None:
    """What was published for the reading outside the slot table that ends at ``end``, if anything."""
    for entry in state.entries:
        if entry.end == end:
            return Published(entry.value, state.qualities[entry.quality], entry.revision)
    return None


@dataclass(slots=True)
class DayDraft:
    """Mutable working form of one series day; :meth:`pack` makes it a compact :class:`DayState` again.

    A slot's value is ``mantissas[slot] * 10**exponent`` exactly; a value that does not fit (finer than
    ``10**-value_scale``, or beyond 64 bits at the day's exponent) is kept in ``wide`` instead. ``tags``
    are 0 for "never published", else the palette index + 1, ``| MISSING`` when published as missing.
    """

    day: date
    value_scale: int
    interval_seconds: int = 0
    exponent: int = 0
    mantissas: list[int] = field(default_factory=list)
    tags: list[int] = field(default_factory=list)
    qualities: list[Quality] = field(default_factory=list)
    wide: dict[int, Decimal] = field(default_factory=dict)
    revisions: dict[int, int] = field(default_factory=dict)
    entries: dict[datetime, Published] = field(default_factory=dict)

    @classmethod
    def of(cls, state: DayState, value_scale: int) -> DayDraft:
        """Unpack a day state for changing it."""
        count = state.slot_count
        mantissas = list(struct.unpack(f"<{count}{_INT_CODES[state.value_width]}", state.values))
        if not state.tags:
            tags = [1] * count
        elif len(state.tags) == count:
            tags = list(state.tags)
            if max(tags) & _MISSING_BYTE:
                tags = [(t & ~_MISSING_BYTE) | MISSING if t & _MISSING_BYTE else t for t in tags]
        else:
            tags = list(struct.unpack(f"<{count}H", state.tags))
        return cls(
            day=state.day,
            value_scale=value_scale,
            interval_seconds=state.interval_seconds,
            exponent=state.value_exponent,
            mantissas=mantissas,
            tags=tags,
            qualities=list(state.qualities),
            wide={slot: Decimal(text) for slot, text in state.wide_values},
            revisions=dict(state.revisions),
            entries={
                e.end: Published(e.value, state.qualities[e.quality], e.revision) for e in state.entries
            },
        )

    def put_slot(self, slot: int, interval_seconds: int, published: Published) -> None:
        """Record ``published`` for ``slot`` of a slot table of ``interval_seconds`` slots."""
        self.put(slot, interval_seconds, published.value, published.quality, published.revision)

    def put(
        self, slot: int, interval_seconds: int, value: Decimal | None, quality: Quality, revision: int
    ) -> None:
        """:meth:`put_slot` with the parts of a :class:`Published` (without building one)."""
        self.interval_seconds = interval_seconds
        grow = slot + 1 - len(self.tags)
        if grow > 0:
            day_slots = _LONGEST_DAY_SECONDS // interval_seconds if interval_seconds > 0 else 0
            if day_slots <= _DAY_SLOTS_AT_ONCE:  # pack() leaves out the unused slots at the end
                grow = max(grow, day_slots - len(self.tags))
            self.tags.extend([0] * grow)
            self.mantissas.extend([0] * grow)
        qualities = self.qualities
        # the palette is short and a day's readings mostly share the first entry
        tag = 1 if qualities and (qualities[0] is quality or qualities[0] == quality) else 0
        if not tag:
            tag = self._quality_index(quality) + 1
        if self.wide:  # usually empty: skip the lookup
            self.wide.pop(slot, None)
        self.mantissas[slot] = 0
        if value is None:
            tag |= MISSING
        else:
            self._put_value(slot, value)
        self.tags[slot] = tag
        if revision:
            self.revisions[slot] = revision
        elif self.revisions:
            self.revisions.pop(slot, None)

    def published(self, slot: int) -> Published | None:
        """What the draft holds for ``slot`` of the slot table, or ``None`` if nothing."""
        tag = self.tags[slot] if 0 <= slot < len(self.tags) else 0
        if not tag:
            return None
        quality = self.qualities[(tag & ~MISSING) - 1]
        revision = self.revisions.get(slot, 0)
        if tag & MISSING:
            return Published(None, quality, revision)
        value = self.wide.get(slot)
        if value is None:
            value = _decimal(self.mantissas[slot], self.exponent)
        return Published(value, quality, revision)

    def put_entry(self, end: datetime, published: Published) -> None:
        """Record ``published`` for the reading outside the slot table that ends at ``end``."""
        self._quality_index(published.quality)
        self.entries[end] = published

    def pack(self) -> DayState:
        """The compact record: smallest integer width, unused palette entries and the never-published slots
        after the last published one dropped."""
        self._compact_palette()
        count = len(self.tags)
        while count and not self.tags[count - 1]:
            count -= 1
        if count < len(self.tags):
            del self.tags[count:]
            del self.mantissas[count:]
        low, high = (min(self.mantissas), max(self.mantissas)) if count else (0, 0)
        width = next(w for w in (1, 2, 4, 8) if -(1 << (8 * w - 1)) <= low and high < 1 << (8 * w - 1))
        index = {quality: i for i, quality in enumerate(self.qualities)}
        return DayState(
            day=self.day,
            interval_seconds=self.interval_seconds,
            value_exponent=self.exponent,
            value_width=width,
            values=struct.pack(f"<{count}{_INT_CODES[width]}", *self.mantissas),
            wide_values=tuple((slot, str(value)) for slot, value in sorted(self.wide.items())),
            tags=self._packed_tags(),
            qualities=tuple(self.qualities),
            revisions=tuple(sorted(self.revisions.items())),
            entries=tuple(
                InstantEntry(end, index[p.quality], p.value, p.revision)
                for end, p in sorted(self.entries.items())
            ),
        )

    def _quality_index(self, quality: Quality) -> int:
        try:
            return self.qualities.index(quality)
        except ValueError:
            self.qualities.append(quality)
            return len(self.qualities) - 1

    def _put_value(self, slot: int, value: Decimal) -> None:
        split = split_decimal(value)
        if split is None or split[1] < -self.value_scale:
            self.wide[slot] = value
            return
        mantissa, exponent = split
        if exponent < self.exponent:
            self._rescale(exponent)
        shift = exponent - self.exponent
        if shift:
            mantissa *= _POWERS[shift] if shift < len(_POWERS) else 10**shift
        if -_INT64 <= mantissa < _INT64:
            self.mantissas[slot] = mantissa
        else:
            self.wide[slot] = value

    def _rescale(self, exponent: int) -> None:
        factor = 10 ** (self.exponent - exponent)
        self.mantissas = [m * factor for m in self.mantissas]
        self.exponent = exponent
        if self.mantissas and (max(self.mantissas) >= _INT64 or min(self.mantissas) < -_INT64):
            for slot, mantissa in enumerate(self.mantissas):
                if not -_INT64 <= mantissa < _INT64:
                    self.wide[slot] = _decimal(mantissa, exponent)
                    self.mantissas[slot] = 0

    def _compact_palette(self) -> None:
        used = {tag & ~MISSING for tag in self.tags}
        used.update(self.qualities.index(p.quality) + 1 for p in self.entries.values())
        used.discard(0)
        if len(used) == len(self.qualities):
            return
        keep = [quality for i, quality in enumerate(self.qualities) if i + 1 in used]
        renumber = {
            i + 1: keep.index(quality) + 1 for i, quality in enumerate(self.qualities) if i + 1 in used
        }
        self.tags = [renumber[tag & ~MISSING] | (tag & MISSING) if tag else 0 for tag in self.tags]
        self.qualities = keep

    def _packed_tags(self) -> bytes:
        tags = self.tags
        if tags.count(1) == len(tags):
            return b""
        if len(self.qualities) < _MISSING_BYTE:
            if max(tags) < _MISSING_BYTE:
                return bytes(tags)
            return bytes((tag & ~MISSING) | _MISSING_BYTE if tag & MISSING else tag for tag in tags)
        return struct.pack(f"<{len(tags)}H", *tags)
