"""GetMeterReadings request bodies: golden JSON and XML, element order, escaping, offsets, validation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import defusedxml.ElementTree as SafeET
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.errors import NetstreamRequestError
from publisher.netstream.model import ReadingsRequest, Target, TargetKind, WireFormat
from publisher.netstream.request import NAMESPACE, content_type, render_request

AUCKLAND = ZoneInfo("Pacific/Auckland")
KWH_30 = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
KWH_DAILY = "0.0.4.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
UP_A = "6f1c2a10-5b1e-4c2d-9a10-00000000000a"
UP_B = "6f1c2a10-5b1e-4c2d-9a10-00000000000b"
UP_GROUP = "3b9d0e55-7c41-4f7e-9d55-0000000000aa"
METER = "a7e0c1d2-0001-4e00-8000-0000000000c1"
METER_GROUP = "0c2f6a1e-33d0-4b8e-a1f2-0000000000bb"
NZDT_DAY_START = datetime(2025, 2, 28, 11, tzinfo=UTC)  # 2025-03-01 00:00 in Auckland (+13:00)
NZDT_DAY_END = datetime(2025, 3, 1, 11, tzinfo=UTC)

ALL_KINDS = ReadingsRequest(
    targets=(
        Target(TargetKind.USAGE_POINT, UP_A),
        Target(TargetKind.METER, METER),
        Target(TargetKind.USAGE_POINT_GROUP, UP_GROUP),
        Target(TargetKind.METER_GROUP, METER_GROUP),
        Target(TargetKind.USAGE_POINT, UP_B),
    ),
    reading_types=(KWH_30, KWH_DAILY),
    start=NZDT_DAY_START,
    end=NZDT_DAY_END,
)

GOLDEN_JSON = (
    b'{"endDevice":[{"mRID":"a7e0c1d2-0001-4e00-8000-0000000000c1"}],'
    b'"endDeviceGroup":[{"mRID":"0c2f6a1e-33d0-4b8e-a1f2-0000000000bb"}],'
    b'"reading":[{"timePeriod":{"end":"2025-03-02T00:00:00+13:00","endSpecified":true,'
    b'"start":"2025-03-01T00:00:00+13:00","startSpecified":true}}],'
    b'"readingType":[{"mRID":"0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"},'
    b'{"mRID":"0.0.4.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"}],'
    b'"usagePoint":[{"mRID":"6f1c2a10-5b1e-4c2d-9a10-00000000000a"},'
    b'{"mRID":"6f1c2a10-5b1e-4c2d-9a10-00000000000b"}],'
    b'"usagePointGroup":[{"mRID":"3b9d0e55-7c41-4f7e-9d55-0000000000aa"}]}'
)

GOLDEN_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<GetMeterReadings xmlns="http://iec.ch/TC57/2011/GetMeterReadings#">'
    b"<EndDevice><mRID>a7e0c1d2-0001-4e00-8000-0000000000c1</mRID></EndDevice>"
    b"<EndDeviceGroup><mRID>0c2f6a1e-33d0-4b8e-a1f2-0000000000bb</mRID></EndDeviceGroup>"
    b"<Reading><timePeriod><end>2025-03-02T00:00:00+13:00</end><start>2025-03-01T00:00:00+13:00</start>"
    b"</timePeriod></Reading>"
    b"<ReadingType><mRID>0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0</mRID></ReadingType>"
    b"<ReadingType><mRID>0.0.4.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0</mRID></ReadingType>"
    b"<UsagePoint><mRID>6f1c2a10-5b1e-4c2d-9a10-00000000000a</mRID></UsagePoint>"
    b"<UsagePoint><mRID>6f1c2a10-5b1e-4c2d-9a10-00000000000b</mRID></UsagePoint>"
    b"<UsagePointGroup><mRID>3b9d0e55-7c41-4f7e-9d55-0000000000aa</mRID></UsagePointGroup>"
    b"</GetMeterReadings>"
)


def request_for(
    *targets: Target, start: datetime = NZDT_DAY_START, end: datetime = NZDT_DAY_END
) -> ReadingsRequest:
    return ReadingsRequest(targets=targets, reading_types=(KWH_30,), start=start, end=end)


def local_name(tag: str) -> str:
    namespace, _, name = tag.partition("}")
    assert namespace == "{" + NAMESPACE
    return name


# ----------------------------------------------------------------------------------------------- JSON


def test_golden_json_with_all_four_target_kinds() -> None:
    body = render_request(ALL_KINDS, WireFormat.JSON, AUCKLAND)
    assert body == GOLDEN_JSON


def test_json_keys_follow_the_xsd_sequence() -> None:
    document = json.loads(render_request(ALL_KINDS, WireFormat.JSON, AUCKLAND))
    assert list(document) == [
        "endDevice",
        "endDeviceGroup",
        "reading",
        "readingType",
        "usagePoint",
        "usagePointGroup",
    ]
    assert list(document["reading"][0]["timePeriod"]) == ["end", "endSpecified", "start", "startSpecified"]


def test_json_omits_empty_target_kinds() -> None:
    document = json.loads(
        render_request(request_for(Target(TargetKind.USAGE_POINT, UP_A)), WireFormat.JSON, AUCKLAND)
    )
    assert document == {
        "reading": [
            {
                "timePeriod": {
                    "end": "2025-03-02T00:00:00+13:00",
                    "endSpecified": True,
                    "start": "2025-03-01T00:00:00+13:00",
                    "startSpecified": True,
                }
            }
        ],
        "readingType": [{"mRID": KWH_30}],
        "usagePoint": [{"mRID": UP_A}],
    }


def test_json_carries_non_ascii_mrids_as_utf8() -> None:
    body = render_request(
        request_for(Target(TargetKind.METER, "z\u00e4hler-\u2603")), WireFormat.JSON, AUCKLAND
    )
    assert "z\u00e4hler-\u2603".encode() in body
    assert json.loads(body)["endDevice"] == [{"mRID": "z\u00e4hler-\u2603"}]


# ----------------------------------------------------------------------------------------------- XML


def test_golden_xml_with_all_four_target_kinds() -> None:
    assert render_request(ALL_KINDS, WireFormat.XML, AUCKLAND) == GOLDEN_XML


def test_xml_children_follow_the_xsd_sequence_in_the_namespace() -> None:
    root = SafeET.fromstring(render_request(ALL_KINDS, WireFormat.XML, AUCKLAND))
    assert local_name(root.tag) == "GetMeterReadings"
    assert [local_name(child.tag) for child in root] == [
        "EndDevice",
        "EndDeviceGroup",
        "Reading",
        "ReadingType",
        "ReadingType",
        "UsagePoint",
        "UsagePoint",
        "UsagePointGroup",
    ]
    period = root.find(f"{{{NAMESPACE}}}Reading/{{{NAMESPACE}}}timePeriod")
    assert period is not None
    assert [local_name(child.tag) for child in period] == ["end", "start"]
    assert b"Specified" not in render_request(ALL_KINDS, WireFormat.XML, AUCKLAND)


@pytest.mark.parametrize(
    "mrid",
    [
        "a&b",
        "<evil/>",
        "</mRID></UsagePoint><UsagePoint><mRID>x",
        "]]>",
        "quote\"and'apos",
        "z\u00e4hler-\u2603",
        "&amp;",
    ],
)
def test_xml_escapes_odd_mrids(mrid: str) -> None:
    body = render_request(request_for(Target(TargetKind.USAGE_POINT, mrid)), WireFormat.XML, AUCKLAND)
    root = SafeET.fromstring(body)
    assert root.findtext(f"{{{NAMESPACE}}}UsagePoint/{{{NAMESPACE}}}mRID") == mrid
    assert len(root) == 3  # Reading, ReadingType, UsagePoint: nothing was injected


def test_xml_markup_in_an_mrid_is_escaped_not_emitted() -> None:
    body = render_request(request_for(Target(TargetKind.USAGE_POINT, "a&b<evil/>")), WireFormat.XML, AUCKLAND)
    assert b"<UsagePoint><mRID>a&amp;b&lt;evil/&gt;</mRID></UsagePoint>" in body


_XML_SAFE_TEXT = st.text(
    alphabet=st.characters(
        min_codepoint=0x20, exclude_categories=["Cs"], exclude_characters="\x7f\ufffe\uffff"
    ),
    min_size=1,
).filter(str.strip)


@settings(max_examples=50)
@given(_XML_SAFE_TEXT)
def test_any_printable_mrid_round_trips_through_xml(mrid: str) -> None:
    body = render_request(request_for(Target(TargetKind.METER_GROUP, mrid)), WireFormat.XML, AUCKLAND)
    assert SafeET.fromstring(body).findtext(f"{{{NAMESPACE}}}EndDeviceGroup/{{{NAMESPACE}}}mRID") == mrid


# ----------------------------------------------------------------------------------------------- offsets


def test_window_across_nz_dst_end_renders_nzdt_and_nzst_offsets() -> None:
    start = datetime(2025, 3, 31, 11, tzinfo=UTC)  # 2025-04-01 00:00 NZDT
    end = datetime(2025, 4, 9, 12, tzinfo=UTC)  # 2025-04-10 00:00 NZST
    request = request_for(Target(TargetKind.USAGE_POINT, UP_A), start=start, end=end)
    period = json.loads(render_request(request, WireFormat.JSON, AUCKLAND))["reading"][0]["timePeriod"]
    assert period["start"] == "2025-04-01T00:00:00+13:00"
    assert period["end"] == "2025-04-10T00:00:00+12:00"
    xml = render_request(request, WireFormat.XML, AUCKLAND)
    assert b"<end>2025-04-10T00:00:00+12:00</end><start>2025-04-01T00:00:00+13:00</start>" in xml


def test_window_given_in_another_offset_is_rendered_in_the_zone() -> None:
    start = datetime(2025, 7, 1, 0, tzinfo=timezone(timedelta(hours=10)))  # Sydney winter midnight
    request = request_for(Target(TargetKind.USAGE_POINT, UP_A), start=start, end=start + timedelta(days=1))
    period = json.loads(render_request(request, WireFormat.JSON, AUCKLAND))["reading"][0]["timePeriod"]
    assert period["start"] == "2025-07-01T02:00:00+12:00"
    assert period["end"] == "2025-07-02T02:00:00+12:00"


# ----------------------------------------------------------------------------------------------- validation


def test_reading_type_codes_are_sent_without_surrounding_space() -> None:
    request = ReadingsRequest(
        targets=(Target(TargetKind.USAGE_POINT, UP_A),),
        reading_types=(f" {KWH_30}\n",),
        start=NZDT_DAY_START,
        end=NZDT_DAY_END,
    )
    assert json.loads(render_request(request, WireFormat.JSON, AUCKLAND))["readingType"] == [{"mRID": KWH_30}]


_NAIVE = datetime(2025, 3, 1, tzinfo=UTC).replace(tzinfo=None)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (ReadingsRequest((), (KWH_30,), NZDT_DAY_START, NZDT_DAY_END), "names no target"),
        (
            ReadingsRequest((Target(TargetKind.USAGE_POINT, UP_A),), (), NZDT_DAY_START, NZDT_DAY_END),
            "no reading type",
        ),
        (request_for(Target(TargetKind.USAGE_POINT, UP_A), start=_NAIVE), "start .* has no time zone"),
        (request_for(Target(TargetKind.USAGE_POINT, UP_A), end=_NAIVE), "end .* has no time zone"),
        (request_for(Target(TargetKind.USAGE_POINT, UP_A), end=NZDT_DAY_START), "window is empty"),
        (request_for(Target(TargetKind.USAGE_POINT, UP_A), start=NZDT_DAY_END), "window is empty"),
        (
            ReadingsRequest(
                (Target(TargetKind.USAGE_POINT, UP_A),), ("0.0.5.4",), NZDT_DAY_START, NZDT_DAY_END
            ),
            "bad reading type: malformed reading type '0.0.5.4'",
        ),
        (request_for(Target(TargetKind.METER, "")), "meter mRID '' is empty"),
        (request_for(Target(TargetKind.METER, "   ")), "is empty or holds control characters"),
        (request_for(Target(TargetKind.USAGE_POINT_GROUP, "a\x00b")), "usage_point_group mRID"),
        (request_for(Target(TargetKind.USAGE_POINT, "line\nbreak")), "control characters"),
        (request_for(Target(TargetKind.USAGE_POINT, "del\x7f")), "control characters"),
        (request_for(Target(TargetKind.USAGE_POINT, "non\ufffechar")), "control characters"),
    ],
)
@pytest.mark.parametrize("fmt", list(WireFormat))
def test_invalid_requests_raise_netstream_request_error(
    request_: ReadingsRequest, message: str, fmt: WireFormat
) -> None:
    with pytest.raises(NetstreamRequestError, match=message) as caught:
        render_request(request_, fmt, AUCKLAND)
    assert "\n" not in caught.value.message
    assert caught.value.exit_code == 5


def test_bad_reading_type_keeps_the_parse_error_as_cause() -> None:
    request = ReadingsRequest((Target(TargetKind.USAGE_POINT, UP_A),), ("x",), NZDT_DAY_START, NZDT_DAY_END)
    with pytest.raises(NetstreamRequestError) as caught:
        render_request(request, WireFormat.JSON, AUCKLAND)
    assert caught.value.__cause__ is not None


def test_content_types() -> None:
    assert content_type(WireFormat.JSON) == "application/json"
    assert content_type(WireFormat.XML) == "application/xml"
