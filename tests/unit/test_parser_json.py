"""JSON GetMeterReadings responses: the canonical §8.1 shape and every §8.3 tolerance variant."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import LogCapture

from publisher.netstream.model import Reading, ReadingKind, WireFormat
from publisher.netstream.parser import ParsedResponse, parse_response

NZ = ZoneInfo("Pacific/Auckland")
RT30 = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
RT_DAILY = "0.0.4.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
RT_REGISTER = "13.0.0.1.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
UP = "6f1c2a10-5b1e-4c2d-9a10-00000000000a"
METER = "a7e0c1d2-0001-4e00-8000-0000000000a1"


def parse(text: str, zone_for: Callable[[str], ZoneInfo | None] | None = None) -> ParsedResponse:
    return parse_response(text.encode(), WireFormat.JSON, default_zone=NZ, zone_for=zone_for)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def start_of(reading: Reading) -> datetime:
    assert reading.start is not None
    return reading.start


def interval(readings: list[Reading]) -> list[Reading]:
    return [reading for reading in readings if reading.kind is ReadingKind.INTERVAL]


# --------------------------------------------------------------------------------------------- canonical

CANONICAL = """
{
  "meterReading": [
    {
      "usagePoint": { "mRID": "6f1c2a10-5b1e-4c2d-9a10-00000000000a" },
      "meter": { "mRID": "a7e0c1d2-0001-4e00-8000-0000000000a1", "serialNumber": "NS-0001" },
      "readingType": { "mRID": "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0" },
      "intervalBlockInts": [
        {
          "timePeriod": { "end": "2025-03-01T02:00:00", "endSpecified": true,
                          "start": "2025-03-01T00:00:00", "startSpecified": true },
          "values": [0.123, 0.118, null, 0.1],
          "qualities": [256, 256, 128, 8448]
        }
      ],
      "readings": [
        { "reason": "billing", "reasonSpecified": false, "timeStamp": "2025-03-01T00:00:00",
          "timeStampSpecified": true, "value": "12345.678", "reportedDateTime": "2025-03-01T03:15:00",
          "reportedDateTimeSpecified": true,
          "readingQualities": [ { "readingQualityType": { "ref": "3.8.0" } } ],
          "readingType": { "ref": "13.0.0.1.1.1.12.0.0.0.0.0.0.0.224.3.72.0" },
          "timePeriod": { "end": "2025-03-01T00:00:00", "endSpecified": true,
                          "start": "2025-02-01T00:00:00", "startSpecified": true } }
      ]
    }
  ]
}
"""


def test_canonical_interval_block_becomes_utc_interval_readings() -> None:
    result = parse(CANONICAL)
    assert result.rejected == []
    readings = interval(result.readings)
    first = utc(2025, 2, 28, 11, 0)  # 2025-03-01T00:00 NZDT (+13)
    assert [r.start for r in readings] == [first + timedelta(minutes=30 * i) for i in range(4)]
    assert [r.end for r in readings] == [first + timedelta(minutes=30 * (i + 1)) for i in range(4)]
    assert [r.value for r in readings] == [Decimal("0.123"), Decimal("0.118"), None, Decimal("0.1")]
    assert [r.quality for r in readings] == [256, 256, 128, 8448]
    assert [r.quality_codes for r in readings] == [("3.0.0",), ("3.0.0",), ("2.5.259",), ("3.0.0", "1.4.2")]
    assert {(r.usage_point, r.meter, r.reading_type) for r in readings} == {(UP, METER, RT30)}
    assert all(r.reported_at is None for r in readings)


def test_canonical_register_reading() -> None:
    (register,) = [r for r in parse(CANONICAL).readings if r.kind is ReadingKind.REGISTER]
    assert register == Reading(
        usage_point=UP,
        meter=METER,
        reading_type=RT_REGISTER,
        kind=ReadingKind.REGISTER,
        start=utc(2025, 1, 31, 11, 0),
        end=utc(2025, 2, 28, 11, 0),
        value=Decimal("12345.678"),
        quality=None,
        quality_codes=("3.8.0",),
        reported_at=utc(2025, 2, 28, 14, 15),
    )


def test_values_are_exact_decimals_as_written_never_floats() -> None:
    doc = f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "readingType": {{"mRID": "{RT30}"}},
      "intervalBlockInts": [{{"timePeriod": {{"start": "2025-03-01T00:00:00"}},
        "values": [0.1, 0.100, 1E+2, 7, -0.0, 123456789012345.678, "0.30"]}}]}}]}}"""
    values = [r.value for r in parse(doc).readings]
    assert [str(v) for v in values] == ["0.1", "0.100", "1E+2", "7", "-0.0", "123456789012345.678", "0.30"]
    assert all(type(v) is Decimal for v in values)


