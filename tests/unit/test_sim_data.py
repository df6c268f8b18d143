"""Simulator data: determinism, realistic shapes, registers, DST days, late data, revisions and gaps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from publisher.netstream.model import ReadingKind
from publisher.simulator.config import (
    FORWARD_15MIN_KWH,
    FORWARD_30MIN_KWH,
    FORWARD_DAILY_KWH,
    MONTHLY_REGISTER_KWH,
    REVERSE_30MIN_KWH,
    REVERSE_DAILY_KWH,
    SimulatorConfig,
    SimUsagePoint,
)
from publisher.simulator.series import SeriesModel, midnight

AUCKLAND = ZoneInfo("Pacific/Auckland")
SYDNEY = ZoneInfo("Australia/Sydney")
ALL_TYPES = (FORWARD_30MIN_KWH, REVERSE_30MIN_KWH, FORWARD_15MIN_KWH, MONTHLY_REGISTER_KWH)
LATER = datetime(2030, 1, 1, tzinfo=UTC)


def point(
    mrid: str = "up-1", *, zone: str = "Pacific/Auckland", solar: bool = False, meter: str | None = "m-1"
) -> SimUsagePoint:
    return SimUsagePoint(mrid, meter, zone, ALL_TYPES, has_solar=solar)


def config(*points: SimUsagePoint, **knobs: Any) -> SimulatorConfig:
    settings: dict[str, Any] = {"late_fraction": 0.0, "revision_fraction": 0.0, "gap_fraction": 0.0}
    settings.update(knobs)
    return SimulatorConfig(points or (point(),), **settings)


def local_day_window(day: date, zone: ZoneInfo = AUCKLAND) -> tuple[datetime, datetime]:
    return midnight(day, zone), midnight(day + timedelta(days=1), zone)


# ----------------------------------------------------------------------------------------------- determinism


def test_same_seed_gives_the_same_readings() -> None:
    start, end = local_day_window(date(2025, 6, 10))
    noisy = {"late_fraction": 0.2, "revision_fraction": 0.1, "gap_fraction": 0.05}
    first = SeriesModel(config(seed=7, **noisy)).readings(point(), FORWARD_30MIN_KWH, start, end, LATER)
    again = SeriesModel(config(seed=7, **noisy)).readings(point(), FORWARD_30MIN_KWH, start, end, LATER)
    assert first == again
    assert len(first) == 48


def test_a_different_seed_gives_different_values() -> None:
    start, end = local_day_window(date(2025, 6, 10))
    one = SeriesModel(config(seed=1)).readings(point(), FORWARD_30MIN_KWH, start, end, LATER)
    two = SeriesModel(config(seed=2)).readings(point(), FORWARD_30MIN_KWH, start, end, LATER)
    assert [r.value for r in one] != [r.value for r in two]


def test_any_sub_window_gives_the_same_values_as_the_whole() -> None:
    model = SeriesModel(config(late_fraction=0.3, revision_fraction=0.2, gap_fraction=0.1))
    start, end = local_day_window(date(2025, 6, 10))
    whole = model.readings(point(), FORWARD_30MIN_KWH, start, end, LATER)
    middle = start + timedelta(hours=5, minutes=10)
    parts = model.readings(point(), FORWARD_30MIN_KWH, start, middle, LATER)
    parts += model.readings(point(), FORWARD_30MIN_KWH, middle, end, LATER)
    # the interval straddling `middle` lies in neither half-open part
    assert [r for r in whole if r.start != start + timedelta(hours=5)] == parts


def test_values_have_three_decimals_and_normal_quality() -> None:
    start, end = local_day_window(date(2025, 6, 10))
    readings = SeriesModel(config()).readings(point(), FORWARD_30MIN_KWH, start, end, LATER)
    assert all(r.value is not None and r.value.as_tuple().exponent == -3 for r in readings)
    assert {r.quality for r in readings} == {256}
    assert {r.quality_codes for r in readings} == {("3.0.0",)}
    assert {(r.usage_point, r.meter, r.kind) for r in readings} == {("up-1", "m-1", ReadingKind.INTERVAL)}


# ----------------------------------------------------------------------------------------------- shapes


def test_evening_use_exceeds_four_in_the_morning_every_day() -> None:
    model = SeriesModel(config())
    for offset in range(28):
        day = date(2025, 7, 1) + timedelta(days=offset)
        start, end = local_day_window(day)
        by_hour = {
            r.start.astimezone(AUCKLAND).hour: r.value
            for r in model.readings(point(), FORWARD_30MIN_KWH, start, end, LATER)
            if r.start is not None and r.start.astimezone(AUCKLAND).minute == 0
        }
        assert by_hour[19] is not None
        assert by_hour[4] is not None
        assert by_hour[19] > by_hour[4] * 2


def test_solar_generation_is_zero_at_night_and_positive_by_day() -> None:
    model = SeriesModel(config(point(solar=True)))
    start, end = midnight(date(2025, 1, 1), AUCKLAND), midnight(date(2025, 1, 15), AUCKLAND)
    readings = model.readings(point(solar=True), REVERSE_30MIN_KWH, start, end, LATER)
    night = [r for r in readings if r.start is not None and not 5 <= r.start.astimezone(AUCKLAND).hour < 22]
    noon = [r for r in readings if r.start is not None and r.start.astimezone(AUCKLAND).hour in (12, 13)]
    assert night
    assert all(r.value == 0 for r in night)
    assert all(r.value is not None and r.value > 0 for r in noon)


def test_a_site_without_solar_has_an_all_zero_reverse_channel() -> None:
    start, end = local_day_window(date(2025, 1, 10))
    readings = SeriesModel(config()).readings(point(), REVERSE_30MIN_KWH, start, end, LATER)
    assert len(readings) == 48
    assert {r.value for r in readings} == {Decimal("0.000")}


def test_solar_reduces_daytime_import() -> None:
    start, end = local_day_window(date(2025, 1, 10))
    plain = SeriesModel(config()).readings(point(), FORWARD_30MIN_KWH, start, end, LATER)
    solar = SeriesModel(config(point(solar=True))).readings(
        point(solar=True), FORWARD_30MIN_KWH, start, end, LATER
    )
    midday = slice(24, 28)  # 12:00-14:00 local
    assert sum(r.value or 0 for r in solar[midday]) < sum(r.value or 0 for r in plain[midday])


def test_daily_total_is_the_sum_of_the_days_half_hours() -> None:
    model = SeriesModel(config(point(solar=True)))
    for day in (date(2025, 4, 6), date(2025, 6, 10), date(2025, 9, 28)):
        start, end = local_day_window(day)
        for daily, half_hourly in (
            (FORWARD_DAILY_KWH, FORWARD_30MIN_KWH),
            (REVERSE_DAILY_KWH, REVERSE_30MIN_KWH),
        ):
            (total,) = model.readings(point(solar=True), daily, start, end, LATER)
            halves = model.readings(point(solar=True), half_hourly, start, end, LATER)
            assert (total.start, total.end) == (start, end)
            assert total.value == sum(r.value or 0 for r in halves)


def test_a_daily_type_is_served_only_where_its_half_hourly_channel_exists() -> None:
    only_forward = SimUsagePoint("up-f", None, reading_types=(FORWARD_30MIN_KWH,))
    start, end = local_day_window(date(2025, 6, 10))
    model = SeriesModel(config(only_forward))
    assert len(model.readings(only_forward, FORWARD_DAILY_KWH, start, end, LATER)) == 1
    assert model.readings(only_forward, REVERSE_DAILY_KWH, start, end, LATER) == []
    assert model.readings(only_forward, REVERSE_30MIN_KWH, start, end, LATER) == []


# ----------------------------------------------------------------------------------------------- registers


def test_monthly_register_is_read_at_local_midnight_on_the_first_and_only_grows() -> None:
    start, end = datetime(2021, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    readings = SeriesModel(config()).readings(point(), MONTHLY_REGISTER_KWH, start, end, LATER)
    assert len(readings) == 60
    for reading in readings:
        local = reading.end.astimezone(AUCKLAND)
        assert (local.day, local.hour, local.minute) == (1, 0, 0)
        assert reading.kind is ReadingKind.REGISTER
        assert reading.start is None
        assert reading.reported_at == reading.end
    values = [r.value for r in readings]
    assert all(a is not None and b is not None and b > a for a, b in pairwise(values))


def test_register_window_is_half_open() -> None:
    first_of_june = midnight(date(2025, 6, 1), AUCKLAND)
    first_of_july = midnight(date(2025, 7, 1), AUCKLAND)
    model = SeriesModel(config())
    readings = model.readings(point(), MONTHLY_REGISTER_KWH, first_of_june, first_of_july, LATER)
    assert [r.end for r in readings] == [first_of_june]


def test_late_register_reads_report_when_they_arrived() -> None:
    model = SeriesModel(config(late_fraction=1.0, max_late=timedelta(hours=2)))
    first = midnight(date(2025, 6, 1), AUCKLAND)
    window = (first - timedelta(days=1), first + timedelta(days=1))
    assert model.readings(point(), MONTHLY_REGISTER_KWH, *window, first) == []
    (reading,) = model.readings(point(), MONTHLY_REGISTER_KWH, *window, first + timedelta(hours=2))
    assert reading.reported_at is not None
    assert first < reading.reported_at <= first + timedelta(hours=2)


# ----------------------------------------------------------------------------------------------- DST


@pytest.mark.parametrize(
    ("zone", "day", "count"),
    [
        ("Pacific/Auckland", date(2025, 4, 6), 50),
        ("Pacific/Auckland", date(2025, 9, 28), 46),
        ("Pacific/Auckland", date(2025, 6, 10), 48),
        ("Australia/Sydney", date(2025, 4, 6), 50),
        ("Australia/Sydney", date(2025, 10, 5), 46),
        ("Australia/Brisbane", date(2025, 10, 5), 48),
    ],
)
def test_dst_days_have_real_elapsed_half_hours(zone: str, day: date, count: int) -> None:
    site = point(zone=zone)
    start, end = local_day_window(day, ZoneInfo(zone))
    readings = SeriesModel(config(site)).readings(site, FORWARD_30MIN_KWH, start, end, LATER)
    assert len(readings) == count
    assert all(b.start == a.end for a, b in pairwise(readings))
    assert all(
        r.end is not None and r.start is not None and r.end - r.start == timedelta(minutes=30)
        for r in readings
    )
    fifteen = SeriesModel(config(site)).readings(site, FORWARD_15MIN_KWH, start, end, LATER)
    assert len(fifteen) == 2 * count


@pytest.mark.parametrize("day", [date(2025, 4, 6), date(2025, 9, 28)])
def test_fixed_standard_time_keeps_48_half_hours(day: date) -> None:
    standard = ZoneInfo("Etc/GMT-12")  # NZST all year
    start, end = local_day_window(day, standard)
    model = SeriesModel(config(fixed_standard_time=True))
    readings = model.readings(point(), FORWARD_30MIN_KWH, start, end, LATER)
    assert len(readings) == 48
    assert readings[0].start == datetime.combine(day, datetime.min.time(), tzinfo=standard)
    (total,) = model.readings(point(), FORWARD_DAILY_KWH, start, end, LATER)
    assert total.start is not None
    assert total.end - total.start == timedelta(hours=24)


def test_daily_value_on_a_dst_day_spans_25_hours() -> None:
    start, end = local_day_window(date(2025, 4, 6))
    (total,) = SeriesModel(config()).readings(point(), FORWARD_DAILY_KWH, start, end, LATER)
    assert total.start is not None
    assert total.end - total.start == timedelta(hours=25)


# ----------------------------------------------------------------------------------------------- time


def test_only_intervals_that_have_ended_are_served() -> None:
    start, end = local_day_window(date(2025, 6, 10))
    now = start + timedelta(hours=3, minutes=10)
    readings = SeriesModel(config()).readings(point(), FORWARD_30MIN_KWH, start, end, now)
    assert len(readings) == 6
    assert readings[-1].end == start + timedelta(hours=3)


def test_an_interval_is_visible_exactly_when_it_ends() -> None:
    start, end = local_day_window(date(2025, 6, 10))
    first_end = start + timedelta(minutes=30)
    model = SeriesModel(config())
    assert model.readings(point(), FORWARD_30MIN_KWH, start, end, first_end - timedelta(seconds=1)) == []
    assert len(model.readings(point(), FORWARD_30MIN_KWH, start, end, first_end)) == 1


def test_late_intervals_arrive_within_max_late() -> None:
    max_late = timedelta(hours=6)
    model = SeriesModel(config(late_fraction=1.0, max_late=max_late))
    start, end = local_day_window(date(2025, 6, 10))
    at_end = model.readings(point(), FORWARD_30MIN_KWH, start, end, end)
    after = model.readings(point(), FORWARD_30MIN_KWH, start, end, end + max_late)
    assert at_end == [] or len(at_end) < 48
    assert len(after) == 48
    halfway = model.readings(point(), FORWARD_30MIN_KWH, start, end, end + max_late / 2)
    assert 0 < len(halfway) < 48 or len(at_end) < len(halfway)


def test_late_intervals_split_the_available_run() -> None:
    model = SeriesModel(config(late_fraction=0.3, max_late=timedelta(hours=6)))
    start, end = local_day_window(date(2025, 6, 10))
    now = start + timedelta(hours=12)
    visible = model.readings(point(), FORWARD_30MIN_KWH, start, end, now)
    assert 0 < len(visible) < 24
    assert any(b.start != a.end for a, b in pairwise(visible))


def test_revised_intervals_are_estimated_first_then_actual() -> None:
    start, end = local_day_window(date(2025, 6, 10))
    revise_after = timedelta(days=2)
    actual = SeriesModel(config()).readings(point(), FORWARD_30MIN_KWH, start, end, LATER)
    model = SeriesModel(config(revision_fraction=1.0, revision_after=revise_after))
    early = model.readings(point(), FORWARD_30MIN_KWH, start, end, end)
    late = model.readings(point(), FORWARD_30MIN_KWH, start, end, end + revise_after)
    assert {r.quality for r in early} == {257}
    assert all(e.value != a.value for e, a in zip(early, actual, strict=True))
    assert late == actual


def test_revision_happens_per_interval_by_the_clock() -> None:
    start, end = local_day_window(date(2025, 6, 10))
    model = SeriesModel(config(revision_fraction=1.0, revision_after=timedelta(hours=1)))
    readings = model.readings(point(), FORWARD_30MIN_KWH, start, end, start + timedelta(hours=3))
    assert [r.quality for r in readings] == [256, 256, 256, 256, 257, 257]


def test_gaps_are_served_as_known_missing() -> None:
    start, end = local_day_window(date(2025, 6, 10))
    readings = SeriesModel(config(gap_fraction=1.0)).readings(point(), FORWARD_30MIN_KWH, start, end, LATER)
    assert len(readings) == 48
    assert {(r.value, r.quality, r.quality_codes) for r in readings} == {(None, 128, ("2.5.259",))}


def test_window_is_half_open_and_intervals_must_lie_inside() -> None:
    day_start, _ = local_day_window(date(2025, 6, 10))
    start = day_start + timedelta(minutes=10)
    end = day_start + timedelta(hours=2, minutes=30)
    readings = SeriesModel(config()).readings(point(), FORWARD_30MIN_KWH, start, end, LATER)
    assert [r.start for r in readings] == [day_start + timedelta(minutes=30 * k) for k in range(1, 5)]
    assert readings[-1].end == end


def test_unknown_series_and_empty_windows_have_no_readings() -> None:
    start, end = local_day_window(date(2025, 6, 10))
    model = SeriesModel(config())
    assert model.readings(point(), "0.0.7.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0", start, end, LATER) == []
    assert model.readings(point(), FORWARD_30MIN_KWH, end, start, LATER) == []
    assert model.readings(point(), FORWARD_30MIN_KWH, start, end, start) == []


def test_sydney_days_start_at_sydney_midnight() -> None:
    site = point(zone="Australia/Sydney")
    start, end = local_day_window(date(2025, 6, 10), SYDNEY)
    readings = SeriesModel(config(site)).readings(
        site, FORWARD_30MIN_KWH, start - timedelta(hours=1), end, LATER
    )
    assert readings[0].start == start - timedelta(hours=1)
    assert readings[2].start is not None
    assert readings[2].start.astimezone(SYDNEY).hour == 0
