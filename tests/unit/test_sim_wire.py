"""Simulator wire formats: response blocks and rendering (JSON/XML), request reading and media types."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from defusedxml.ElementTree import fromstring

from publisher.errors import ParseError
from publisher.netstream.model import Reading, ReadingKind, Target, TargetKind, WireFormat
from publisher.netstream.parser import parse_response
from publisher.simulator import shapes
from publisher.simulator.config import FORWARD_30MIN_KWH, MONTHLY_REGISTER_KWH
from publisher.simulator.query import Problem, Query, parse_query, request_format, response_format
from publisher.simulator.render import corrupt, render, render_json, render_xml
from publisher.simulator.series import midnight

AUCKLAND = ZoneInfo("Pacific/Auckland")
HALF_HOUR = timedelta(minutes=30)


def interval(start: datetime, value: str | None = "0.100", quality: int = 256) -> Reading:
    return Reading(
        usage_point="up-1",
        meter="m-1",
        reading_type=FORWARD_30MIN_KWH,
        kind=ReadingKind.INTERVAL,
        start=start,
        end=start + HALF_HOUR,
        value=None if value is None else Decimal(value),
        quality=quality,
        quality_codes=(),
    )


def register(end: datetime, value: str) -> Reading:
    return Reading(
        "up-1", "m-1", MONTHLY_REGISTER_KWH, ReadingKind.REGISTER, None, end, Decimal(value), None, (), end
    )


def series(
    *readings: Reading, reading_type: str = FORWARD_30MIN_KWH, meter: str | None = "m-1"
) -> shapes.Series:
    return shapes.series_of("up-1", meter, reading_type, AUCKLAND, readings)


DAY = midnight(date(2025, 6, 10), AUCKLAND)


# ----------------------------------------------------------------------------------------------- blocks


def test_contiguous_intervals_form_one_block() -> None:
    blocks = series(*(interval(DAY + k * HALF_HOUR) for k in range(4))).blocks()
    assert len(blocks) == 1
    assert (blocks[0].start, blocks[0].end) == (DAY, DAY + 4 * HALF_HOUR)


def test_a_missing_interval_splits_the_block() -> None:
    readings = [interval(DAY + k * HALF_HOUR) for k in (0, 1, 3, 4)]
    blocks = series(*readings).blocks()
    assert [(b.start, b.end, len(b.readings)) for b in blocks] == [
        (DAY, DAY + 2 * HALF_HOUR, 2),
        (DAY + 3 * HALF_HOUR, DAY + 5 * HALF_HOUR, 2),
    ]


def test_a_block_never_crosses_local_midnight() -> None:
    readings = [interval(DAY - HALF_HOUR), interval(DAY)]
    blocks = series(*readings).blocks()
    assert len(blocks) == 2
    assert shapes.local_text(blocks[0].end, AUCKLAND) == "2025-06-10T00:00:00"
    assert shapes.local_text(blocks[1].start, AUCKLAND) == "2025-06-10T00:00:00"


def test_serial_numbers_are_stable_per_meter() -> None:
    assert shapes.serial_number("m-1") == shapes.serial_number("m-1")
    assert shapes.serial_number("m-1") != shapes.serial_number("m-2")
    assert re.fullmatch(r"NS[0-9]{8}", shapes.serial_number("m-1"))


# ----------------------------------------------------------------------------------------------- JSON


def test_json_follows_the_canonical_shape() -> None:
    body = render_json([series(interval(DAY, "0.1"), interval(DAY + HALF_HOUR, None, 128))])
    document = json.loads(body)
    (element,) = document["meterReading"]
    assert element["usagePoint"] == {"mRID": "up-1"}
    assert element["meter"] == {"mRID": "m-1", "serialNumber": shapes.serial_number("m-1")}
    assert element["readingType"] == {"mRID": FORWARD_30MIN_KWH}
    (block,) = element["intervalBlockInts"]
    assert block["timePeriod"] == {
        "end": "2025-06-10T01:00:00",
        "endSpecified": True,
        "start": "2025-06-10T00:00:00",
        "startSpecified": True,
    }
    assert block["values"] == [0.1, None]
    assert block["qualities"] == [256, 128]
    assert element["readings"] == []


def test_json_values_are_written_with_three_decimals() -> None:
    body = render_json([series(interval(DAY, "0.100"), interval(DAY + HALF_HOUR, "12.345"))])
    assert b'"values":[0.100,12.345]' in body


def test_json_omits_the_meter_when_there_is_none() -> None:
    (element,) = json.loads(render_json([series(interval(DAY), meter=None)]))["meterReading"]
    assert "meter" not in element


def test_json_register_readings() -> None:
    first = midnight(date(2025, 6, 1), AUCKLAND)
    body = render_json([series(register(first, "12345.678"), reading_type=MONTHLY_REGISTER_KWH)])
    (element,) = json.loads(body)["meterReading"]
    assert element["intervalBlockInts"] == []
    (reading,) = element["readings"]
    assert reading["timeStamp"] == "2025-06-01T00:00:00"
    assert reading["value"] == "12345.678"
    assert reading["readingType"] == {"ref": MONTHLY_REGISTER_KWH}
    assert reading["reportedDateTime"] == "2025-06-01T00:00:00+12:00"
    assert reading["readingQualities"] == []


def test_json_extra_fields_add_unknown_keys_at_several_levels() -> None:
    plain = json.loads(render_json([series(interval(DAY))]))
    extra = json.loads(render_json([series(interval(DAY))], extra_fields=True))
    assert set(extra) - set(plain)
    assert set(extra["meterReading"][0]) - set(plain["meterReading"][0])
    assert set(extra["meterReading"][0]["intervalBlockInts"][0]) - set(
        plain["meterReading"][0]["intervalBlockInts"][0]
    )
    assert extra["meterReading"][0]["intervalBlockInts"][0]["values"] == [0.1]


# ----------------------------------------------------------------------------------------------- XML

NS = "{" + shapes.XML_NAMESPACE + "}"
XSI_NIL = "{" + shapes.XSI_NAMESPACE + "}nil"


def test_xml_follows_the_canonical_shape() -> None:
    body = render_xml([series(interval(DAY, "0.100"), interval(DAY + HALF_HOUR, None, 128))])
    root = fromstring(body)
    assert root.tag == NS + "MeterReadings2"
    element = root.find(NS + "MeterReading")
    assert element is not None
    assert element.findtext(f"{NS}UsagePoint/{NS}mRID") == "up-1"
    assert element.findtext(f"{NS}Meter/{NS}serialNumber") == shapes.serial_number("m-1")
    assert element.findtext(f"{NS}ReadingType/{NS}mRID") == FORWARD_30MIN_KWH
    block = element.find(NS + "IntervalBlockInts")
    assert block is not None
    assert block.findtext(f"{NS}timePeriod/{NS}start") == "2025-06-10T00:00:00"
    assert block.findtext(f"{NS}timePeriod/{NS}end") == "2025-06-10T01:00:00"
    doubles = block.findall(f"{NS}values/{NS}double")
    assert [d.text for d in doubles] == ["0.100", None]
    assert doubles[1].get(XSI_NIL) == "true"
    assert [i.text for i in block.findall(f"{NS}qualities/{NS}int")] == ["256", "128"]
    assert b"Specified" not in body


def test_xml_register_reading_type_is_a_reference_attribute() -> None:
    first = midnight(date(2025, 6, 1), AUCKLAND)
    root = fromstring(render_xml([series(register(first, "1.000"), reading_type=MONTHLY_REGISTER_KWH)]))
    reading = root.find(f"{NS}MeterReading/{NS}Readings")
    assert reading is not None
    assert reading.findtext(NS + "value") == "1.000"
    assert reading.findtext(NS + "timeStamp") == "2025-06-01T00:00:00"
    reference = reading.find(NS + "ReadingType")
    assert reference is not None
    assert reference.get("ref") == MONTHLY_REGISTER_KWH


def test_xml_extra_fields_add_foreign_elements() -> None:
    body = render_xml([series(interval(DAY))], extra_fields=True)
    root = fromstring(body)
    assert len(root.findall("{urn:example:netstream-extension}Extension")) == 1
    block = root.find(f"{NS}MeterReading/{NS}IntervalBlockInts")
    assert block is not None
    assert block.find("{urn:example:netstream-extension}Extension") is not None


def test_render_chooses_the_encoding() -> None:
    readings = [series(interval(DAY))]
    assert render(readings, WireFormat.JSON) == render_json(readings)
    assert render(readings, WireFormat.XML) == render_xml(readings)


@pytest.mark.parametrize("fmt", list(WireFormat))
def test_corrupt_bodies_do_not_parse(fmt: WireFormat) -> None:
    body = corrupt(render([series(interval(DAY))], fmt))
    with pytest.raises(ParseError, match=r".+"):
        parse_response(body, fmt, default_zone=AUCKLAND)


# ----------------------------------------------------------------------------------------------- requests

JSON_REQUEST = {
    "reading": [
        {
            "reason": "billing",
            "reasonSpecified": False,
            "timePeriod": {
                "end": "2025-03-02T00:00:00+11:00",
                "endSpecified": False,
                "start": "2025-03-01T00:00:00+11:00",
                "startSpecified": True,
            },
        }
    ],
    "readingQuality": [],
    "readingType": [{"mRID": FORWARD_30MIN_KWH}, {"mRID": MONTHLY_REGISTER_KWH}],
    "usagePoint": [{"mRID": "up-1"}],
    "usagePointGroup": [{"mRID": "g-1"}],
    "endDevice": [{"mRID": "m-1"}],
    "endDeviceGroup": [{"mRID": "mg-1"}],
}


def test_a_json_request_is_read_with_specified_flags_ignored() -> None:
    query = parse_query(json.dumps(JSON_REQUEST).encode(), WireFormat.JSON)
    assert isinstance(query, Query)
    assert query.reading_types == (FORWARD_30MIN_KWH, MONTHLY_REGISTER_KWH)
    assert query.targets == (
        Target(TargetKind.USAGE_POINT, "up-1"),
        Target(TargetKind.USAGE_POINT_GROUP, "g-1"),
        Target(TargetKind.METER, "m-1"),
        Target(TargetKind.METER_GROUP, "mg-1"),
    )
    assert query.window(AUCKLAND) == (
        datetime(2025, 2, 28, 13, tzinfo=UTC),
        datetime(2025, 3, 1, 13, tzinfo=UTC),
    )


def test_keys_match_case_insensitively_and_an_envelope_is_unwrapped() -> None:
    inner = {"Reading": {"TimePeriod": {"Start": "2025-03-01T00:00:00Z"}}, "ReadingType": [{"MRID": "rt"}]}
    inner["UsagePoint"] = [{"mrid": "up-1"}]
    body = json.dumps({"Header": {"Verb": "get"}, "Request": {"GetMeterReadings": inner}}).encode()
    query = parse_query(body, WireFormat.JSON)
    assert isinstance(query, Query)
    assert query.targets == (Target(TargetKind.USAGE_POINT, "up-1"),)


def test_offset_less_times_are_local_to_each_usage_point_and_end_defaults_to_end_of_day() -> None:
    request = {"reading": [{"timePeriod": {"start": "2025-06-10T00:00:00"}}], "readingType": [{"mRID": "rt"}]}
    request["usagePoint"] = [{"mRID": "up-1"}]
    query = parse_query(json.dumps(request).encode(), WireFormat.JSON)
    assert isinstance(query, Query)
    sydney = ZoneInfo("Australia/Sydney")
    assert query.window(AUCKLAND) == (
        midnight(date(2025, 6, 10), AUCKLAND),
        midnight(date(2025, 6, 11), AUCKLAND),
    )
    assert query.window(sydney) == (midnight(date(2025, 6, 10), sydney), midnight(date(2025, 6, 11), sydney))


def test_an_xml_request_is_read() -> None:
    body = (
        b'<GetMeterReadings xmlns="http://iec.ch/TC57/2011/GetMeterReadings#">'
        b"<EndDevice><mRID>m-1</mRID></EndDevice>"
        b"<Reading><timePeriod><end>2025-03-02T00:00:00+11:00</end><start>2025-03-01T00:00:00+11:00</start>"
        b"</timePeriod></Reading>"
        b"<ReadingType><mRID>a</mRID></ReadingType><ReadingType><mRID>b</mRID></ReadingType>"
        b"<UsagePoint><mRID>up-1</mRID></UsagePoint></GetMeterReadings>"
    )
    query = parse_query(body, WireFormat.XML)
    assert isinstance(query, Query)
    assert query.reading_types == ("a", "b")
    assert set(query.targets) == {Target(TargetKind.USAGE_POINT, "up-1"), Target(TargetKind.METER, "m-1")}
    assert query.end == "2025-03-02T00:00:00+11:00"


def _without(key: str) -> bytes:
    return json.dumps({k: v for k, v in JSON_REQUEST.items() if k != key}).encode()


def _with_period(period: dict[str, str]) -> bytes:
    return json.dumps({**JSON_REQUEST, "reading": [{"timePeriod": period}]}).encode()


@pytest.mark.parametrize(
    ("body", "fmt", "field"),
    [
        (b"{not json", WireFormat.JSON, "$"),
        (b"[1, 2]", WireFormat.JSON, "$"),
        (b"<GetMeterReadings><unclosed>", WireFormat.XML, "$"),
        (b"<Other/>", WireFormat.XML, "$"),
        (_without("reading"), WireFormat.JSON, "reading"),
        (_without("readingType"), WireFormat.JSON, "readingType"),
        (
            json.dumps({k: v for k, v in JSON_REQUEST.items() if k in ("reading", "readingType")}).encode(),
            WireFormat.JSON,
            "usagePoint",
        ),
        (_with_period({"end": "2025-03-02T00:00:00Z"}), WireFormat.JSON, "reading[0].timePeriod.start"),
        (
            _with_period({"start": "2025-03-02T00:00:00Z", "end": "2025-03-02T00:00:00Z"}),
            WireFormat.JSON,
            "reading[0].timePeriod",
        ),
        (_with_period({"start": "yesterday"}), WireFormat.JSON, "reading[0].timePeriod.start"),
    ],
)
def test_bad_requests_are_problems(body: bytes, fmt: WireFormat, field: str) -> None:
    problem = parse_query(body, fmt)
    assert isinstance(problem, Problem)
    assert problem.status == 400
    assert field in problem.errors
    document = json.loads(problem.body())
    assert document["status"] == 400
    assert document["title"]
    assert document["type"].startswith("https://")
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-00", document["traceId"])
    assert field in document["errors"]


def test_xml_entities_are_refused() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE GetMeterReadings [<!ENTITY x "up-1">]>'
        b"<GetMeterReadings><UsagePoint><mRID>&x;</mRID></UsagePoint></GetMeterReadings>"
    )
    problem = parse_query(body, WireFormat.XML)
    assert isinstance(problem, Problem)
    assert problem.status == 400


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/json", WireFormat.JSON),
        ("application/json; charset=utf-8", WireFormat.JSON),
        ("text/json", WireFormat.JSON),
        ("application/xml", WireFormat.XML),
        ("text/xml; charset=utf-8", WireFormat.XML),
        ("text/plain", None),
        (None, None),
    ],
)
def test_request_format_by_content_type(header: str | None, expected: WireFormat | None) -> None:
    assert request_format(header) is expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, WireFormat.JSON),
        ("*/*", WireFormat.JSON),
        ("application/xml", WireFormat.XML),
        ("application/json;q=0.5, application/xml", WireFormat.XML),
        ("text/html", None),
        ("application/xml;q=0", None),
    ],
)
def test_response_format_by_accept(header: str | None, expected: WireFormat | None) -> None:
    assert response_format(header) is expected


def test_offset_less_times_in_a_fixed_standard_zone() -> None:
    period = {"start": "2025-04-06T00:00:00", "end": "2025-04-06T06:00:00+12:00"}
    request: dict[str, Any] = {"reading": [{"timePeriod": period}], "readingType": [{"mRID": "rt"}]}
    request["usagePoint"] = [{"mRID": "up-1"}]
    query = parse_query(json.dumps(request).encode(), WireFormat.JSON)
    assert isinstance(query, Query)
    standard = timezone(timedelta(hours=12))
    assert query.window(standard) == (
        datetime(2025, 4, 5, 12, tzinfo=UTC),
        datetime(2025, 4, 5, 18, tzinfo=UTC),
    )