def test_readings_come_in_document_order() -> None:
    doc = f"""{{"meterReading": [
      {{"usagePoint": {{"mRID": "up-1"}}, "readingType": {{"mRID": "{RT30}"}},
        "intervalBlockInts": [{{"timePeriod": {{"start": "2025-03-01T00:00:00"}}, "values": [1, 2]}}]}},
      {{"usagePoint": {{"mRID": "up-2"}}, "readingType": {{"mRID": "{RT30}"}},
        "intervalBlockInts": [{{"timePeriod": {{"start": "2025-03-01T00:00:00"}}, "values": [3]}}]}}]}}"""
    assert [(r.usage_point, r.value) for r in parse(doc).readings] == [
        ("up-1", Decimal(1)),
        ("up-1", Decimal(2)),
        ("up-2", Decimal(3)),
    ]


def test_empty_document_and_empty_series_are_normal() -> None:
    assert parse('{"meterReading": []}') == ParsedResponse([], [])
    assert parse("{}") == ParsedResponse([], [])
    doc = f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "readingType": {{"mRID": "{RT30}"}},
      "intervalBlockInts": [{{"timePeriod": {{"start": "2025-03-01T00:00:00"}}, "values": []}}]}}]}}"""
    assert parse(doc) == ParsedResponse([], [])


# --------------------------------------------------------------------------------------------- tolerance


def test_key_names_match_case_insensitively() -> None:
    doc = f"""{{"MeterReading": [{{"UsagePoint": {{"MRID": "{UP}"}}, "METER": {{"mrid": "{METER}"}},
      "ReadingType": {{"Mrid": "{RT30}"}},
      "IntervalBlockInts": [{{"TimePeriod": {{"START": "2025-03-01T00:00:00", "End": "2025-03-01T01:00:00"}},
        "VALUES": [1.5, 2.5], "Qualities": [256, 0]}}]}}]}}"""
    result = parse(doc)
    assert result.rejected == []
    assert [(r.usage_point, r.meter, r.reading_type, r.value, r.quality) for r in result.readings] == [
        (UP, METER, RT30, Decimal("1.5"), 256),
        (UP, METER, RT30, Decimal("2.5"), 0),
    ]


def test_payload_wrapper_in_either_case() -> None:
    inner = json.loads(CANONICAL)
    expected = parse(CANONICAL).readings
    for key in ("payload", "Payload", "PAYLOAD"):
        assert parse(json.dumps({key: inner})).readings == expected


def test_61968_100_response_message_envelope() -> None:
    inner = json.loads(CANONICAL)
    envelope = {
        "Header": {"Verb": "reply", "Noun": "MeterReadings", "Timestamp": "2025-03-02T00:00:00Z"},
        "Reply": {"Result": "OK"},
        "Payload": {"MeterReadings": inner},
    }
    assert parse(json.dumps(envelope)).readings == parse(CANONICAL).readings


def test_identifiers_on_the_block_or_the_parent_nearest_wins() -> None:
    doc = f"""{{"meterReading": [{{
      "usagePoint": {{"mRID": "parent-up"}}, "meter": {{"mRID": "parent-meter"}},
      "readingType": {{"mRID": "{RT30}"}},
      "intervalBlockInts": [
        {{"timePeriod": {{"start": "2025-03-01T00:00:00"}}, "values": [1]}},
        {{"usagePoint": {{"mRID": "block-up"}}, "readingType": {{"mRID": "{RT_DAILY}"}},
          "timePeriod": {{"start": "2025-03-01T00:00:00"}}, "values": [2]}},
        {{"meter": {{"mRID": "block-meter"}}, "timePeriod": {{"start": "2025-03-01T00:00:00"}},
          "values": [3]}}
      ]}}]}}"""
    result = parse(doc)
    assert result.rejected == []
    assert [(r.usage_point, r.meter, r.reading_type) for r in result.readings] == [
        ("parent-up", "parent-meter", RT30),
        ("block-up", "parent-meter", RT_DAILY),
        ("parent-up", "block-meter", RT30),
    ]
    assert result.readings[1].end - start_of(result.readings[1]) == timedelta(hours=24)


def test_absent_or_null_meter_is_none() -> None:
    doc = f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "meter": null,
      "readingType": {{"mRID": "{RT30}"}},
      "intervalBlockInts": [{{"timePeriod": {{"start": "2025-03-01T00:00:00"}}, "values": [1]}}]}}]}}"""
    (reading,) = parse(doc).readings
    assert reading.meter is None
    assert reading.usage_point == UP


