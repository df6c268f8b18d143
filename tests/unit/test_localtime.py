"""Local time: zones, timestamps, offsets and block intervals in real elapsed time across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from publisher.errors import ConfigError, ParseError
from publisher.netstream import localtime
from publisher.netstream.localtime import (
    block_intervals,
    expected_interval_count,
    format_with_offset,
    load_zone,
    local_date,
    local_day_start,
    local_midnight,
    parse_timestamp,
    to_local_naive,
)
from publisher.netstream.readingtype import ReadingType, parse_reading_type

AUCKLAND = ZoneInfo("Pacific/Auckland")
SYDNEY = ZoneInfo("Australia/Sydney")
BRISBANE = ZoneInfo("Australia/Brisbane")
UTC_ZONE = ZoneInfo("UTC")
ZONES = [AUCKLAND, SYDNEY, BRISBANE, UTC_ZONE]

HALF_HOURLY = parse_reading_type("0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0")
FIVE_MINUTE = parse_reading_type("0.0.6.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0")
FIFTEEN_MINUTE = parse_reading_type("0.0.2.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0")
HOURLY = parse_reading_type("0.0.7.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0")
DAILY = parse_reading_type("0.0.4.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0")
MONTHLY = parse_reading_type("13.0.0.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0")
REGISTER = parse_reading_type("0.0.0.1.1.1.12.0.0.0.0.0.0.0.224.3.72.0")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def assert_contiguous(intervals: list[tuple[datetime, datetime]]) -> None:
    for (_, end), (start, _) in pairwise(intervals):
        assert end == start


# ----------------------------------------------------------------------------------------------- zones


def test_load_zone_returns_the_zone() -> None:
    assert load_zone("Pacific/Auckland") is AUCKLAND
    assert load_zone(" Australia/Sydney ").key == "Australia/Sydney"


@pytest.mark.parametrize("name", ["", "Nowhere/City", "Pacific", "../etc/passwd", "/etc/localtime", "utc+13"])
def test_unknown_zone_is_a_config_error_naming_zone_and_fix(name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_zone(name)
    assert repr(name) in caught.value.message
    assert "Pacific/Auckland" in caught.value.message
    assert "\n" not in caught.value.message
    assert caught.value.exit_code == 2


# ----------------------------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-02-28T11:00:00Z", utc(2025, 2, 28, 11)),
        ("2025-02-28t11:00:00z", utc(2025, 2, 28, 11)),
        ("2025-03-01T00:00:00+13:00", utc(2025, 2, 28, 11)),
        ("2025-03-01T00:00:00+1300", utc(2025, 2, 28, 11)),
        ("2025-03-01T00:00:00+13", utc(2025, 2, 28, 11)),
        ("2025-03-01T00:00:00+11:00", utc(2025, 2, 28, 13)),
        ("2025-02-28T06:00:00-05:00", utc(2025, 2, 28, 11)),
        ("2025-03-01T00:00:00", utc(2025, 2, 28, 11)),  # naive: NZDT, +13
        ("2025-07-01T00:00:00", utc(2025, 6, 30, 12)),  # naive: NZST, +12
        ("2025-03-01 00:00:00", utc(2025, 2, 28, 11)),
        ("2025-03-01T00:00", utc(2025, 2, 28, 11)),
        ("  2025-03-01T00:00:00  ", utc(2025, 2, 28, 11)),
        ("2025-03-01T00:00:00.5", utc(2025, 2, 28, 11, 0, 0, 500000)),
        ("2025-03-01T00:00:00.1234567", utc(2025, 2, 28, 11, 0, 0, 123456)),  # .NET's seven digits
        ("2025-03-01T00:00:00,25Z", utc(2025, 3, 1, 0, 0, 0, 250000)),
    ],
)
def test_parse_timestamp_returns_utc(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text, AUCKLAND)
    assert parsed == expected
    assert parsed.tzinfo is UTC


def test_naive_time_in_the_spring_forward_gap_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="does not exist in Pacific/Auckland") as caught:
        parse_timestamp("2025-09-28T02:30:00", AUCKLAND)
    assert caught.value.fragment == "2025-09-28T02:30:00"
    with pytest.raises(ParseError, match="does not exist"):
        parse_timestamp("2025-10-05T02:00:00", SYDNEY)


def test_gap_time_with_an_offset_is_fine() -> None:
    assert parse_timestamp("2025-09-28T02:30:00+12:00", AUCKLAND) == utc(2025, 9, 27, 14, 30)


def test_ambiguous_local_time_uses_fold() -> None:
    assert parse_timestamp("2025-04-06T02:30:00", AUCKLAND) == utc(2025, 4, 5, 13, 30)  # NZDT, first
    assert parse_timestamp("2025-04-06T02:30:00", AUCKLAND, fold=1) == utc(2025, 4, 5, 14, 30)  # NZST
    assert parse_timestamp("2025-04-06T02:30:00", SYDNEY, fold=1) == utc(2025, 4, 5, 16, 30)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "2025-03-01",
        "2025-02-30T00:00:00",
        "2025-03-01T25:00:00",
        "2025-03-01T24:00:00",
        "2025-03-01T00:60:00",
        "2025-03-01T00:00:00+25:00",
        "2025-03-01T00:00:00+13:75",
        "2025-03-01T00:00:00 +13:00",
        "2025-3-1T00:00:00",
        "20250301T000000",
        "2025-03-01T00:00:00.Z",
        "\u0662025-03-01T00:00:00",
    ],
)
def test_invalid_timestamps_are_parse_errors(text: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_timestamp(text, AUCKLAND)
    assert caught.value.fragment == text
    assert "\n" not in caught.value.message


def test_surrounding_whitespace_including_newlines_is_tolerated() -> None:
    assert parse_timestamp("\t2025-03-01T00:00:00Z\n", AUCKLAND) == utc(2025, 3, 1)


def test_non_string_timestamp_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="must be a string"):
        parse_timestamp(1740740400, AUCKLAND)  # type: ignore[arg-type]  # a JSON number where text belongs


# ----------------------------------------------------------------------------------------------- rendering


def test_format_with_offset_for_nzdt_and_nzst() -> None:
    assert format_with_offset(utc(2025, 2, 28, 11), AUCKLAND) == "2025-03-01T00:00:00+13:00"
    assert format_with_offset(utc(2025, 6, 30, 12), AUCKLAND) == "2025-07-01T00:00:00+12:00"
    assert format_with_offset(utc(2025, 2, 28, 13), SYDNEY) == "2025-03-01T00:00:00+11:00"
    assert (
        format_with_offset(utc(2025, 2, 28, 13, 0, 0, 250000), SYDNEY) == "2025-03-01T00:00:00.250000+11:00"
    )


def test_format_with_offset_converts_from_any_zone() -> None:
    moment = datetime(2025, 3, 1, 0, 0, tzinfo=timezone(timedelta(hours=13)))
    assert format_with_offset(moment, SYDNEY) == "2025-02-28T22:00:00+11:00"


def test_to_local_naive() -> None:
    assert to_local_naive(utc(2025, 2, 28, 11), AUCKLAND) == datetime.combine(date(2025, 3, 1), time())
    assert to_local_naive(utc(2025, 2, 28, 11), AUCKLAND).tzinfo is None


def test_naive_inputs_are_rejected_as_caller_bugs() -> None:
    naive = datetime(2025, 3, 1, tzinfo=UTC).replace(tzinfo=None)
    for call in (
        lambda: format_with_offset(naive, AUCKLAND),
        lambda: to_local_naive(naive, AUCKLAND),
        lambda: local_date(naive, AUCKLAND),
        lambda: block_intervals(naive, 1, HALF_HOURLY, AUCKLAND),
        lambda: block_intervals(utc(2025, 3, 1), 1, HALF_HOURLY, AUCKLAND, end=naive),
    ):
        with pytest.raises(ValueError, match="timezone-aware"):
            call()


@settings(max_examples=100, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime.combine(date(2020, 1, 1), time()),
        max_value=datetime.combine(date(2030, 12, 31), time()),
        timezones=st.just(UTC),
    ),
    zone=st.sampled_from(ZONES),
)
def test_rendered_and_local_times_parse_back_to_the_same_instant(moment: datetime, zone: ZoneInfo) -> None:
    assert parse_timestamp(format_with_offset(moment, zone), zone) == moment
    local = moment.astimezone(zone)
    assert parse_timestamp(to_local_naive(moment, zone).isoformat(), zone, fold=local.fold) == moment


# ----------------------------------------------------------------------------------------------- local days


def test_local_day_helpers() -> None:
    late_evening_utc = utc(2025, 2, 28, 12)  # 01:00 on 1 March in Auckland
    assert local_date(late_evening_utc, AUCKLAND) == date(2025, 3, 1)
    assert local_day_start(late_evening_utc, AUCKLAND) == utc(2025, 2, 28, 11)
    assert local_midnight(date(2025, 7, 1), AUCKLAND) == utc(2025, 6, 30, 12)
    assert local_midnight(date(2025, 7, 1), BRISBANE) == utc(2025, 6, 30, 14)


@pytest.mark.parametrize(
    ("zone", "day", "first_instant", "hours"),
    [
        ("America/Santiago", date(2022, 9, 11), utc(2022, 9, 11, 4), 23),  # 00:00 skipped to 01:00
        ("America/Havana", date(2025, 3, 9), utc(2025, 3, 9, 5), 23),
    ],
)
def test_day_starting_after_a_midnight_gap(zone: str, day: date, first_instant: datetime, hours: int) -> None:
    tz = ZoneInfo(zone)
    start = local_midnight(day, tz)
    assert start == first_instant
    assert local_date(start, tz) == day
    assert local_date(start - timedelta(seconds=1), tz) == day - timedelta(days=1)
    assert local_midnight(day + timedelta(days=1), tz) - start == timedelta(hours=hours)
    assert expected_interval_count(day, HALF_HOURLY, tz) == hours * 2


# ----------------------------------------------------------------------------------------------- DST days


@pytest.mark.parametrize(
    ("zone", "day", "count"),
    [
        (AUCKLAND, date(2025, 4, 6), 50),
        (AUCKLAND, date(2025, 9, 28), 46),
        (AUCKLAND, date(2025, 3, 1), 48),
        (SYDNEY, date(2025, 4, 6), 50),
        (SYDNEY, date(2025, 10, 5), 46),
        (BRISBANE, date(2025, 4, 6), 48),
        (BRISBANE, date(2025, 10, 5), 48),
    ],
)
def test_half_hour_counts_on_dst_days(zone: ZoneInfo, day: date, count: int) -> None:
    assert expected_interval_count(day, HALF_HOURLY, zone) == count
    start, end = local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)
    intervals = block_intervals(start, count, HALF_HOURLY, zone, end=end)
    assert len(intervals) == count
    assert intervals[0][0] == start
    assert intervals[-1][1] == end
    assert_contiguous(intervals)
    assert all(e - s == timedelta(minutes=30) for s, e in intervals)
    with pytest.raises(
        ParseError, match=f"block holds {count + 1} values but its period has room for {count}"
    ):
        block_intervals(start, count + 1, HALF_HOURLY, zone, end=end)


def test_repeated_hour_is_resolved_by_position() -> None:
    start = local_midnight(date(2025, 4, 6), AUCKLAND)
    intervals = block_intervals(start, 50, HALF_HOURLY, AUCKLAND)
    first_two_am, second_two_am = intervals[4][0], intervals[6][0]
    assert to_local_naive(first_two_am, AUCKLAND) == to_local_naive(second_two_am, AUCKLAND)
    assert to_local_naive(first_two_am, AUCKLAND).time() == time(2, 0)
    assert first_two_am == utc(2025, 4, 5, 13)
    assert second_two_am == utc(2025, 4, 5, 14)
    assert parse_timestamp("2025-04-06T02:00:00", AUCKLAND, fold=0) == first_two_am
    assert parse_timestamp("2025-04-06T02:00:00", AUCKLAND, fold=1) == second_two_am
    assert format_with_offset(first_two_am, AUCKLAND) == "2025-04-06T02:00:00+13:00"
    assert format_with_offset(second_two_am, AUCKLAND) == "2025-04-06T02:00:00+12:00"


def test_spring_forward_skips_the_missing_hour() -> None:
    start = local_midnight(date(2025, 9, 28), AUCKLAND)
    local_starts = [
        to_local_naive(s, AUCKLAND).time() for s, _ in block_intervals(start, 46, HALF_HOURLY, AUCKLAND)
    ]
    assert time(1, 30) in local_starts
    assert time(2, 0) not in local_starts
    assert time(2, 30) not in local_starts
    assert local_starts[4] == time(3, 0)


def test_daily_intervals_last_23_24_25_hours_across_nz_changes() -> None:
    autumn = block_intervals(local_midnight(date(2025, 4, 5), AUCKLAND), 3, DAILY, AUCKLAND)
    assert [e - s for s, e in autumn] == [timedelta(hours=24), timedelta(hours=25), timedelta(hours=24)]
    spring = block_intervals(local_midnight(date(2025, 9, 27), AUCKLAND), 3, DAILY, AUCKLAND)
    assert [e - s for s, e in spring] == [timedelta(hours=24), timedelta(hours=23), timedelta(hours=24)]
    assert_contiguous(autumn)
    assert all(to_local_naive(s, AUCKLAND).time() == time() for s, _ in autumn + spring)


def test_monthly_intervals_run_first_to_first_in_local_time() -> None:
    intervals = block_intervals(local_midnight(date(2025, 3, 1), AUCKLAND), 2, MONTHLY, AUCKLAND)
    assert intervals == [
        (utc(2025, 2, 28, 11), utc(2025, 3, 31, 11)),
        (utc(2025, 3, 31, 11), utc(2025, 4, 30, 12)),  # April holds the extra autumn hour
    ]
    december = block_intervals(local_midnight(date(2025, 12, 1), AUCKLAND), 1, MONTHLY, AUCKLAND)
    assert december == [(utc(2025, 11, 30, 11), utc(2025, 12, 31, 11))]


def test_partial_block_is_fine_and_overfull_is_not() -> None:
    start = local_midnight(date(2025, 3, 1), AUCKLAND)
    end = local_midnight(date(2025, 3, 2), AUCKLAND)
    assert len(block_intervals(start, 20, HALF_HOURLY, AUCKLAND, end=end)) == 20
    assert block_intervals(start, 0, HALF_HOURLY, AUCKLAND, end=end) == []
    with pytest.raises(ParseError, match="room for 1"):
        block_intervals(start, 2, DAILY, AUCKLAND, end=end)
    with pytest.raises(ParseError, match="room for 0"):
        block_intervals(start, 1, MONTHLY, AUCKLAND, end=end)
    with pytest.raises(ParseError, match="room for 0"):
        block_intervals(start, 1, HALF_HOURLY, AUCKLAND, end=start)


def test_block_start_not_on_a_boundary_steps_from_the_start() -> None:
    start = utc(2025, 3, 1, 0, 7)
    assert block_intervals(start, 2, FIVE_MINUTE, AUCKLAND) == [
        (utc(2025, 3, 1, 0, 7), utc(2025, 3, 1, 0, 12)),
        (utc(2025, 3, 1, 0, 12), utc(2025, 3, 1, 0, 17)),
    ]
    start_local = datetime(2025, 3, 1, 6, tzinfo=AUCKLAND)
    assert block_intervals(start_local, 1, DAILY, AUCKLAND) == [(utc(2025, 2, 28, 17), utc(2025, 3, 1, 11))]


def test_reading_type_without_time_semantics_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="neither a fixed interval nor a calendar period") as caught:
        block_intervals(utc(2025, 3, 1), 1, REGISTER, AUCKLAND)
    assert caught.value.fragment == REGISTER.mrid
    with pytest.raises(ParseError, match="neither"):
        expected_interval_count(date(2025, 3, 1), REGISTER, AUCKLAND)


def test_negative_count_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="count"):
        block_intervals(utc(2025, 3, 1), -1, HALF_HOURLY, AUCKLAND)


def test_expected_counts_for_other_types() -> None:
    assert expected_interval_count(date(2025, 4, 6), DAILY, AUCKLAND) == 1
    assert expected_interval_count(date(2025, 4, 6), MONTHLY, AUCKLAND) == 0
    assert expected_interval_count(date(2025, 4, 6), FIVE_MINUTE, AUCKLAND) == 300
    assert expected_interval_count(date(2025, 9, 28), FIFTEEN_MINUTE, AUCKLAND) == 92
    assert expected_interval_count(date(2025, 9, 28), HOURLY, AUCKLAND) == 23


# ----------------------------------------------------------------------------------------------- properties

_DAYS = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))


@settings(max_examples=100, deadline=None)
@given(day=_DAYS, zone=st.sampled_from(ZONES))
@example(day=date(2025, 4, 6), zone=AUCKLAND)
@example(day=date(2025, 9, 28), zone=AUCKLAND)
@example(day=date(2025, 4, 6), zone=SYDNEY)
@example(day=date(2025, 10, 5), zone=SYDNEY)
def test_half_hour_series_of_any_local_day(day: date, zone: ZoneInfo) -> None:
    count = expected_interval_count(day, HALF_HOURLY, zone)
    assert count in {46, 48, 50}
    if zone in (BRISBANE, UTC_ZONE):  # no daylight saving
        assert count == 48
    start, end = local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)
    intervals = block_intervals(start, count, HALF_HOURLY, zone, end=end)
    assert len(intervals) == count
    assert intervals[0][0] == start
    assert intervals[-1][1] == end
    assert_contiguous(intervals)
    assert all(e - s == HALF_HOURLY.interval for s, e in intervals)
    assert all(s.tzinfo is UTC for s, _ in intervals)
    assert {local_date(s, zone) for s, _ in intervals} == {day}
    with pytest.raises(ParseError, match="room for"):
        block_intervals(start, count + 1, HALF_HOURLY, zone, end=end)


@settings(max_examples=100, deadline=None)
@given(day=_DAYS, zone=st.sampled_from(ZONES), rt=st.sampled_from([FIVE_MINUTE, FIFTEEN_MINUTE, HOURLY]))
def test_other_fixed_intervals_tile_the_local_day(day: date, zone: ZoneInfo, rt: ReadingType) -> None:
    assert rt.interval is not None
    start, end = local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)
    count = expected_interval_count(day, rt, zone)
    assert count * rt.interval == end - start
    assert block_intervals(start, count, rt, zone, end=end)[-1][1] == end


@settings(max_examples=100, deadline=None)
@given(day=_DAYS, zone=st.sampled_from(ZONES))
@example(day=date(2025, 4, 6), zone=AUCKLAND)
@example(day=date(2025, 9, 28), zone=AUCKLAND)
def test_daily_interval_spans_local_midnight_to_local_midnight(day: date, zone: ZoneInfo) -> None:
    start = local_midnight(day, zone)
    [(begin, finish)] = block_intervals(
        start, 1, DAILY, zone, end=local_midnight(day + timedelta(days=1), zone)
    )
    assert begin == start
    assert finish - begin in {timedelta(hours=23), timedelta(hours=24), timedelta(hours=25)}
    assert to_local_naive(begin, zone) == datetime.combine(day, time())
    assert to_local_naive(finish, zone) == datetime.combine(day + timedelta(days=1), time())
    assert expected_interval_count(day, DAILY, zone) == 1


def test_blocks_of_one_window_share_their_boundary_objects() -> None:
    """Every series of a response starts its block at the same instant: the intervals are built once and
    their instants are the same objects, so each instant's (costly, aware) hash is computed once."""
    start = local_midnight(date(2025, 3, 3), AUCKLAND)
    first = block_intervals(start, 48, HALF_HOURLY, AUCKLAND)
    again = block_intervals(datetime.fromisoformat(start.isoformat()), 48, HALF_HOURLY, AUCKLAND)

    assert again == first
    assert all(
        a is b for pair, other in zip(first, again, strict=True) for a, b in zip(pair, other, strict=True)
    )
    assert all(end is following for (_, end), (following, _) in pairwise(first))


