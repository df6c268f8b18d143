"""Per-element problems: each becomes a Rejected entry with its reason and fragment; the rest is kept."""

from __future__ import annotations

import json
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from publisher.netstream.model import ReadingKind, WireFormat
from publisher.netstream.parse_fragment import FRAGMENT_LIMIT
from publisher.netstream.parser import ParsedResponse, parse_response

NZ = ZoneInfo("Pacific/Auckland")
RT30 = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
RT_REGISTER = "13.0.0.1.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
UP = "6f1c2a10-5b1e-4c2d-9a10-00000000000a"


def parse(body: str, fmt: WireFormat = WireFormat.JSON, *, max_bytes: int = 1 << 20) -> ParsedResponse:
    return parse_response(body.encode(), fmt, default_zone=NZ, max_bytes=max_bytes)


def block(values: str, extra: str = "") -> str:
    return f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "readingType": {{"mRID": "{RT30}"}},
      "intervalBlockInts": [{{"timePeriod": {{"start": "2025-03-01T00:00:00"}},
                              "values": {values}{extra}}}]}}]}}"""


def assert_well_formed(result: ParsedResponse) -> None:
    for rejected in result.rejected:
        assert rejected.reason
        assert "\n" not in rejected.reason
        assert len(rejected.fragment.encode()) <= FRAGMENT_LIMIT


def test_values_that_are_not_readings_are_rejected_one_by_one() -> None:
    values = (
        "[1, NaN, Infinity, -Infinity, 1e400, 123456789012345678901234567890123, 1e15, -2e20, 1e-400, 2, "
        '"NaN", "Infinity", "1e400", "0x10", "1_000", "", "12abc", true, false, [1], {"value": {"x": 1}}, '
        '{"value": "sNaN"}, "' + "0" * 120 + '", 3]'
    )
    result = parse(block(values))
    assert [r.value for r in result.readings] == [Decimal(1), Decimal(2), Decimal(3)]
    assert len(result.rejected) == 21
    assert all((r.usage_point, r.reading_type) == (UP, RT30) for r in result.rejected)
    fragments = [r.fragment for r in result.rejected]
    assert fragments[:4] == ["NaN", "Infinity", "-Infinity", "1e400"]  # the number as written
    assert '"0x10"' in fragments
    assert "true" in fragments
    reasons = " | ".join(r.reason for r in result.rejected)
    phrases = (
        "not a finite number",
        "1e15 or more",
        "significant digits",
        "decimal places",
        "boolean",
        "too long",
    )
    for phrase in phrases:
        assert phrase in reasons
    assert_well_formed(result)


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        (block('"0.1, 0.2"'), "values is a string, expected an array"),
        (block("{}"), "values is an object, expected an array"),
        (
            block("[1]").replace('{"start": "2025-03-01T00:00:00"}', '[{"start": "2025-03-01T00:00:00"}]'),
            "timePeriod is an array, expected an object",
        ),
        (block("[1]").replace('{"start": "2025-03-01T00:00:00"}', "{}"), "no timePeriod.start"),
        (block("[1]").replace('"2025-03-01T00:00:00"', '"yesterday"'), "not an ISO 8601"),
        (block("[1]").replace('"2025-03-01T00:00:00"', "20250301"), "start is a number, expected a string"),
        (block("[1]").replace('"2025-03-01T00:00:00"', '"2025-09-28T02:30:00"'), "does not exist"),
        (block("[1]").replace(f'"mRID": "{UP}"', '"mRID": {"id": 1}'), "mRID is an object"),
        (block("[1]").replace(f'"mRID": "{UP}"', '"mRID": 42'), "usagePoint mRID is a number"),
        (block("[1]").replace(f'{{"usagePoint": {{"mRID": "{UP}"}}, ', "{"), "no usage point mRID"),
        (
            block("[1]").replace(f'"readingType": {{"mRID": "{RT30}"}}', '"readingType": null'),
            "no reading type",
        ),
        (block("[1]").replace(RT30, "0.0.5.4.x"), "malformed reading type"),
        (
            block("[1]").replace(RT30, "0.0.0.1.1.1.12.0.0.0.0.0.0.0.224.3.72.0"),
            "neither a fixed interval nor a calendar period",
        ),
        (block("[1, 2]", ', "qualities": [256]'), "qualities has 1 entries for 2 values"),
        (block("[1]", ', "reportedDateTime": "soon"'), "not an ISO 8601"),
    ],
)
def test_broken_blocks_are_rejected_and_the_rest_is_kept(doc: str, reason: str) -> None:
    good = f"""{{"usagePoint": {{"mRID": "good-up"}}, "readingType": {{"mRID": "{RT30}"}},
      "intervalBlockInts": [{{"timePeriod": {{"start": "2025-03-01T00:00:00"}}, "values": [7]}}]}}"""
    document = json.loads(doc)
    document["meterReading"].append(json.loads(good))
    result = parse(json.dumps(document))
    assert [(r.usage_point, r.value) for r in result.readings] == [("good-up", Decimal(7))]
    (rejected,) = result.rejected
    assert reason in rejected.reason
    assert rejected.fragment.startswith("{")
    assert_well_formed(result)


def test_wrongly_typed_entries_of_block_and_reading_arrays_are_rejected() -> None:
    doc = f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "readingType": {{"mRID": "{RT30}"}},
      "intervalBlockInts": [17, "block", [{{"nested": true}}],
                            {{"timePeriod": {{"start": "2025-03-01T00:00:00"}}, "values": [1]}}],
      "readings": [false, {{"value": "1"}}, {{"timeStamp": "2025-03-01T00:00:00", "value": "2",
                   "readingType": {{"ref": "{RT_REGISTER}"}}}}]}},
      {{"usagePoint": {{"mRID": "{UP}"}}, "readingType": {{"mRID": "{RT30}"}}, "intervalBlockInts": 5}}]}}"""
    result = parse(doc)
    assert [(r.kind, r.value) for r in result.readings] == [
        (ReadingKind.INTERVAL, Decimal(1)),
        (ReadingKind.REGISTER, Decimal(2)),
    ]
    reasons = [r.reason for r in result.rejected]
    assert reasons == [
        "intervalBlockInts entry is not an object; each interval block must be an object",
        "intervalBlockInts entry is not an object; each interval block must be an object",
        "intervalBlockInts entry is not an object; each interval block must be an object",
        "readings entry is not an object; each register reading must be an object",
        "register reading has no timeStamp; cannot place it in time",
        "intervalBlockInts entry is not an object; each interval block must be an object",
    ]
    assert [r.fragment for r in result.rejected][:3] == ["17", '"block"', '[{"nested":true}]']