def test_identifiers_given_as_plain_strings_or_one_element_arrays() -> None:
    doc = f"""{{"meterReading": [{{"usagePoint": "{UP}", "meter": [{{"mRID": "{METER}"}}],
      "readingType": [{{"ref": "{RT30}"}}],
      "intervalBlockInts": [{{"timePeriod": {{"start": "2025-03-01T00:00:00"}}, "values": [1]}}]}}]}}"""
    (reading,) = parse(doc).readings
    assert (reading.usage_point, reading.meter, reading.reading_type) == (UP, METER, RT30)


def test_interval_blocks_are_found_at_any_depth() -> None:
    doc = f"""{{"result": {{"data": [{{"series": {{"usagePoint": {{"mRID": "{UP}"}},
      "groups": [[{{"readingType": {{"mRID": "{RT30}"}},
                   "intervalBlockInts": {{"timePeriod": {{"start": "2025-03-01T00:00:00"}},
                                          "values": [4]}}}}]]}}}}]}}}}"""
    (reading,) = parse(doc).readings
    assert (reading.usage_point, reading.reading_type, reading.value) == (UP, RT30, Decimal(4))


def test_numeric_strings_and_value_objects() -> None:
    doc = f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "readingType": {{"mRID": "{RT30}"}},
      "intervalBlockInts": [{{"timePeriod": {{"start": "2025-03-01T00:00:00"}},
        "values": ["0.250", " 1.5 ", {{"value": 0.75}}, {{"value": "2"}}, {{"Value": null}},
                   {{"value": 3, "source": null}}],
        "qualities": [256, 256, 256, 256, 128, 256]}}]}}]}}"""
    result = parse(doc)
    assert result.rejected == []
    assert [r.value for r in result.readings] == [
        Decimal("0.250"),
        Decimal("1.5"),
        Decimal("0.75"),
        Decimal(2),
        None,
        Decimal(3),
    ]
    assert [r.quality for r in result.readings] == [256, 256, 256, 256, 128, 256]


def test_value_objects_may_carry_their_own_quality() -> None:
    doc = f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "readingType": {{"mRID": "{RT30}"}},
      "intervalBlockInts": [{{"timePeriod": {{"start": "2025-03-01T00:00:00"}},
        "values": [{{"value": 1, "quality": 16384}}, {{"value": null, "flags": "128"}},
                   {{"value": 2, "readingQualities": [{{"readingQualityType": {{"ref": "1.4.2"}}}},
                                                      {{"readingQualityType": {{"ref": "3.8.0"}}}}]}}, 5],
        "qualities": [256, 256, 256, 256]}}]}}]}}"""
    result = parse(doc)
    assert result.rejected == []
    assert [(r.value, r.quality, r.quality_codes) for r in result.readings] == [
        (Decimal(1), 16384, ("1.4.4",)),
        (None, 128, ("2.5.259",)),
        (Decimal(2), None, ("1.4.2", "3.8.0")),
        (Decimal(5), 256, ("3.0.0",)),
    ]


def test_quality_array_under_any_qual_or_flag_key() -> None:
    for key in ("qualities", "qualityFlags", "Flags", "QUALITY", "readingQualityFlags", "statusFlags"):
        doc = f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "readingType": {{"mRID": "{RT30}"}},
          "intervalBlockInts": [{{"timePeriod": {{"start": "2025-03-01T00:00:00"}}, "values": [1, null],
            "{key}Specified": true, "{key}": [256, "32896"]}}]}}]}}"""
        result = parse(doc)
        assert result.rejected == [], key
        assert [(r.quality, r.quality_codes) for r in result.readings] == [
            (256, ("3.0.0",)),
            (32896, ("2.5.259", "1.2.32")),
        ], key


def test_absent_empty_or_null_quality_means_no_quality() -> None:
    for extra in ("", ', "qualities": null', ', "qualities": []', ', "qualityCount": 2'):
        doc = f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "readingType": {{"mRID": "{RT30}"}},
          "intervalBlockInts": [{{"timePeriod": {{"start": "2025-03-01T00:00:00"}},
                                  "values": [1, 2]{extra}}}]}}]}}"""
        result = parse(doc)
        assert result.rejected == [], extra
        assert [(r.quality, r.quality_codes) for r in result.readings] == [(None, ()), (None, ())], extra