def test_shared_intervals_are_handed_out_as_lists_of_their_own() -> None:
    start = local_midnight(date(2025, 3, 4), AUCKLAND)
    mine = block_intervals(start, 4, HALF_HOURLY, AUCKLAND)
    mine.clear()
    assert len(block_intervals(start, 4, HALF_HOURLY, AUCKLAND)) == 4


def test_shared_intervals_depend_on_start_step_and_count() -> None:
    start = local_midnight(date(2025, 3, 5), AUCKLAND)
    half = block_intervals(start, 4, HALF_HOURLY, AUCKLAND)
    assert block_intervals(start, 4, FIFTEEN_MINUTE, AUCKLAND)[-1][1] == start + timedelta(hours=1)
    assert block_intervals(start, 2, HALF_HOURLY, AUCKLAND) == half[:2]
    later = block_intervals(start + timedelta(minutes=30), 4, HALF_HOURLY, AUCKLAND)
    assert later[0] == half[1]
    assert later[-1][1] == half[-1][1] + timedelta(minutes=30)


def test_the_shared_intervals_are_bounded() -> None:
    day = local_midnight(date(2025, 1, 1), AUCKLAND)
    for offset in range(localtime._FIXED_LIMIT + 10):
        block_intervals(day + timedelta(minutes=30 * offset), 2, HALF_HOURLY, AUCKLAND)
    assert 0 < len(localtime._FIXED) <= localtime._FIXED_LIMIT
