"""State-topic values: Avro day states and backfill progress, progress keys, packed slot tables."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.errors import KafkaFatalError
from publisher.kafka import state_codec
from publisher.kafka.state_blocks import parse_state_key
from publisher.kafka.state_codec import (
    FORMAT_VERSION,
    DayDraft,
    DayState,
    InstantEntry,
    Published,
    Quality,
    check_day_value,
    decode_day,
    decode_progress,
    encode_day,
    encode_progress,
    escape_key_part,
    parse_progress_key,
    progress_key,
    read_entry,
    read_slot,
    split_decimal,
    unescape_key_part,
)

FLAGS_OK = Quality.of(256, ())
DAY = date(2025, 3, 1)

# hand-decoded: 01 format | 00 union branch SeriesDayState | e8ba02 day 20148 (2025-03-01) | 901c interval
# 1800 | 03 exponent -2 | 04 width 2 | 0c + 9600 0000 1900 values 150, 0, 25 | 00 no wide values | 06 +
# 01 81 02 tags (palette 0, palette 0 missing, palette 1) | 04 two qualities: 02 8004 flags 256, 00 no
# codes; 00 flags null, 02 0a "1.4.2" 00 codes | 00 end | 02 04 02 00 revision 1 for slot 2 | 00 entries
GOLDEN_DAY = bytes.fromhex(
    "0100e8ba02901c03040c9600000019000006018102040280040000020a312e342e3200000204020000"
)


def small_day() -> DayState:
    draft = DayDraft(DAY, 6)
    draft.put_slot(0, 1800, Published(Decimal("1.5"), FLAGS_OK))
    draft.put_slot(1, 1800, Published(None, FLAGS_OK))
    draft.put_slot(2, 1800, Published(Decimal("0.25"), Quality.of(None, ("1.4.2",)), 1))
    return draft.pack()


# ------------------------------------------------------------------------------------------ keys

key_text = st.text(min_size=1, max_size=40)


@given(part=key_text)
@settings(max_examples=100, deadline=None)
def test_key_parts_escape_the_separator_and_round_trip(part: str) -> None:
    escaped = escape_key_part(part)
    assert "|" not in escaped
    assert unescape_key_part(escaped) == part


@given(job_id=key_text)
@settings(max_examples=50, deadline=None)
def test_progress_key_parses_back_and_is_not_a_state_key(job_id: str) -> None:
    key = progress_key(job_id)
    assert key.startswith(b"backfill|")
    assert parse_progress_key(key) == job_id
    assert parse_state_key(key) is None


def test_parse_progress_key_returns_none_for_other_keys() -> None:
    assert parse_progress_key(b"backfill|a|b") is None
    assert parse_progress_key(b"\xffbackfill|a") is None
    assert parse_progress_key(b"day|up|rt|2025-03-01") is None


# ------------------------------------------------------------------------------------------ day records


def test_golden_bytes_of_a_small_day_record() -> None:
    assert encode_day(small_day()) == GOLDEN_DAY
    assert decode_day(GOLDEN_DAY) == small_day()


def test_a_full_half_hourly_day_encodes_in_a_few_hundred_bytes() -> None:
    draft = DayDraft(DAY, 6)
    for slot in range(48):
        draft.put_slot(slot, 1800, Published(Decimal(4999 - slot * 97).scaleb(-3), FLAGS_OK))
    state = draft.pack()
    assert state.tags == b""  # uniform: every slot published with palette entry 0
    assert state.value_width == 2
    data = encode_day(state)
    assert len(data) < 130
    assert decode_day(data) == state


def test_instant_entries_round_trip_with_their_values() -> None:
    draft = DayDraft(DAY, 6)
    end = datetime(2025, 3, 1, 11, 0, 0, 123456, tzinfo=UTC)
    draft.put_entry(end, Published(Decimal("123456.789"), FLAGS_OK, 2))
    draft.put_entry(end + timedelta(hours=1), Published(None, Quality.of(None, ("3.8.0", "1.4.2"))))
    state = draft.pack()
    decoded = decode_day(encode_day(state))
    assert decoded == state
    assert decoded.entries[0] == InstantEntry(end, 0, Decimal("123456.789"), 2)
    assert read_entry(decoded, end) == Published(Decimal("123456.789"), FLAGS_OK, 2)
    assert read_entry(decoded, end + timedelta(hours=1)) == Published(
        None, Quality(None, ("3.8.0", "1.4.2")), 0
    )
    assert read_entry(decoded, end + timedelta(hours=2)) is None


def test_check_day_value_accepts_day_states_only() -> None:
    check_day_value(GOLDEN_DAY)
    with pytest.raises(KafkaFatalError, match="not a version-1 day state"):
        check_day_value(encode_progress("job", [1]))
    with pytest.raises(KafkaFatalError, match="starts empty"):
        check_day_value(b"")
    with pytest.raises(KafkaFatalError):
        check_day_value(bytes([FORMAT_VERSION + 1]) + GOLDEN_DAY[1:])


def test_decode_day_rejects_other_versions_corruption_and_other_records() -> None:
    with pytest.raises(KafkaFatalError, match="format version 2, this build reads 1"):
        decode_day(b"\x02" + GOLDEN_DAY[1:])
    with pytest.raises(KafkaFatalError, match="corrupt"):
        decode_day(GOLDEN_DAY[:-5])
    with pytest.raises(KafkaFatalError, match="1 trailing bytes"):
        decode_day(GOLDEN_DAY + b"\x00")
    with pytest.raises(KafkaFatalError, match="sizes disagree"):
        decode_day(encode_day(replace(small_day(), tags=b"\x01")))
    with pytest.raises(KafkaFatalError, match="sizes disagree"):
        decode_day(encode_day(replace(small_day(), value_width=3)))
    with pytest.raises(KafkaFatalError, match="holds BackfillProgress"):
        decode_day(encode_progress("job", [1]))
    with pytest.raises(KafkaFatalError, match="holds SeriesDayState"):
        decode_progress(GOLDEN_DAY)


# ------------------------------------------------------------------------------------------ progress


@given(job_id=key_text, done=st.frozensets(st.integers(min_value=0, max_value=5000), max_size=200))
@settings(max_examples=100, deadline=None)
def test_progress_records_round_trip(job_id: str, done: frozenset[int]) -> None:
    progress = decode_progress(encode_progress(job_id, done))
    assert progress.job_id == job_id
    assert progress.windows_done == done


def test_progress_is_stored_as_runs() -> None:
    assert len(encode_progress("job", range(100_000))) < 20
    assert encode_progress("job-1", [5, 0, 2, 1]).hex() == "01020a6a6f622d310400060a0200"
    with pytest.raises(ValueError, match="negative"):
        encode_progress("job", [-1])


# ------------------------------------------------------------------------------------------ slot packing


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1.500"), (15, -1)),
        (Decimal("-0.001"), (-1, -3)),
        (Decimal("0.000"), (0, 0)),
        (Decimal("5E+3"), (5, 3)),
        (Decimal(1200), (12, 2)),
        (Decimal(123456789012345678), (123456789012345678, 0)),
        (Decimal(1234567890123456789), None),
    ],
)
def test_split_decimal_is_exact(value: Decimal, expected: tuple[int, int] | None) -> None:
    assert split_decimal(value) == expected


def test_split_decimal_rejects_non_finite_values() -> None:
    with pytest.raises(ValueError, match="not a finite decimal"):
        split_decimal(Decimal("NaN"))


@pytest.mark.parametrize(
    ("values", "width"),
    [
        (["1.27", "-1.28"], 1),
        (["1.28"], 2),
        (["327.67", "-327.68"], 2),
        (["327.68"], 4),
        (["21474836.47"], 4),
        (["21474836.48"], 8),
    ],
)
def test_pack_chooses_the_smallest_integer_width(values: list[str], width: int) -> None:
    draft = DayDraft(DAY, 6)
    draft.put_slot(0, 1800, Published(Decimal("0.01"), FLAGS_OK))
    for slot, text in enumerate(values, start=1):
        draft.put_slot(slot, 1800, Published(Decimal(text), FLAGS_OK))
    state = draft.pack()
    assert state.value_width == width
    assert state.wide_values == ()
    assert [read_slot(state, slot + 1) for slot in range(len(values))] == [
        Published(Decimal(text), FLAGS_OK) for text in values
    ]


def test_values_beyond_the_packed_range_are_kept_exactly() -> None:
    huge = Decimal("12345678901234567890.123456")  # 26 digits: beyond int64 at any scale
    fine = Decimal("0.1234567")  # finer than the 6 decimal places of the packed integers
    big = Decimal("9223372036854.775808")  # fits the digits, overflows int64 at exponent -6
    draft = DayDraft(DAY, 6)
    for slot, value in enumerate((Decimal("1.5"), huge, fine, big, Decimal(-2))):
        draft.put_slot(slot, 1800, Published(value, FLAGS_OK))
    state = decode_day(encode_day(draft.pack()))
    assert {slot for slot, _ in state.wide_values} == {1, 2, 3}
    assert [read_slot(state, slot) for slot in range(5)] == [
        Published(value, FLAGS_OK) for value in (Decimal("1.5"), huge, fine, big, Decimal(-2))
    ]


def test_a_finer_value_rescales_and_moves_overflowing_values_to_wide() -> None:
    draft = DayDraft(DAY, 6)
    draft.put_slot(0, 1800, Published(Decimal(922337203685477581), FLAGS_OK))  # fits at exponent 0
    draft.put_slot(1, 1800, Published(Decimal("0.5"), FLAGS_OK))  # exponent -1 overflows slot 0
    state = draft.pack()
    assert state.value_exponent == -1
    assert [(slot, Decimal(text)) for slot, text in state.wide_values] == [(0, Decimal(922337203685477581))]
    assert read_slot(state, 0) == Published(Decimal(922337203685477581), FLAGS_OK)
    assert read_slot(state, 1) == Published(Decimal("0.5"), FLAGS_OK)


def test_palette_drops_qualities_no_longer_used() -> None:
    draft = DayDraft(DAY, 6)
    draft.put_slot(0, 1800, Published(Decimal(1), Quality.of(0x4100, ())))
    draft.put_slot(1, 1800, Published(Decimal(2), FLAGS_OK))
    draft.put_slot(0, 1800, Published(Decimal(3), FLAGS_OK, 1))  # estimate replaced by actual
    state = draft.pack()
    assert state.qualities == (FLAGS_OK,)
    assert state.tags == b""
    assert read_slot(state, 0) == Published(Decimal(3), FLAGS_OK, 1)


def test_more_than_127_qualities_use_two_byte_tags() -> None:
    draft = DayDraft(DAY, 6)
    for slot in range(200):
        draft.put_slot(slot, 300, Published(None if slot % 3 == 0 else Decimal(slot), Quality.of(slot, ())))
    state = decode_day(encode_day(draft.pack()))
    assert len(state.tags) == 400
    for slot in range(200):
        expected = Published(None if slot % 3 == 0 else Decimal(slot), Quality.of(slot, ()))
        assert read_slot(state, slot) == expected
        assert DayDraft.of(state, 6).published(slot) == expected


def test_read_slot_outside_the_table_or_unpublished_is_none() -> None:
    draft = DayDraft(DAY, 6)
    draft.put_slot(3, 1800, Published(Decimal(1), FLAGS_OK))
    state = draft.pack()
    assert state.slot_count == 4
    assert [read_slot(state, slot) for slot in (-1, 0, 2, 4, 99)] == [None] * 5
    assert read_slot(state, 3) == Published(Decimal(1), FLAGS_OK)


published_values = st.one_of(
    st.none(),
    st.decimals(min_value=-10, max_value=10, places=3),
    st.decimals(allow_nan=False, allow_infinity=False),
)
qualities = st.one_of(
    st.sampled_from([256, 0, 0x4100]).map(lambda flags: Quality.of(flags, ())),
    st.sampled_from([(), ("1.4.2",), ("3.8.0", "1.4.2")]).map(lambda codes: Quality.of(None, codes)),
)
puts = st.lists(
    st.tuples(st.integers(0, 60), published_values, qualities, st.integers(0, 3)), min_size=1, max_size=80
)


@given(puts=puts)
@settings(max_examples=100, deadline=None)
def test_any_sequence_of_puts_reads_back_exactly_after_a_round_trip(
    puts: list[tuple[int, Decimal | None, Quality, int]],
) -> None:
    model: dict[int, Published] = {}
    draft = DayDraft(DAY, 6)
    for slot, value, quality, revision in puts:
        published = Published(value, quality, revision)
        draft.put_slot(slot, 1800, published)
        model[slot] = published
        # unpacking and packing again in the middle of a sequence changes nothing
        if slot % 7 == 0:
            draft = DayDraft.of(decode_day(encode_day(draft.pack())), 6)
    state = decode_day(encode_day(draft.pack()))
    for slot in range(62):
        got = read_slot(state, slot)
        assert got == model.get(slot)
        assert DayDraft.of(state, 6).published(slot) == got


entries = st.lists(
    st.tuples(st.integers(0, 10_000), published_values, qualities, st.integers(0, 3)), max_size=5
)


@given(puts=puts, entries=entries)
@settings(max_examples=100, deadline=None)
def test_the_compiled_day_writer_writes_what_fastavro_writes(
    puts: list[tuple[int, Decimal | None, Quality, int]],
    entries: list[tuple[int, Decimal | None, Quality, int]],
) -> None:
    draft = DayDraft(DAY, 6)
    for slot, value, quality, revision in puts:
        draft.put_slot(slot, 1800, Published(value, quality, revision))
    base = datetime(2025, 3, 1, 11, 0, tzinfo=UTC)
    for seconds, value, quality, revision in entries:
        draft.put_entry(base + timedelta(seconds=seconds), Published(value, quality, revision))
    state = draft.pack()
    compiled = encode_day(state)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(state_codec, "_day_writer", lambda: None)  # fastavro alone, as before the fast path
        reference = encode_day(state)
    assert compiled == reference
    assert decode_day(compiled) == state


def test_a_drafts_slot_table_grows_to_a_whole_day_at_once() -> None:
    """Readings fill a day slot by slot: the table takes the longest day's slots (25 hours) at the first
    one instead of growing by one slot per reading; packing leaves the unused end out again."""
    draft = DayDraft(DAY, 6)
    draft.put_slot(0, 1800, Published(Decimal("1.5"), FLAGS_OK))
    assert len(draft.tags) == len(draft.mantissas) == 50
    draft.put_slot(3, 1800, Published(Decimal(2), FLAGS_OK))  # slots 1 and 2 stay unpublished

    state = draft.pack()

    assert state.slot_count == 4
    assert [read_slot(state, slot) for slot in range(4)] == [
        Published(Decimal("1.5"), FLAGS_OK),
        None,
        None,
        Published(Decimal(2), FLAGS_OK),
    ]
    draft.put_slot(4, 1800, Published(Decimal(3), FLAGS_OK))  # the draft goes on after a pack
    assert draft.pack().slot_count == 5


def test_short_intervals_grow_the_slot_table_as_needed() -> None:
    draft = DayDraft(DAY, 6)
    draft.put_slot(7, 60, Published(Decimal(1), FLAGS_OK))  # a whole day would be 1,500 slots
    assert len(draft.tags) == 8
    assert draft.pack().slot_count == 8