def test_null_entries_in_the_quality_array() -> None:
    doc = f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "readingType": {{"mRID": "{RT30}"}},
      "intervalBlockInts": [{{"timePeriod": {{"start": "2025-03-01T00:00:00"}}, "values": [1, 2],
        "qualities": [null, 256]}}]}}]}}"""
    assert [(r.quality, r.quality_codes) for r in parse(doc).readings] == [(None, ()), (256, ("3.0.0",))]


def test_missing_values_stay_none_with_their_flags_never_zero() -> None:
    doc = f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "readingType": {{"mRID": "{RT30}"}},
      "intervalBlockInts": [{{"timePeriod": {{"start": "2025-03-01T00:00:00", "end": "2025-03-01T02:00:00"}},
        "values": [null, 0, null, 0.0], "qualities": [128, 256, 16512, 33024]}}]}}]}}"""
    readings = parse(doc).readings
    assert [r.value for r in readings] == [None, Decimal(0), None, Decimal("0.0")]
    assert [r.quality_codes for r in readings] == [
        ("2.5.259",),
        ("3.0.0",),
        ("2.5.259", "1.4.4"),
        ("3.0.0", "1.2.32"),
    ]
    assert [r.start for r in readings] == [
        utc(2025, 2, 28, 11, 0) + timedelta(minutes=30 * i) for i in range(4)
    ]


def test_unknown_keys_nulls_specified_flags_and_enums_as_ints_are_ignored() -> None:
    doc = f"""{{"meterReading": [{{"isCoincidentTrigger": false, "isCoincidentTriggerSpecified": false,
      "endDeviceEvents": [], "valuesInterval": null, "source": null,
      "names": [{{"name": "x", "nameType": null}}],
      "usagePoint": {{"mRID": "{UP}", "names": null}}, "readingType": {{"mRID": "{RT30}", "names": []}},
      "intervalBlockInts": [{{"pendingCalculation": null, "extra": {{"deep": [1, 2, {{"x": null}}]}},
        "timePeriod": {{"end": "2025-03-01T01:00:00", "endSpecified": false,
                        "start": "2025-03-01T00:00:00", "startSpecified": false}},
        "values": [1, 2], "qualities": [256, 256]}}],
      "readings": [{{"reason": 0, "reasonSpecified": true, "source": null, "timeStamp": "2025-03-01T00:00:00",
        "value": "10", "readingType": {{"ref": "{RT_REGISTER}"}}, "readingQualities": null}},
        {{"reason": "billing", "timeStamp": "2025-03-01T00:00:00", "value": 11,
          "readingType": {{"ref": "{RT_REGISTER}"}}}}]}}]}}"""
    result = parse(doc)
    assert result.rejected == []
    assert [(r.kind, r.value) for r in result.readings] == [
        (ReadingKind.INTERVAL, Decimal(1)),
        (ReadingKind.INTERVAL, Decimal(2)),
        (ReadingKind.REGISTER, Decimal(10)),
        (ReadingKind.REGISTER, Decimal(11)),
    ]


def test_times_with_an_offset_or_z_are_taken_as_given() -> None:
    doc = f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "readingType": {{"mRID": "{RT30}"}},
      "intervalBlockInts": [
        {{"timePeriod": {{"start": "2025-03-01T00:00:00+11:00"}}, "values": [1]}},
        {{"timePeriod": {{"start": "2025-03-01T00:00:00Z"}}, "values": [2]}}]}}]}}"""
    assert [r.start for r in parse(doc).readings] == [utc(2025, 2, 28, 13, 0), utc(2025, 3, 1, 0, 0)]


def test_reported_date_time_on_block_and_register() -> None:
    doc = f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "readingType": {{"mRID": "{RT30}"}},
      "intervalBlockInts": [{{"reportedDateTime": "2025-03-02T06:00:00",
        "timePeriod": {{"start": "2025-03-01T00:00:00"}}, "values": [1, 2]}}],
      "readings": [{{"timeStamp": "2025-03-01T00:00:00", "value": "1",
                     "readingType": {{"ref": "{RT_REGISTER}"}}}}]}}]}}"""
    readings = parse(doc).readings
    assert [r.reported_at for r in readings] == [utc(2025, 3, 1, 17, 0), utc(2025, 3, 1, 17, 0), None]