def test_quality_flags_that_are_not_16_bit_integers_reject_their_value() -> None:
    result = parse(block("[1, 2, 3, 4, 5, 6]", ', "qualities": [256, 70000, -1, 1.5, "abc", true]'))
    assert [(r.value, r.quality) for r in result.readings] == [(Decimal(1), 256)]
    assert len(result.rejected) == 5
    assert all("quality flags" in r.reason for r in result.rejected)


def test_bad_reading_quality_refs_reject_the_reading() -> None:
    doc = f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "readings": [
      {{"timeStamp": "2025-03-01T00:00:00", "value": "1", "readingType": {{"ref": "{RT_REGISTER}"}},
        "readingQualities": [{{"readingQualityType": {{"ref": "not.a.code"}}}}]}},
      {{"timeStamp": "2025-03-01T00:00:00", "value": "2", "readingType": {{"ref": "{RT_REGISTER}"}},
        "readingQualities": [{{"readingQualityType": {{"ref": "3.7.0"}}}}]}}]}}]}}"""
    result = parse(doc)
    assert [(r.value, r.quality_codes) for r in result.readings] == [(Decimal(2), ("3.7.0",))]
    (rejected,) = result.rejected
    assert "system.category.sub" in rejected.reason
    assert (rejected.usage_point, rejected.reading_type) == (UP, RT_REGISTER)


def test_interval_readings_with_inconsistent_times_are_rejected() -> None:
    doc = f"""{{"meterReading": [{{"usagePoint": {{"mRID": "{UP}"}}, "intervalBlocks": [{{
      "readingType": {{"ref": "{RT30}"}}, "intervalReadings": [
        {{"timeStamp": "2025-03-01T01:00:00", "value": 1, "timePeriod": {{"start": "2025-03-01T02:00:00"}}}},
        {{"value": 2}}, 3,
        {{"timeStamp": "2025-03-01T01:30:00", "value": 4}}]}}]}}]}}"""
    result = parse(doc)
    assert [r.value for r in result.readings] == [Decimal(4)]
    assert [r.reason.split(":")[0] for r in result.rejected] == [
        "interval reading 0",
        "interval reading 1",
        "interval reading 2",
    ]


def test_rejected_fragments_are_bounded() -> None:
    huge = "[" + ", ".join(["0.123"] * 40_000) + "]"
    doc = f"""{{"meterReading": [{{"readingType": {{"mRID": "{RT30}"}},
      "intervalBlockInts": [{{"timePeriod": {{"start": "2025-03-01T00:00:00"}}, "values": {huge}}}]}}]}}"""
    (rejected,) = parse(doc, max_bytes=10 << 20).rejected
    assert "no usage point" in rejected.reason
    assert len(rejected.fragment) == FRAGMENT_LIMIT
    assert rejected.fragment.endswith("...[truncated]")
    xml_values = "".join(["<double>0.123</double>"] * 40_000)
    xml = f"""<MeterReadings2><MeterReading><ReadingType><mRID>{RT30}</mRID></ReadingType>
      <IntervalBlockInts><timePeriod><start>2025-03-01T00:00:00</start></timePeriod>
      <values>{xml_values}</values></IntervalBlockInts></MeterReading></MeterReadings2>"""
    (rejected,) = parse(xml, WireFormat.XML, max_bytes=10 << 20).rejected
    assert len(rejected.fragment) == FRAGMENT_LIMIT
    assert rejected.fragment.startswith("<IntervalBlockInts><timePeriod>")
    # element names cannot be escaped, so a fragment may hold non-ASCII names: the bound is in bytes
    wide = xml.replace("<double>0.123</double>", "<Größe>0.123</Größe>")
    (rejected,) = parse(wide, WireFormat.XML, max_bytes=10 << 20).rejected
    assert FRAGMENT_LIMIT - 4 <= len(rejected.fragment.encode()) <= FRAGMENT_LIMIT
    assert "<Größe>0.123</Größe>" in rejected.fragment


def test_identifiers_that_are_not_unicode_text_are_rejected() -> None:
    doc = block("[1]").replace(UP, "\\ud800-broken")
    (rejected,) = parse(doc).rejected
    assert "not valid Unicode" in rejected.reason
    assert rejected.fragment.isascii()
