"""State records of one series and one week: key layout and the block value that holds up to 7 days.

The state topic keeps what was published for a series (usage point, reading type) as ONE record per
series and *block*: seven consecutive local days, Monday to Sunday (day ordinals ``1 + 7k``, the grid
of :func:`block_start`), under the key ``block|<usage point>|<reading type>|<YYYY-MM-DD of the Monday>``.
Its value is:

====================  ==========================================================================
1 byte                :data:`BLOCK_FORMAT`
1 byte                ``n``, the number of days the block holds (1 to 7)
``n`` bytes           each day's offset from the Monday (0 to 6), ascending
``n`` x uint32 LE     where each day's value ends, counted from the first day value
the day values        one :func:`~publisher.kafka.state_codec.encode_day` value per day, in order
====================  ==========================================================================

so one day is sliced out of a block without decoding the others, and a day value keeps its own format
byte. The series store keeps these very bytes in memory (a restore stores the record as it arrives)
and decodes a day on demand.

Why weeks (measured on a 2-core machine with the embedded broker, 100,000 series of 14 half-hourly
days; a day value is about 120 bytes, a week about 890): reading the topic costs per record and per
byte. A ``read_committed`` consumer that does nothing else reads about 300,000 records/s of single days,
so 14 records per series cap a restore near 20,000 series/s whatever the store does. A week is 2-3
records per series for a 14-day horizon (2 when it starts on a Monday, 3 for the horizon plus today):
the same consumer reads about 125,000 weekly records/s with the reader's former settings and 200,000-
280,000 with its current ones, and a restore, which stores each record as it arrives, reaches 50,000-
70,000 series/s. 14-day blocks read about 75,000 records/s (one per series, same bytes), so they would
save little more, while a poll cycle rewrites the whole block of each day it touched: at most 7 days for
a week (4 on average, about 500 bytes per series and cycle), twice that for 14 days; and memory keeps a
block that straddles the horizon whole (6 extra days at most for a week, 13 for 14-day blocks).

Before blocks, the topic held one record per series and local day under
``day|<usage point>|<reading type>|<YYYY-MM-DD>`` (:func:`day_key`), with a day value as its value.
Such records are still read: a restore merges them into the block of their day, and the first time that
block is written it is written whole, preceded by tombstones for the day keys of its days, so the old
records leave the topic as their weeks are touched. A day key's tombstone removes that day.

Key parts are UTF-8 with ``%`` and ``|`` percent-escaped, so any identifier round-trips. The producer
places a series' records on its shard's state partitions itself (by usage point).
"""

from __future__ import annotations

import struct
from datetime import date
from itertools import combinations
from typing import Final

from publisher.errors import KafkaFatalError
from publisher.kafka.state_codec import escape_key_part, unescape_key_part

#: days per block; the grid starts on Mondays (day ordinal 1 is Monday 1 January of year 1)
BLOCK_DAYS: Final = 7
#: first byte of a block value; bump it when the block layout changes incompatibly
BLOCK_FORMAT: Final = 1
#: the first byte of a block held in memory that was merged from day-keyed records: when it is written,
#: tombstones for the day keys of its days go first (never written to the topic)
_MERGED: Final = 0x80

#: (usage point, reading type, block's first day ordinal, day ordinal of a ``day|`` key or ``None``)
StateKey = tuple[str, str, int, int | None]

_SEP: Final = b"|"
_BLOCK_TAG: Final = b"block"
_DAY_TAG: Final = b"day"
_CORRUPT_FIX: Final = "write a tombstone for its key (that week's readings are then published again as new)"


def block_start(ordinal: int) -> int:
    """The ordinal of the first day (a Monday) of the block holding day ``ordinal``."""
    return ordinal - (ordinal - 1) % BLOCK_DAYS


# ------------------------------------------------------------------------------------------ keys


def block_key(usage_point: str, reading_type: str, first: date) -> bytes:
    """Key of one series' block that starts on ``first``, e.g. ``b"block|<up>|<rt>|2025-03-03"``."""
    if block_start(first.toordinal()) != first.toordinal():
        raise ValueError(f"{first} does not start a block; blocks start on Mondays")
    return _key(_BLOCK_TAG, usage_point, reading_type, first)


def day_key(usage_point: str, reading_type: str, day: date) -> bytes:
    """Key of one series' day in the layout before blocks, e.g. ``b"day|<up>|<rt>|2025-03-01"``."""
    return _key(_DAY_TAG, usage_point, reading_type, day)


def _key(tag: bytes, usage_point: str, reading_type: str, day: date) -> bytes:
    parts = (escape_key_part(usage_point), escape_key_part(reading_type), day.isoformat())
    return _SEP.join((tag, *(part.encode() for part in parts)))


def parse_state_key(key: bytes) -> StateKey | None:
    """What a block or day key is about; ``None`` for keys of other records.

    :class:`KafkaFatalError` for a block key whose first day is not a Monday: a build with another
    block length wrote it.
    """
    try:
        text = key.decode()
    except UnicodeDecodeError:
        return None
    parts = text.split("|")
    if len(parts) == 4 and parts[0] == "block" and "%" not in text:  # the usual key: nothing escaped
        ordinal = _MONDAYS.get(parts[3])
        if ordinal is not None:
            return parts[1], parts[2], ordinal, None
    return _parse_parts(key, parts)


#: date part of a block key -> its ordinal (Mondays only): a restore reads the same few for every series
_MONDAYS: Final[dict[str, int]] = {}
_MONDAYS_LIMIT: Final = 1 << 14


