"""Inputs for property-based tests of the response parser, and the invariants every parse keeps.

Shared by the quick fuzzers in ``tests/unit/test_parser_fuzz.py`` and the full-size bad-input scenario in
``tests/integration/reliability/test_bad_input.py``: arbitrary JSON values and XML trees built from the
names the parser looks for, near-valid documents whose every member is plausible or arbitrary, and
:func:`parse_or_parse_error`, which accepts readings that keep the invariants or a well-formed ParseError.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from publisher.errors import ParseError
from publisher.netstream.model import ReadingKind, WireFormat
from publisher.netstream.parse_fragment import FRAGMENT_LIMIT
from publisher.netstream.parser import DEFAULT_MAX_BYTES, ParsedResponse, parse_response

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


def parse_or_parse_error(
    body: bytes, fmt: WireFormat, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> ParsedResponse | ParseError:
    """The parse of ``body`` (checked with :func:`check_result`) or its well-formed ParseError.

    Any other exception propagates: that is a crash, which is what the callers look for."""
    error: ParseError | None = None
    try:
        result = parse_response(body, fmt, default_zone=NZ, max_bytes=max_bytes)
    except ParseError as exc:
        error = exc
    if error is None:
        check_result(result)
        return result
    assert error.message
    assert "\n" not in error.message
    assert len(error.fragment.encode()) <= FRAGMENT_LIMIT
    return error


KEYS = st.sampled_from(
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
TEXTS = st.sampled_from(
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
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12)
    | TEXTS
)
JSON_VALUES = st.recursive(
    LEAVES,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(KEYS | st.text(max_size=6), children, max_size=6)
    ),
    max_leaves=40,
)


def element(name: str, content: str) -> str:
    return f"<{name}>{content}</{name}>"


XML_NAMES = st.sampled_from(
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
XML_TEXT = (
    TEXTS | st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8)
).map(lambda text: text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
XML_TREES = st.recursive(
    XML_TEXT,
    lambda children: (
        st.builds(element, XML_NAMES, st.lists(children, max_size=5).map("".join))
        | st.builds(lambda name: f'<{name} xsi:nil="true"/>', XML_NAMES)
        | st.builds(lambda name, text: f'<{name} ref="{text}" mRID="{text}"/>', XML_NAMES, TEXTS)
    ),
    max_leaves=40,
)


TIMES = st.sampled_from(
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
RTS = st.sampled_from(
    [RT30, RT_REGISTER, "0.0.4.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0", "0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0"]
)
NUMBERS = (
    st.integers(-(10**20), 10**20) | st.floats() | st.sampled_from(["0.125", "1e3", " 7 ", "-0", "NaN", "x"])
)
FLAGS = st.integers(-2, 70_000) | st.sampled_from(["256", "128", "x"])
QUALITIES = st.lists(
    st.fixed_dictionaries(
        {"readingQualityType": st.fixed_dictionaries({"ref": st.sampled_from(["1.4.2", "3.8.0", "x"])})}
    ),
    max_size=2,
)


def mostly(valid: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``valid`` three times out of four, ``other`` otherwise."""
    return st.integers(0, 3).flatmap(lambda pick: other if pick == 0 else valid)


VALUE = mostly(
    st.none() | NUMBERS,
    st.fixed_dictionaries({"value": st.none() | NUMBERS}, optional={"quality": FLAGS}) | LEAVES,
)
PERIOD = mostly(
    st.fixed_dictionaries({"start": TIMES}, optional={"end": TIMES}),
    st.fixed_dictionaries({}, optional={"start": LEAVES, "end": TIMES | LEAVES}) | JSON_VALUES,
)
READING = st.fixed_dictionaries(
    {"timeStamp": mostly(TIMES, LEAVES), "value": mostly(st.none() | NUMBERS, JSON_VALUES)},
    optional={
        "timePeriod": PERIOD,
        "readingType": st.fixed_dictionaries({"ref": RTS}),
        "readingQualities": mostly(QUALITIES, JSON_VALUES),
        "reportedDateTime": mostly(TIMES, LEAVES),
        "flags": FLAGS,
    },
)
BLOCK = st.fixed_dictionaries(
    {"timePeriod": PERIOD, "values": mostly(st.lists(VALUE, max_size=52), JSON_VALUES)},
    optional={
        "usagePoint": mostly(st.just({"mRID": "block-up"}), JSON_VALUES),
        "readingType": mostly(st.fixed_dictionaries({"mRID": RTS}), JSON_VALUES),
        "qualities": st.lists(st.none() | FLAGS, max_size=52),
        "reportedDateTime": mostly(TIMES, LEAVES),
        "intervalReadings": st.lists(READING, max_size=6),
    },
)
METER_READING = st.fixed_dictionaries(
    {"usagePoint": st.just({"mRID": UP}), "readingType": st.fixed_dictionaries({"mRID": RTS})},
    optional={
        "intervalBlockInts": st.lists(BLOCK, max_size=3),
        "intervalBlocks": st.lists(BLOCK, max_size=2),
        "readings": st.lists(READING, max_size=3),
    },
)


def to_xml(name: str, value: object) -> str:
    """A decoded-JSON-like value as XmlSerializer-style XML (arrays of simple values get a wrapper)."""
    if value is None:
        return f'<{name} xsi:nil="true"/>'
    if isinstance(value, dict):
        return f"<{name}>" + "".join(to_xml(key, item) for key, item in value.items()) + f"</{name}>"
    if isinstance(value, list):
        if name in {"values", "qualities"}:
            return f"<{name}>" + "".join(to_xml("double", item) for item in value) + f"</{name}>"
        return "".join(to_xml(name, item) for item in value)
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<{name}>{text}</{name}>"
