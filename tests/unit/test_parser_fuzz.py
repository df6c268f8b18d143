"""Property-based fuzzing: whatever the bytes, parse_response returns readings or raises ParseError.

Every successful parse is also checked against invariants that hold for any input: aware UTC times,
intervals that start before they end, plausible exact values, 16-bit flags, bounded one-line rejections.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from publisher.errors import ParseError
from publisher.netstream.model import ReadingKind, WireFormat
from publisher.netstream.parse_fragment import FRAGMENT_LIMIT
from publisher.netstream.parser import ParsedResponse, parse_response

NZ = ZoneInfo("Pacific/Auckland")
RT30 = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
RT_REGISTER = "13.0.0.1.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
UP = "6f1c2a10-5b1e-4c2d-9a10-00000000000a"

JSON_DOC = f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "readingType": {{"mRID": "{RT30}"}},
  "intervalBlockInts": [{{"timePeriod": {{"end": "2025-03-01T02:00:00", "start": "2025-03-01T00:00:00"}},
                         "values": [0.5, null, "0.25", 1], "qualities": [256, 128, 256, 256]}}],
  "readings": [{{"timeStamp": "2025-03-01T00:00:00", "value": "10.5",
                 "readingType": {{"ref": "{RT_REGISTER}"}}}}]}}]}}"""

XML_DOC = f"""<?xml version="1.0" encoding="utf-8"?>
<MeterReadings2 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><MeterReading>
  <IntervalBlockInts><timePeriod><end>2025-03-01T02:00:00</end><start>2025-03-01T00:00:00</start></timePeriod>
    <values><double>0.5</double><double xsi:nil="true"/><double>0.25</double><double>1</double></values>
    <qualities><int>256</int><int>128</int><int>256</int><int>256</int></qualities></IntervalBlockInts>
  <Readings><timeStamp>2025-03-01T00:00:00</timeStamp><value>10.5</value>
    <ReadingType ref="{RT_REGISTER}"/></Readings>
  <ReadingType><mRID>{RT30}</mRID></ReadingType><UsagePoint><mRID>{UP}</mRID></UsagePoint>
</MeterReading></MeterReadings2>
"""


def check_result(result: ParsedResponse) -> None:
    """Invariants every successful parse keeps, whatever the input."""
    for reading in result.readings:
        assert reading.end.utcoffset() is not None
        assert reading.end.utcoffset().total_seconds() == 0  # type: ignore[union-attr]  # checked above
        if reading.kind is ReadingKind.INTERVAL:
            assert reading.start is not None
            assert reading.start < reading.end
        if reading.value is not None:
            assert reading.value.is_finite()
            assert len(reading.value.as_tuple().digits) <= 30
            assert abs(reading.value) < Decimal("1e15")
        assert reading.quality is None or 0 <= reading.quality <= 0xFFFF
        assert reading.usage_point.strip() == reading.usage_point
        assert reading.usage_point
        reading.usage_point.encode("utf-8")  # never a lone surrogate
    for rejected in result.rejected:
        assert "\n" not in rejected.reason
        assert rejected.reason
        assert len(rejected.fragment.encode()) <= FRAGMENT_LIMIT


def parse_or_parse_error(body: bytes, fmt: WireFormat) -> None:
    error: ParseError | None = None
    try:
        result = parse_response(body, fmt, default_zone=NZ)
    except ParseError as exc:
        error = exc
    if error is None:
        check_result(result)
        return
    assert error.message
    assert "\n" not in error.message
    assert len(error.fragment.encode()) <= FRAGMENT_LIMIT


def test_every_prefix_of_a_document_is_either_parsed_or_a_parse_error() -> None:
    for fmt, doc in ((WireFormat.JSON, JSON_DOC), (WireFormat.XML, XML_DOC)):
        body = doc.encode()
        for cut in range(len(body)):
            parse_or_parse_error(body[:cut], fmt)