def _parse_parts(key: bytes, parts: list[str]) -> StateKey | None:
    if len(parts) != 4 or parts[0] not in {"block", "day"} or len(parts[3]) != 10:
        return None
    try:
        ordinal = date.fromisoformat(parts[3]).toordinal()
    except ValueError:
        return None
    usage_point, reading_type = unescape_key_part(parts[1]), unescape_key_part(parts[2])
    if parts[0] == "day":
        return usage_point, reading_type, block_start(ordinal), ordinal
    if ordinal != block_start(ordinal):
        raise KafkaFatalError(
            f"state record {key!r} holds a block starting on {parts[3]}, but this build keeps "
            f"{BLOCK_DAYS}-day blocks starting on Mondays; run the netstream-publisher version that wrote it"
        )
    if len(_MONDAYS) < _MONDAYS_LIMIT:
        _MONDAYS[parts[3]] = ordinal
    return usage_point, reading_type, ordinal, None


# ------------------------------------------------------------------------------------------ values


def check_block(data: bytes) -> None:
    """Check the index of a block value: cheap, as a restore checks every record it loads (the day values
    are checked when they are decoded). :class:`KafkaFatalError` names what is wrong."""
    count = data[1] if len(data) > 1 and data[0] == BLOCK_FORMAT else 0
    header = 2 + 5 * count
    if (
        not count
        or data[2 : 2 + count] not in _OFFSETS
        or len(data) < header
        or _uint32_at(data, header - 4)[0] != len(data) - header
    ):
        raise KafkaFatalError(_block_problem(data))


_uint32_at: Final = struct.Struct("<I").unpack_from

#: every valid offset list of a block index: 1 to 7 distinct offsets 0-6, ascending
_OFFSETS: Final = frozenset(
    bytes(offsets) for count in range(1, BLOCK_DAYS + 1) for offsets in combinations(range(BLOCK_DAYS), count)
)


def _block_problem(data: bytes) -> str:
    if not data:
        return f"state block is corrupt (empty); {_CORRUPT_FIX}"
    if data[0] != BLOCK_FORMAT:
        return (
            f"state block has format {data[0]}, this build reads {BLOCK_FORMAT}; "
            "run the netstream-publisher version that wrote the state topic"
        )
    count = data[1] if len(data) > 1 else 0
    if not 0 < count <= BLOCK_DAYS or data[2 : 2 + count] not in _OFFSETS:
        return f"state block is corrupt (bad index of {count} days); {_CORRUPT_FIX}"
    return f"state block is corrupt (index and size disagree); {_CORRUPT_FIX}"


def block_days(block: bytes) -> bytes:
    """The offsets (0-6 from the Monday) of the days a block holds, ascending."""
    return block[2 : 2 + block[1]]


def block_day_count(block: bytes) -> int:
    """How many days a block holds."""
    return block[1]


def is_merged(block: bytes) -> bool:
    """Whether a block held in memory still has day-keyed records in the topic to tombstone."""
    return bool(block[0] & _MERGED)


def day_value(block: bytes, offset: int) -> bytes | None:
    """The day value at ``offset`` (0-6 from the Monday) of a block, or ``None`` if it holds none."""
    count = block[1]
    at = block.find(offset, 2, 2 + count)
    if at < 0:
        return None
    index = at - 2
    header = 2 + 5 * count
    end = int.from_bytes(block[2 + count + 4 * index : 6 + count + 4 * index], "little")
    begin = 0 if not index else int.from_bytes(block[count + 4 * index - 2 : count + 4 * index + 2], "little")
    return block[header + begin : header + end]


def put_day(block: bytes | None, offset: int, value: bytes | None, *, merged: bool = False) -> bytes | None:
    """``block`` with day ``offset`` set to ``value`` (``None``: removed); ``None`` when no day is left.

    ``merged``: ``value`` came from a day-keyed record (see :func:`is_merged`). The value is not checked
    here: a day is checked when it is decoded.
    """
    days = {} if block is None else dict(_days(block))
    if value is None:
        days.pop(offset, None)
    else:
        days[offset] = value
    if not days:
        return None
    flag = _MERGED if merged or (block is not None and is_merged(block)) else 0
    return _pack(sorted(days.items()), flag)


def written(block: bytes) -> bytes:
    """The block as the topic stores it (without the in-memory merged mark)."""
    return bytes((BLOCK_FORMAT,)) + block[1:] if is_merged(block) else block


def _days(block: bytes) -> list[tuple[int, bytes]]:
    count = block[1]
    header = 2 + 5 * count
    ends = struct.unpack_from(f"<{count}I", block, 2 + count)
    begins = (0, *ends[:-1])
    return [
        (offset, block[header + begin : header + end])
        for offset, begin, end in zip(block[2 : 2 + count], begins, ends, strict=True)
    ]


def _pack(days: list[tuple[int, bytes]], flag: int = 0) -> bytes:
    ends = []
    end = 0
    for _, value in days:
        end += len(value)
        ends.append(end)
    count = len(days)
    header = bytes((BLOCK_FORMAT | flag, count, *(offset for offset, _ in days)))
    return header + struct.pack(f"<{count}I", *ends) + b"".join(value for _, value in days)


def encode_block(days: list[tuple[int, bytes]]) -> bytes:
    """A block value of ``(offset from the Monday, day value)`` pairs (offsets distinct, 0-6)."""
    if not days:
        raise ValueError("a block holds at least one day")
    block: bytes | None = None
    for offset, value in days:
        if not 0 <= offset < BLOCK_DAYS:
            raise ValueError(f"day offset {offset} is outside a {BLOCK_DAYS}-day block")
        block = put_day(block, offset, value)
    assert block is not None  # at least one day was put
    return block