# --------------------------------------------------------------------------------------------- register + CIM


def test_register_reading_inherits_the_parents_reading_type_and_accepts_mrid() -> None:
    doc = f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}},
      "readingType": {{"mRID": "{RT_REGISTER}"}},
      "readings": [{{"timeStamp": "2025-03-01T00:00:00", "value": "100.5"}},
                   {{"timeStamp": "2025-03-01T00:00:00+13:00", "value": null,
                     "readingType": {{"mRID": "13.0.0.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"}}}}]}}]}}"""
    result = parse(doc)
    assert result.rejected == []
    assert [(r.reading_type, r.value, r.start, r.end) for r in result.readings] == [
        (RT_REGISTER, Decimal("100.5"), None, utc(2025, 2, 28, 11, 0)),
        ("13.0.0.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0", None, None, utc(2025, 2, 28, 11, 0)),
    ]
    assert all(r.kind is ReadingKind.REGISTER for r in result.readings)


def test_standard_cim_interval_blocks_with_end_stamped_readings() -> None:
    doc = f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "meter": {{"mRID": "{METER}"}},
      "intervalBlocks": [{{"readingType": {{"ref": "{RT30}"}}, "intervalReadings": [
        {{"timeStamp": "2025-03-01T00:30:00", "value": "0.5",
          "readingQualities": [{{"readingQualityType": {{"ref": "3.0.0"}}}}]}},
        {{"timeStamp": "2025-03-01T01:00:00", "value": null, "reportedDateTime": "2025-03-01T02:00:00",
          "readingQualities": [{{"readingQualityType": {{"ref": "2.5.259"}}}}]}},
        {{"timeStamp": "2025-03-01T02:00:00", "value": 0.25,
          "timePeriod": {{"start": "2025-03-01T01:00:00", "end": "2025-03-01T02:00:00"}}}}]}}]}}]}}"""
    result = parse(doc)
    assert result.rejected == []
    assert [
        (r.start, r.end, r.value, r.quality, r.quality_codes, r.reported_at) for r in result.readings
    ] == [
        (utc(2025, 2, 28, 11, 0), utc(2025, 2, 28, 11, 30), Decimal("0.5"), None, ("3.0.0",), None),
        (
            utc(2025, 2, 28, 11, 30),
            utc(2025, 2, 28, 12, 0),
            None,
            None,
            ("2.5.259",),
            utc(2025, 2, 28, 13, 0),
        ),
        (utc(2025, 2, 28, 12, 0), utc(2025, 2, 28, 13, 0), Decimal("0.25"), None, (), None),
    ]
    assert {(r.usage_point, r.meter, r.reading_type, r.kind) for r in result.readings} == {
        (UP, METER, RT30, ReadingKind.INTERVAL)
    }


def test_rejections_are_logged_as_one_summary_event(captured_logs: LogCapture) -> None:
    doc = f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "readingType": {{"mRID": "{RT30}"}},
      "intervalBlockInts": [{{"timePeriod": {{"start": "2025-03-01T00:00:00"}},
                              "values": [1, "x", "y"]}}]}}]}}"""
    parse(doc)
    events = [e for e in captured_logs.entries if e["event"] == "response_elements_rejected"]
    assert len(events) == 1
    assert events[0]["count"] == 2
    assert events[0]["log_level"] == "warning"


# --------------------------------------------------------------------------------------------- property


_DECIMAL_TEXT = st.decimals(
    min_value=Decimal("-999999999.999"), max_value=Decimal("999999999.999"), allow_nan=False, places=3
).map(str)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.none() | _DECIMAL_TEXT, max_size=48), as_strings=st.booleans())
def test_values_round_trip_exactly_in_order(values: list[str | None], as_strings: bool) -> None:
    rendered = ", ".join("null" if v is None else (json.dumps(v) if as_strings else v) for v in values)
    doc = f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "readingType": {{"mRID": "{RT30}"}},
      "intervalBlockInts": [{{"timePeriod": {{"start": "2025-03-01T00:00:00"}},
                              "values": [{rendered}]}}]}}]}}"""
    result = parse(doc)
    assert result.rejected == []
    assert [r.value for r in result.readings] == [None if v is None else Decimal(v) for v in values]
    assert [str(r.value) for r in result.readings if r.value is not None] == [
        v for v in values if v is not None
    ]
    starts = [r.start for r in result.readings]
    assert starts == [utc(2025, 2, 28, 11, 0) + timedelta(minutes=30 * i) for i in range(len(values))]