_KEYS = st.sampled_from(
    [
        "meterReading",
        "MeterReading",
        "intervalBlockInts",
        "IntervalBlocks",
        "intervalReadings",
        "readings",
        "values",
        "qualities",
        "qualityFlags",
        "timePeriod",
        "start",
        "end",
        "timeStamp",
        "value",
        "usagePoint",
        "meter",
        "readingType",
        "mRID",
        "ref",
        "readingQualities",
        "readingQualityType",
        "reportedDateTime",
        "payload",
        "startSpecified",
    ]
)
_TEXTS = st.sampled_from(
    [
        RT30,
        RT_REGISTER,
        "0.0.4.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0",
        UP,
        "2025-03-01T00:00:00",
        "2025-04-06T02:30:00",
        "2025-09-28T02:30:00",
        "2025-03-01T00:00:00Z",
        "256",
        "0.5",
        "NaN",
        "1.4.2",
        "",
    ]
)
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12)
    | _TEXTS
)
_JSON = st.recursive(
    _LEAVES,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(_KEYS | st.text(max_size=6), children, max_size=6)
    ),
    max_leaves=40,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=_JSON)
def test_fuzz_arbitrary_json_values_only_ever_raise_parse_error(document: object) -> None:
    parse_or_parse_error(json.dumps(document).encode(), WireFormat.JSON)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inner=st.dictionaries(_KEYS, _JSON, max_size=6), wrap=st.booleans())
def test_fuzz_json_objects_under_a_meter_reading(inner: dict[str, object], wrap: bool) -> None:
    document: dict[str, object] = {"meterReading": [inner]}
    parse_or_parse_error(json.dumps({"payload": document} if wrap else document).encode(), WireFormat.JSON)


def _element(name: str, content: str) -> str:
    return f"<{name}>{content}</{name}>"


_NAMES = st.sampled_from(
    [
        "MeterReading",
        "IntervalBlockInts",
        "IntervalBlocks",
        "IntervalReadings",
        "Readings",
        "values",
        "double",
        "qualities",
        "int",
        "timePeriod",
        "start",
        "end",
        "timeStamp",
        "value",
        "UsagePoint",
        "Meter",
        "ReadingType",
        "mRID",
        "ReadingQualities",
        "ReadingQualityType",
        "reportedDateTime",
        "Payload",
        "x",
    ]
)
_XML_TEXT = (
    _TEXTS | st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8)
).map(lambda text: text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
_XML = st.recursive(
    _XML_TEXT,
    lambda children: (
        st.builds(_element, _NAMES, st.lists(children, max_size=5).map("".join))
        | st.builds(lambda name: f'<{name} xsi:nil="true"/>', _NAMES)
        | st.builds(lambda name, text: f'<{name} ref="{text}" mRID="{text}"/>', _NAMES, _TEXTS)
    ),
    max_leaves=40,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=_XML, root=st.sampled_from(["MeterReadings2", "m:MeterReadings2", "Payload"]))
def test_fuzz_arbitrary_xml_trees_only_ever_raise_parse_error(content: str, root: str) -> None:
    doc = (
        f'<{root} xmlns:m="urn:m" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<MeterReading>{content}</MeterReading></{root}>"
    )
    parse_or_parse_error(doc.encode(), WireFormat.XML)


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=512), fmt=st.sampled_from(list(WireFormat)))
def test_fuzz_arbitrary_bytes_only_ever_raise_parse_error(body: bytes, fmt: WireFormat) -> None:
    parse_or_parse_error(body, fmt)


@settings(max_examples=100, deadline=None)
@given(
    fmt=st.sampled_from(list(WireFormat)),
    position=st.floats(min_value=0, max_value=1),
    junk=st.binary(min_size=1, max_size=8),
    replace=st.booleans(),
)
def test_fuzz_corrupted_documents_only_ever_raise_parse_error(
    fmt: WireFormat, position: float, junk: bytes, replace: bool
) -> None:
    body = (JSON_DOC if fmt is WireFormat.JSON else XML_DOC).encode()
    at = int(position * len(body))
    corrupted = body[:at] + junk + body[at + (len(junk) if replace else 0) :]
    parse_or_parse_error(corrupted, fmt)


# Near-valid documents: every member is either plausible or arbitrary, so the fuzzer reaches the value,
# quality and time code (not only the decoders) and checks the readings it does produce.

