"""XML GetMeterReadings responses: the canonical §8.2 XmlSerializer shape and its tolerance variants."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
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
METER = "a7e0c1d2-0001-4e00-8000-0000000000a1"
XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


def parse(text: str, zone_for: Callable[[str], ZoneInfo | None] | None = None) -> ParsedResponse:
    return parse_response(text.encode(), WireFormat.XML, default_zone=NZ, zone_for=zone_for)


def parse_json(text: str) -> ParsedResponse:
    return parse_response(text.encode(), WireFormat.JSON, default_zone=NZ)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def start_of(reading: Reading) -> datetime:
    assert reading.start is not None
    return reading.start


CANONICAL = f"""<?xml version="1.0" encoding="utf-8"?>
<MeterReadings2 xmlns="http://iec.ch/TC57/2011/MeterReadings#" {XSI}
                xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <MeterReading>
    <IntervalBlockInts>
      <timePeriod><end>2025-03-01T02:00:00</end><start>2025-03-01T00:00:00</start></timePeriod>
      <values>
        <double>0.123</double><double>0.118</double><double xsi:nil="true"/><double>0.1</double>
      </values>
      <qualities><int>256</int><int>256</int><int>128</int><int>8448</int></qualities>
    </IntervalBlockInts>
    <Meter><mRID>{METER}</mRID><serialNumber>NS-0001</serialNumber></Meter>
    <Readings>
      <reason>billing</reason>
      <reportedDateTime>2025-03-01T03:15:00</reportedDateTime>
      <timeStamp>2025-03-01T00:00:00</timeStamp>
      <value>12345.678</value>
      <ReadingQualities><ReadingQualityType ref="3.8.0"/></ReadingQualities>
      <ReadingType ref="{RT_REGISTER}"/>
      <timePeriod><end>2025-03-01T00:00:00</end><start>2025-02-01T00:00:00</start></timePeriod>
    </Readings>
    <ReadingType><mRID>{RT30}</mRID></ReadingType>
    <UsagePoint><mRID>{UP}</mRID></UsagePoint>
  </MeterReading>
