"""State records of one series and week: block and day keys, the block value and its index."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.errors import KafkaFatalError
from publisher.kafka.state_blocks import (
    BLOCK_DAYS,
    BLOCK_FORMAT,
    block_day_count,
    block_days,
    block_key,
    block_start,
    check_block,
    day_key,
    day_value,
    encode_block,
    is_merged,
    parse_state_key,
    put_day,
    written,
)
from publisher.kafka.state_codec import parse_progress_key, progress_key

MONDAY = date(2025, 2, 24)
# a day value of 2025-02-24 (one half-hour, 0.5, flags 256) and the codec's golden day of 2025-03-01
MONDAY_VALUE = bytes.fromhex("0100deba02901c0102020500000202800400000000")
SATURDAY_VALUE = bytes.fromhex(
    "0100e8ba02901c03040c9600000019000006018102040280040000020a312e342e3200000204020000"
)
# 01 block format | 02 two days | 00 05 offsets: Monday, Saturday | 15000000 3e000000 ends 21, 62 (uint32
# LE, counted from the first day value) | the two day values
GOLDEN_BLOCK = bytes.fromhex("01020005150000003e000000") + MONDAY_VALUE + SATURDAY_VALUE

key_text = st.text(min_size=1, max_size=40)


# ------------------------------------------------------------------------------------------ grid, keys


def test_blocks_are_weeks_from_monday_to_sunday() -> None:
    assert BLOCK_DAYS == 7
    for offset in range(7):
        assert block_start((MONDAY + timedelta(days=offset)).toordinal()) == MONDAY.toordinal()
    assert block_start((MONDAY - timedelta(days=1)).toordinal()) == (MONDAY - timedelta(days=7)).toordinal()
    assert block_start((MONDAY + timedelta(days=7)).toordinal()) == (MONDAY + timedelta(days=7)).toordinal()


@given(usage_point=key_text, reading_type=key_text, day=st.dates(min_value=date(1, 1, 8)))
@settings(max_examples=100, deadline=None)
def test_block_and_day_keys_parse_back_for_any_identifier(
    usage_point: str, reading_type: str, day: date
) -> None:
    first = date.fromordinal(block_start(day.toordinal()))
    assert parse_state_key(block_key(usage_point, reading_type, first)) == (
        usage_point,
        reading_type,
        first.toordinal(),
        None,
    )
    assert parse_state_key(day_key(usage_point, reading_type, day)) == (
        usage_point,
        reading_type,
        first.toordinal(),
        day.toordinal(),
    )
    assert parse_progress_key(block_key(usage_point, reading_type, first)) is None


def test_keys_are_human_readable_and_escape_the_separator() -> None:
    assert block_key("up-1", "0.0.2.4", MONDAY) == b"block|up-1|0.0.2.4|2025-02-24"
    assert block_key("a|b", "50%", MONDAY) == b"block|a%7Cb|50%25|2025-02-24"
    assert parse_state_key(b"block|a%7Cb|50%25|2025-02-24") == ("a|b", "50%", MONDAY.toordinal(), None)
    assert day_key("up-1", "0.0.2.4", date(2025, 3, 1)) == b"day|up-1|0.0.2.4|2025-03-01"
    with pytest.raises(ValueError, match="Mondays"):
        block_key("up-1", "0.0.2.4", date(2025, 3, 1))


@pytest.mark.parametrize(
    "key",
    [
        b"",
        b"day|up|rt",
        b"block|up|rt",
        b"day|up|rt|2025-13-01",
        b"block|up|rt|20250224",
        b"month|up|rt|2025-03-01",
        b"block|up|rt|2025-02-24|extra",
        b"\xff\xfe|up|rt|2025-02-24",
        b"ownership-check",
    ],
)
def test_parse_state_key_returns_none_for_other_keys(key: bytes) -> None:
    assert parse_state_key(key) is None


def test_progress_keys_are_not_state_keys() -> None:
    assert parse_state_key(progress_key("job")) is None


def test_a_block_key_off_the_monday_grid_is_refused_with_a_clear_error() -> None:
    with pytest.raises(KafkaFatalError, match="7-day blocks starting on Mondays") as error:
        parse_state_key(b"block|up|rt|2025-02-25")
    assert "\n" not in str(error.value)


# ------------------------------------------------------------------------------------------ values


def test_golden_bytes_of_a_two_day_block() -> None:
    block = encode_block([(5, SATURDAY_VALUE), (0, MONDAY_VALUE)])
    assert block == GOLDEN_BLOCK
    check_block(block)
    assert block_days(block) == bytes((0, 5))
    assert block_day_count(block) == 2
    assert day_value(block, 0) == MONDAY_VALUE
    assert day_value(block, 5) == SATURDAY_VALUE
    assert day_value(block, 3) is None


def test_put_day_replaces_inserts_and_removes_days() -> None:
    block = put_day(None, 6, SATURDAY_VALUE)
    assert block is not None
    assert block_days(block) == bytes((6,))
    block = put_day(block, 2, MONDAY_VALUE)
    assert block is not None
    assert block_days(block) == bytes((2, 6))
    assert (day_value(block, 2), day_value(block, 6)) == (MONDAY_VALUE, SATURDAY_VALUE)
    block = put_day(block, 6, MONDAY_VALUE)
    assert block is not None
    assert day_value(block, 6) == MONDAY_VALUE
    check_block(block)
    block = put_day(block, 2, None)
    assert block is not None
    assert block_days(block) == bytes((6,))
    assert put_day(block, 6, None) is None
    assert put_day(None, 6, None) is None


def test_a_merged_block_is_marked_in_memory_only() -> None:
    block = put_day(None, 0, MONDAY_VALUE, merged=True)
    assert block is not None
    assert is_merged(block)
    block = put_day(block, 5, SATURDAY_VALUE)  # the mark stays until the block is written
    assert block is not None
    assert is_merged(block)
    assert written(block) == GOLDEN_BLOCK
    assert not is_merged(written(block))
    with pytest.raises(KafkaFatalError, match="format 129"):
        check_block(block)  # never read from the topic


@given(
    days=st.dictionaries(
        st.integers(min_value=0, max_value=BLOCK_DAYS - 1),
        st.binary(min_size=2, max_size=300),
        min_size=1,
    )
)
@settings(max_examples=100, deadline=None)
def test_any_set_of_days_round_trips(days: dict[int, bytes]) -> None:
    block = encode_block(list(days.items()))
    check_block(block)
    assert block_days(block) == bytes(sorted(days))
    for offset in range(BLOCK_DAYS):
        assert day_value(block, offset) == days.get(offset)


def test_encode_block_refuses_offsets_outside_the_week_and_empty_blocks() -> None:
    with pytest.raises(ValueError, match="outside"):
        encode_block([(7, MONDAY_VALUE)])
    with pytest.raises(ValueError, match="at least one day"):
        encode_block([])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"", "corrupt \\(empty\\)"),
        (b"\x02" + GOLDEN_BLOCK[1:], "format 2, this build reads 1"),
        (GOLDEN_BLOCK[:1] + b"\x00" + GOLDEN_BLOCK[2:], "bad index of 0 days"),
        (GOLDEN_BLOCK[:1] + b"\x08" + GOLDEN_BLOCK[2:], "bad index of 8 days"),
        (GOLDEN_BLOCK[:2] + b"\x05\x00" + GOLDEN_BLOCK[4:], "bad index of 2 days"),  # not ascending
        (GOLDEN_BLOCK[:2] + b"\x00\x07" + GOLDEN_BLOCK[4:], "bad index of 2 days"),  # past Sunday
        (GOLDEN_BLOCK[:-1], "index and size disagree"),
        (GOLDEN_BLOCK + b"\x00", "index and size disagree"),
        (b"\x01\x01", "bad index of 1 days"),
        (b"\x01\x01\x03\x09\x00\x00", "index and size disagree"),
    ],
)
def test_corrupt_blocks_are_one_line_fatal_errors(value: bytes, message: str) -> None:
    with pytest.raises(KafkaFatalError, match=message) as error:
        check_block(value)
    assert "\n" not in str(error.value)
    assert BLOCK_FORMAT == 1