_TIMES = st.sampled_from(
    [
        "2025-03-01T00:00:00",
        "2025-03-02T00:00:00",
        "2025-04-06T00:00:00",
        "2025-04-06T02:00:00",
        "2025-04-06T02:30:00",
        "2025-04-07T00:00:00",
        "2025-09-28T00:00:00",
        "2025-09-28T02:30:00",
        "2025-09-29T00:00:00",
        "2025-03-01T00:00:00+13:00",
        "2025-03-01T00:00:00Z",
        "9999-12-31T23:30:00",
        "0001-01-01T00:00:00",
        "2025-03-01T00:00:00.1234567",
    ]
)
_RTS = st.sampled_from(
    [RT30, RT_REGISTER, "0.0.4.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0", "0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0"]
)
_NUMBERS = (
    st.integers(-(10**20), 10**20) | st.floats() | st.sampled_from(["0.125", "1e3", " 7 ", "-0", "NaN", "x"])
)
_FLAGS = st.integers(-2, 70_000) | st.sampled_from(["256", "128", "x"])
_QUALITIES = st.lists(
    st.fixed_dictionaries(
        {"readingQualityType": st.fixed_dictionaries({"ref": st.sampled_from(["1.4.2", "3.8.0", "x"])})}
    ),
    max_size=2,
)


def _mostly(valid: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``valid`` three times out of four, ``other`` otherwise."""
    return st.integers(0, 3).flatmap(lambda pick: other if pick == 0 else valid)


_VALUE = _mostly(
    st.none() | _NUMBERS,
    st.fixed_dictionaries({"value": st.none() | _NUMBERS}, optional={"quality": _FLAGS}) | _LEAVES,
)
_PERIOD = _mostly(
    st.fixed_dictionaries({"start": _TIMES}, optional={"end": _TIMES}),
    st.fixed_dictionaries({}, optional={"start": _LEAVES, "end": _TIMES | _LEAVES}) | _JSON,
)
_READING = st.fixed_dictionaries(
    {"timeStamp": _mostly(_TIMES, _LEAVES), "value": _mostly(st.none() | _NUMBERS, _JSON)},
    optional={
        "timePeriod": _PERIOD,
        "readingType": st.fixed_dictionaries({"ref": _RTS}),
        "readingQualities": _mostly(_QUALITIES, _JSON),
        "reportedDateTime": _mostly(_TIMES, _LEAVES),
        "flags": _FLAGS,
    },
)
_BLOCK = st.fixed_dictionaries(
    {"timePeriod": _PERIOD, "values": _mostly(st.lists(_VALUE, max_size=52), _JSON)},
    optional={
        "usagePoint": _mostly(st.just({"mRID": "block-up"}), _JSON),
        "readingType": _mostly(st.fixed_dictionaries({"mRID": _RTS}), _JSON),
        "qualities": st.lists(st.none() | _FLAGS, max_size=52),
        "reportedDateTime": _mostly(_TIMES, _LEAVES),
        "intervalReadings": st.lists(_READING, max_size=6),
    },
)
_METER_READING = st.fixed_dictionaries(
    {"usagePoint": st.just({"mRID": UP}), "readingType": st.fixed_dictionaries({"mRID": _RTS})},
    optional={
        "intervalBlockInts": st.lists(_BLOCK, max_size=3),
        "intervalBlocks": st.lists(_BLOCK, max_size=2),
        "readings": st.lists(_READING, max_size=3),
    },
)


def _to_xml(name: str, value: object) -> str:
    """A decoded-JSON-like value as XmlSerializer-style XML (arrays of simple values get a wrapper)."""
    if value is None:
        return f'<{name} xsi:nil="true"/>'
    if isinstance(value, dict):
        return f"<{name}>" + "".join(_to_xml(key, item) for key, item in value.items()) + f"</{name}>"
    if isinstance(value, list):
        if name in {"values", "qualities"}:
            return f"<{name}>" + "".join(_to_xml("double", item) for item in value) + f"</{name}>"
        return "".join(_to_xml(name, item) for item in value)
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<{name}>{text}</{name}>"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(meter_readings=st.lists(_METER_READING, min_size=1, max_size=2))
def test_fuzz_near_valid_documents_in_both_formats(meter_readings: list[dict[str, object]]) -> None:
    parse_or_parse_error(json.dumps({"meterReading": meter_readings}).encode(), WireFormat.JSON)
    body = "".join(_to_xml("MeterReading", item) for item in meter_readings)
    xml = f'<MeterReadings2 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{body}</MeterReadings2>'
    parse_or_parse_error(xml.encode("utf-8", "surrogatepass"), WireFormat.XML)
