"""Time placement: DST days (46/50 half-hours), the repeated hour, per-usage-point zones, CIM end stamps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

from publisher.netstream.model import Reading, ReadingKind, WireFormat
from publisher.netstream.parser import ParsedResponse, parse_response

NZ = ZoneInfo("Pacific/Auckland")
SYDNEY = ZoneInfo("Australia/Sydney")
RT30 = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
RT_DAILY = "0.0.4.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
RT_REGISTER = "13.0.0.1.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
UP = "6f1c2a10-5b1e-4c2d-9a10-00000000000a"
UP2 = "6f1c2a10-5b1e-4c2d-9a10-00000000000b"


def parse(text: str, zone_for: Callable[[str], ZoneInfo | None] | None = None) -> ParsedResponse:
    return parse_response(text.encode(), WireFormat.JSON, default_zone=NZ, zone_for=zone_for)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def start_of(reading: Reading) -> datetime:
    assert reading.start is not None
    return reading.start


def test_cim_daily_interval_reading_starts_at_the_previous_local_midnight() -> None:
    # 2025-04-06 is the NZ fall-back day: 25 hours long.
    doc = f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "intervalBlocks": [{{
      "readingType": {{"ref": "{RT_DAILY}"}}, "intervalReadings": [
        {{"timeStamp": "2025-04-06T00:00:00", "value": 10}},
        {{"timeStamp": "2025-04-07T00:00:00", "value": 11}}]}}]}}]}}"""
    first, second = parse(doc).readings
    assert (first.start, first.end) == (utc(2025, 4, 4, 11, 0), utc(2025, 4, 5, 11, 0))
    assert (second.start, second.end) == (utc(2025, 4, 5, 11, 0), utc(2025, 4, 6, 12, 0))
    assert second.end - start_of(second) == timedelta(hours=25)


def test_cim_interval_readings_in_the_repeated_hour_are_placed_by_position() -> None:
    stamps = ["01:30", "02:00", "02:30", "02:00", "02:30", "03:00", "03:30"]
    items = ", ".join(f'{{"timeStamp": "2025-04-06T{s}:00", "value": {i}}}' for i, s in enumerate(stamps))
    doc = f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "intervalBlocks": [{{
      "readingType": {{"ref": "{RT30}"}}, "intervalReadings": [{items}]}}]}}]}}"""
    ends = [r.end for r in parse(doc).readings]
    # 01:30 NZDT = 12:30Z; the clock goes 02:59:59 NZDT -> 02:00 NZST at 14:00Z
    assert ends == [utc(2025, 4, 5, 12, 30) + timedelta(minutes=30 * i) for i in range(7)]


def _dst_block(start: str, end: str, count: int) -> str:
    values = ", ".join(str(i) for i in range(count))
    qualities = ", ".join(["256"] * count)
    return f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "readingType": {{"mRID": "{RT30}"}},
      "intervalBlockInts": [{{"timePeriod": {{"end": "{end}", "endSpecified": true,
        "start": "{start}", "startSpecified": true}},
        "values": [{values}], "qualities": [{qualities}]}}]}}]}}"""


def test_autumn_fall_back_day_has_50_half_hours_and_the_repeated_hour_by_position() -> None:
    result = parse(_dst_block("2025-04-06T00:00:00", "2025-04-07T00:00:00", 50))
    assert result.rejected == []
    readings = result.readings
    assert len(readings) == 50
    assert readings[0].start == utc(2025, 4, 5, 11, 0)  # 00:00 NZDT (+13)
    assert readings[-1].end == utc(2025, 4, 6, 12, 0)  # 00:00 NZST (+12) next day
    assert all(
        b.start == a.end and a.end - start_of(a) == timedelta(minutes=30) for a, b in pairwise(readings)
    )
    local = [start_of(r).astimezone(NZ) for r in readings[4:8]]
    assert [(t.strftime("%H:%M"), t.fold) for t in local] == [
        ("02:00", 0),
        ("02:30", 0),
        ("02:00", 1),
        ("02:30", 1),
    ]
    assert [r.value for r in readings[4:8]] == [Decimal(4), Decimal(5), Decimal(6), Decimal(7)]


def test_spring_forward_day_has_46_half_hours() -> None:
    result = parse(_dst_block("2025-09-28T00:00:00", "2025-09-29T00:00:00", 46))
    assert result.rejected == []
    readings = result.readings
    assert len(readings) == 46
    assert readings[0].start == utc(2025, 9, 27, 12, 0)  # 00:00 NZST (+12)
    assert readings[-1].end == utc(2025, 9, 28, 11, 0)  # 00:00 NZDT (+13)
    local = [start_of(r).astimezone(NZ).strftime("%H:%M") for r in readings[3:6]]
    assert local == ["01:30", "03:00", "03:30"]


def test_block_starting_inside_the_repeated_hour_is_resolved_by_its_value_count() -> None:
    # From 02:00 to 04:00 local on the fall-back day: 6 half-hours from the first 02:00, 4 from the second.
    six = parse(_dst_block("2025-04-06T02:00:00", "2025-04-06T04:00:00", 6)).readings
    four = parse(_dst_block("2025-04-06T02:00:00", "2025-04-06T04:00:00", 4)).readings
    assert six[0].start == utc(2025, 4, 5, 13, 0)
    assert four[0].start == utc(2025, 4, 5, 14, 0)
    assert six[-1].end == four[-1].end == utc(2025, 4, 5, 16, 0)


def test_too_many_values_for_a_dst_day_reject_the_block() -> None:
    result = parse(_dst_block("2025-09-28T00:00:00", "2025-09-29T00:00:00", 48))
    assert result.readings == []
    (rejected,) = result.rejected
    assert "48 values" in rejected.reason
    assert (rejected.usage_point, rejected.reading_type) == (UP, RT30)


def test_per_usage_point_zones_via_zone_for() -> None:
    doc = f"""{{"meterReading": [
      {{"usagePoint": {{"mRID": "{UP}"}}, "readingType": {{"mRID": "{RT30}"}},
        "intervalBlockInts": [{{"timePeriod": {{"start": "2025-03-01T00:00:00"}}, "values": [1]}}]}},
      {{"usagePoint": {{"mRID": "{UP2}"}}, "readingType": {{"mRID": "{RT30}"}},
        "intervalBlockInts": [{{"timePeriod": {{"start": "2025-03-01T00:00:00"}}, "values": [2]}}],
        "readings": [{{"timeStamp": "2025-03-01T00:00:00", "value": "5",
                       "readingType": {{"ref": "{RT_REGISTER}"}}}}]}}]}}"""
    asked: list[str] = []

    def zone_for(mrid: str) -> ZoneInfo | None:
        asked.append(mrid)
        return SYDNEY if mrid == UP2 else None

    readings = parse(doc, zone_for=zone_for).readings
    assert [(r.usage_point, r.kind, r.start, r.end) for r in readings] == [
        (UP, ReadingKind.INTERVAL, utc(2025, 2, 28, 11, 0), utc(2025, 2, 28, 11, 30)),  # NZDT +13
        (UP2, ReadingKind.INTERVAL, utc(2025, 2, 28, 13, 0), utc(2025, 2, 28, 13, 30)),  # AEDT +11
        (UP2, ReadingKind.REGISTER, None, utc(2025, 2, 28, 13, 0)),
    ]
    assert sorted(set(asked)) == [UP, UP2]
    assert len(asked) == 2  # one lookup per usage point per response