</MeterReadings2>
"""

CANONICAL_JSON = f"""{{"meterReading": [{{
  "usagePoint": {{"mRID": "{UP}"}}, "meter": {{"mRID": "{METER}", "serialNumber": "NS-0001"}},
  "readingType": {{"mRID": "{RT30}"}},
  "intervalBlockInts": [{{"timePeriod": {{"end": "2025-03-01T02:00:00", "endSpecified": true,
                                         "start": "2025-03-01T00:00:00", "startSpecified": true}},
                         "values": [0.123, 0.118, null, 0.1], "qualities": [256, 256, 128, 8448]}}],
  "readings": [{{"reason": "billing", "timeStamp": "2025-03-01T00:00:00", "value": "12345.678",
                 "reportedDateTime": "2025-03-01T03:15:00",
                 "readingQualities": [{{"readingQualityType": {{"ref": "3.8.0"}}}}],
                 "readingType": {{"ref": "{RT_REGISTER}"}},
                 "timePeriod": {{"end": "2025-03-01T00:00:00", "start": "2025-02-01T00:00:00"}}}}]}}]}}"""


def test_canonical_xml_interval_and_register_readings() -> None:
    result = parse(CANONICAL)
    assert result.rejected == []
    intervals = [r for r in result.readings if r.kind is ReadingKind.INTERVAL]
    first = utc(2025, 2, 28, 11, 0)
    assert [r.start for r in intervals] == [first + timedelta(minutes=30 * i) for i in range(4)]
    assert [r.value for r in intervals] == [Decimal("0.123"), Decimal("0.118"), None, Decimal("0.1")]
    assert [r.quality for r in intervals] == [256, 256, 128, 8448]
    assert intervals[3].quality_codes == ("3.0.0", "1.4.2")
    assert {(r.usage_point, r.meter, r.reading_type) for r in intervals} == {(UP, METER, RT30)}
    (register,) = [r for r in result.readings if r.kind is ReadingKind.REGISTER]
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


def test_xml_and_json_of_the_same_response_give_the_same_readings() -> None:
    assert parse(CANONICAL) == parse_json(CANONICAL_JSON)


def test_any_namespace_prefixes_and_no_namespace() -> None:
    expected = parse(CANONICAL).readings
    prefixed = (
        CANONICAL.replace("<MeterReadings2 xmlns=", "<m:MeterReadings2 xmlns:m=")
        .replace("</MeterReadings2>", "</m:MeterReadings2>")
        .replace("<MeterReading>", "<m:MeterReading>")
        .replace("</MeterReading>", "</m:MeterReading>")
        .replace("<IntervalBlockInts>", "<m:IntervalBlockInts>")
        .replace("</IntervalBlockInts>", "</m:IntervalBlockInts>")
    )
    assert parse(prefixed).readings == expected
    bare = CANONICAL.replace('xmlns="http://iec.ch/TC57/2011/MeterReadings#"', "")
    assert parse(bare).readings == expected
    other = CANONICAL.replace("http://iec.ch/TC57/2011/MeterReadings#", "urn:sbs:cim17:MeterReadings2")
    assert parse(other).readings == expected


def test_element_names_match_case_insensitively() -> None:
    doc = f"""<meterreadings2><METERREADING>
      <intervalblockints><TimePeriod><Start>2025-03-01T00:00:00</Start></TimePeriod>
        <Values><Double>1.5</Double><Double>2.5</Double></Values>
        <QUALITIES><Int>256</Int><Int>0</Int></QUALITIES></intervalblockints>
      <readingtype><MRID>{RT30}</MRID></readingtype><usagepoint><Mrid>{UP}</Mrid></usagepoint>
    </METERREADING></meterreadings2>"""
    result = parse(doc)
    assert result.rejected == []
    assert [(r.usage_point, r.reading_type, r.value, r.quality) for r in result.readings] == [
        (UP, RT30, Decimal("1.5"), 256),
        (UP, RT30, Decimal("2.5"), 0),
    ]


def test_payload_root_and_response_message_envelope() -> None:
    expected = parse(CANONICAL).readings
    body = CANONICAL.split("?>", 1)[1]
    assert parse(f"<Payload>{body}</Payload>").readings == expected
    envelope = f"""<msg:ResponseMessage xmlns:msg="http://iec.ch/TC57/2011/schema/message">
      <msg:Header><msg:Verb>reply</msg:Verb><msg:Noun>MeterReadings</msg:Noun></msg:Header>
      <msg:Reply><msg:Result>OK</msg:Result></msg:Reply>
      <msg:Payload>{body}</msg:Payload>
    </msg:ResponseMessage>"""
    assert parse(envelope).readings == expected


def test_references_as_attributes_and_identifiers_on_the_block() -> None:
    doc = f"""<MeterReadings2 {XSI}><MeterReading>
      <UsagePoint mRID="parent-up"/>
      <IntervalBlockInts>
        <ReadingType ref="{RT30}"/><UsagePoint><mRID>block-up</mRID></UsagePoint><Meter mRID="{METER}"/>
        <timePeriod><start>2025-03-01T00:00:00</start></timePeriod><values><double>1</double></values>
      </IntervalBlockInts>
      <IntervalBlockInts>
        <ReadingType><mRID>{RT_DAILY}</mRID></ReadingType>
        <timePeriod><start>2025-03-01T00:00:00</start></timePeriod><values><double>2</double></values>
      </IntervalBlockInts>
    </MeterReading></MeterReadings2>"""
    result = parse(doc)
    assert result.rejected == []
    assert [(r.usage_point, r.meter, r.reading_type) for r in result.readings] == [
        ("block-up", METER, RT30),
        ("parent-up", None, RT_DAILY),
    ]


def test_nil_values_stay_missing_with_their_flags() -> None:
    doc = f"""<MeterReadings2 {XSI}><MeterReading><UsagePoint><mRID>{UP}</mRID></UsagePoint>
      <ReadingType><mRID>{RT30}</mRID></ReadingType>
      <IntervalBlockInts><timePeriod><start>2025-03-01T00:00:00</start></timePeriod>
        <values><double xsi:nil="true"/><double>0</double><double xsi:nil="1"></double></values>
        <qualities><int>128</int><int>256</int><int xsi:nil="true"/></qualities>
      </IntervalBlockInts></MeterReading></MeterReadings2>"""
    result = parse(doc)
    assert result.rejected == []
    assert [(r.value, r.quality, r.quality_codes) for r in result.readings] == [
        (None, 128, ("2.5.259",)),
        (Decimal(0), 256, ("3.0.0",)),
        (None, None, ()),
    ]


def test_quality_wrappers_under_any_qual_or_flag_name() -> None:
    for name in ("qualities", "qualityFlags", "Flags", "readingQualityFlags"):
        doc = f"""<MeterReadings2><MeterReading><UsagePoint><mRID>{UP}</mRID></UsagePoint>
          <ReadingType><mRID>{RT30}</mRID></ReadingType>
          <IntervalBlockInts><timePeriod><start>2025-03-01T00:00:00</start></timePeriod>
            <values><double>1</double><double>2</double></values>
            <{name}><unsignedShort>256</unsignedShort><unsignedShort>16384</unsignedShort></{name}>
          </IntervalBlockInts></MeterReading></MeterReadings2>"""
        result = parse(doc)
        assert result.rejected == [], name
        assert [r.quality for r in result.readings] == [256, 16384], name


def test_values_as_repeated_elements_instead_of_a_wrapper() -> None:
    doc = f"""<MeterReadings2><MeterReading><UsagePoint><mRID>{UP}</mRID></UsagePoint>
      <ReadingType><mRID>{RT30}</mRID></ReadingType>
      <IntervalBlockInts><timePeriod><start>2025-03-01T00:00:00</start></timePeriod>
        <values>0.5</values><values>0.25</values><qualities>256</qualities><qualities>128</qualities>
      </IntervalBlockInts></MeterReading></MeterReadings2>"""
    result = parse(doc)
    assert result.rejected == []
    assert [(r.value, r.quality) for r in result.readings] == [(Decimal("0.5"), 256), (Decimal("0.25"), 128)]


def test_value_elements_with_their_own_quality() -> None:
    doc = f"""<MeterReadings2 {XSI}><MeterReading><UsagePoint><mRID>{UP}</mRID></UsagePoint>
      <ReadingType><mRID>{RT30}</mRID></ReadingType>
      <IntervalBlockInts><timePeriod><start>2025-03-01T00:00:00</start></timePeriod>
        <values>
          <IntervalValue><value>1.25</value><quality>16384</quality></IntervalValue>
          <IntervalValue><value xsi:nil="true"/><ReadingQualities><ReadingQualityType ref="2.5.259"/>
            </ReadingQualities></IntervalValue>
          <double quality="128"/>
        </values>
      </IntervalBlockInts></MeterReading></MeterReadings2>"""
    result = parse(doc)
    assert result.rejected == []
    assert [(r.value, r.quality, r.quality_codes) for r in result.readings] == [
        (Decimal("1.25"), 16384, ("1.4.4",)),
        (None, None, ("2.5.259",)),
        (None, 128, ("2.5.259",)),
    ]


def test_unknown_elements_xsi_attributes_and_enums_as_ints_are_ignored() -> None:
    doc = f"""<MeterReadings2 {XSI}><MeterReading xsi:type="MeterReading">
      <isCoincidentTrigger>false</isCoincidentTrigger><EndDeviceEvents/><valuesInterval/>
      <Extra><Deep><Deeper>1</Deeper></Deep></Extra>
      <UsagePoint><mRID>{UP}</mRID><Names><name>x</name></Names></UsagePoint>
      <ReadingType><mRID>{RT30}</mRID></ReadingType>
      <IntervalBlockInts><PendingCalculation/><timePeriod><start>2025-03-01T00:00:00</start></timePeriod>
        <values><double>1</double></values></IntervalBlockInts>
      <Readings><reason>0</reason><source xsi:nil="true"/><timeStamp>2025-03-01T00:00:00</timeStamp>
        <value>10</value><ReadingType ref="{RT_REGISTER}"/></Readings>
      <Readings><reason>billing</reason><timeStamp>2025-03-01T00:00:00</timeStamp>
        <value>11</value><ReadingType ref="{RT_REGISTER}"/></Readings>
    </MeterReading></MeterReadings2>"""
    result = parse(doc)
    assert result.rejected == []
    assert [(r.kind, r.value) for r in result.readings] == [
        (ReadingKind.INTERVAL, Decimal(1)),
        (ReadingKind.REGISTER, Decimal(10)),
        (ReadingKind.REGISTER, Decimal(11)),
    ]


def test_standard_cim_interval_blocks_in_xml() -> None:
    doc = f"""<MeterReadings xmlns="http://iec.ch/TC57/2011/MeterReadings#"><MeterReading>
      <IntervalBlocks>
        <IntervalReadings><timeStamp>2025-03-01T00:30:00</timeStamp><value>0.5</value>
          <ReadingQualities><ReadingQualityType ref="3.0.0"/></ReadingQualities></IntervalReadings>
        <IntervalReadings><timeStamp>2025-03-01T01:00:00</timeStamp><value>0.75</value>
          <ReadingQualities><ReadingQualityType ref="1.4.2"/></ReadingQualities>
          <ReadingQualities><ReadingQualityType><mRID>3.8.0</mRID></ReadingQualityType></ReadingQualities>
        </IntervalReadings>
        <ReadingType ref="{RT30}"/>
      </IntervalBlocks>
      <Meter><mRID>{METER}</mRID></Meter>
      <UsagePoint><mRID>{UP}</mRID></UsagePoint>
    </MeterReading></MeterReadings>"""
    result = parse(doc)
    assert result.rejected == []
    assert [(r.start, r.end, r.value, r.quality_codes) for r in result.readings] == [
        (utc(2025, 2, 28, 11, 0), utc(2025, 2, 28, 11, 30), Decimal("0.5"), ("3.0.0",)),
        (utc(2025, 2, 28, 11, 30), utc(2025, 2, 28, 12, 0), Decimal("0.75"), ("1.4.2", "3.8.0")),
    ]
    assert {(r.usage_point, r.meter, r.reading_type) for r in result.readings} == {(UP, METER, RT30)}


def test_autumn_fall_back_day_in_xml_has_50_values_placed_by_position() -> None:
    values = "".join(f"<double>{i}</double>" for i in range(50))
    doc = f"""<MeterReadings2><MeterReading><UsagePoint><mRID>{UP}</mRID></UsagePoint>
      <ReadingType><mRID>{RT30}</mRID></ReadingType>
      <IntervalBlockInts><timePeriod><end>2025-04-07T00:00:00</end><start>2025-04-06T00:00:00</start>
        </timePeriod><values>{values}</values></IntervalBlockInts></MeterReading></MeterReadings2>"""
    result = parse(doc)
    assert result.rejected == []
    assert len(result.readings) == 50
    assert result.readings[0].start == utc(2025, 4, 5, 11, 0)
    assert result.readings[-1].end == utc(2025, 4, 6, 12, 0)
    local = [start_of(r).astimezone(NZ) for r in result.readings[4:8]]
    assert [(t.strftime("%H:%M"), t.fold) for t in local] == [
        ("02:00", 0),
        ("02:30", 0),
        ("02:00", 1),
        ("02:30", 1),
    ]


def test_spring_forward_day_in_xml_has_46_values() -> None:
    values = "".join(f"<double>{i}</double>" for i in range(46))
    doc = f"""<MeterReadings2><MeterReading><UsagePoint><mRID>{UP}</mRID></UsagePoint>
      <ReadingType><mRID>{RT30}</mRID></ReadingType>
      <IntervalBlockInts><timePeriod><end>2025-09-29T00:00:00</end><start>2025-09-28T00:00:00</start>
        </timePeriod><values>{values}</values></IntervalBlockInts></MeterReading></MeterReadings2>"""
    readings = parse(doc).readings
    assert len(readings) == 46
    assert (readings[0].start, readings[-1].end) == (utc(2025, 9, 27, 12, 0), utc(2025, 9, 28, 11, 0))


def test_per_usage_point_zone_in_xml() -> None:
    doc = f"""<MeterReadings2><MeterReading><UsagePoint><mRID>{UP2}</mRID></UsagePoint>
      <ReadingType><mRID>{RT30}</mRID></ReadingType>
      <IntervalBlockInts><timePeriod><start>2025-03-01T00:00:00</start></timePeriod>
        <values><double>1</double></values></IntervalBlockInts></MeterReading></MeterReadings2>"""
    (reading,) = parse(doc, zone_for=lambda mrid: SYDNEY if mrid == UP2 else None).readings
    assert reading.start == utc(2025, 2, 28, 13, 0)


def test_rejected_xml_fragments_are_xml_of_the_element() -> None:
    doc = f"""<MeterReadings2 {XSI}><MeterReading><UsagePoint><mRID>{UP}</mRID></UsagePoint>
      <ReadingType><mRID>{RT30}</mRID></ReadingType>
      <IntervalBlockInts><timePeriod><start>2025-03-01T00:00:00</start></timePeriod>
        <values><double>1</double><double>one &amp; a half</double><double>NaN</double></values>
      </IntervalBlockInts>
      <IntervalBlockInts><ReadingType ref="not-a-type"/><timePeriod><start>2025-03-01T00:00:00</start>
        </timePeriod><values><double xsi:nil="true"/></values></IntervalBlockInts>
    </MeterReading></MeterReadings2>"""
    result = parse(doc)
    assert [r.value for r in result.readings] == [Decimal(1)]
    bad_text, nan, bad_type = result.rejected
    assert bad_text.fragment == "<double>one &amp; a half</double>"
    assert "not a decimal number" in bad_text.reason
    assert nan.fragment == "<double>NaN</double>"
    assert (nan.usage_point, nan.reading_type) == (UP, RT30)
    assert "malformed reading type" in bad_type.reason
    assert bad_type.fragment.startswith(
        '<IntervalBlockInts xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    )
    assert '<ReadingType ref="not-a-type"/>' in bad_type.fragment
    assert '<double xsi:nil="true"/>' in bad_type.fragment
    assert bad_type.fragment.endswith("</IntervalBlockInts>")


def test_simple_elements_with_attributes_keep_their_text() -> None:
    doc = f"""<MeterReadings2><MeterReading><UsagePoint><mRID>{UP}</mRID></UsagePoint>
      <Readings><timeStamp kind="end">2025-03-01T00:00:00</timeStamp><value unit="kWh"> 5.5 </value>
        <ReadingType ref="{RT_REGISTER}"/></Readings>
      <Readings><timeStamp>2025-03-01T00:00:00</timeStamp><value unit="kWh"/>
        <ReadingType ref="{RT_REGISTER}"/></Readings>
    </MeterReading></MeterReadings2>"""
    result = parse(doc)
    assert result.rejected == []
    assert [(r.end, r.value) for r in result.readings] == [
        (utc(2025, 2, 28, 11, 0), Decimal("5.5")),
        (utc(2025, 2, 28, 11, 0), None),
    ]
