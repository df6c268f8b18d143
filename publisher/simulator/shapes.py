"""Every wire name the simulator reads or writes, and the grouping of readings into response elements.

This is the one place to correct when a real Netstream response is captured: the JSON keys
(netstream-api.md §8.1), the XML element names, namespace and item names (§8.2), and the request keys of
GetMeterReadings (§2.2, §3). The renderers in :mod:`publisher.simulator.render` and the request reader in
:mod:`publisher.simulator.query` use only these constants.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from publisher.netstream.model import Reading, ReadingKind

# ------------------------------------------------------------------------------------------ response JSON
# MeterReadings2 (§2.3 "recommended working shape"): one meterReading per (usage point, reading type).

METER_READING = "meterReading"
USAGE_POINT = "usagePoint"
METER = "meter"
READING_TYPE = "readingType"
MRID = "mRID"
SERIAL_NUMBER = "serialNumber"
INTERVAL_BLOCKS = "intervalBlockInts"
TIME_PERIOD = "timePeriod"
START = "start"
END = "end"
#: .NET XmlSerializer companions of optional value-type members; JSON only, always true when emitted
SPECIFIED = "Specified"
VALUES = "values"
QUALITIES = "qualities"
READINGS = "readings"
TIME_STAMP = "timeStamp"
VALUE = "value"
REPORTED = "reportedDateTime"
READING_QUALITIES = "readingQualities"
READING_QUALITY_TYPE = "readingQualityType"
REF = "ref"

# ------------------------------------------------------------------------------------------- response XML
# XmlSerializer style (§8.2): complex elements PascalCase, simple ones as the JSON key, no Specified
# elements, simple arrays as a wrapper with one item element each, complex arrays as repeated elements.

XML_NAMESPACE = "http://iec.ch/TC57/2011/MeterReadings#"
XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"
XML_ROOT = "MeterReadings2"
XML_METER_READING = "MeterReading"
XML_USAGE_POINT = "UsagePoint"
XML_METER = "Meter"
XML_READING_TYPE = "ReadingType"
XML_INTERVAL_BLOCK = "IntervalBlockInts"
XML_READING = "Readings"
XML_READING_QUALITY = "ReadingQualities"
XML_READING_QUALITY_TYPE = "ReadingQualityType"
XML_TIME_PERIOD = TIME_PERIOD
XML_MRID = MRID
XML_SERIAL_NUMBER = SERIAL_NUMBER
XML_START = START
XML_END = END
XML_VALUES = VALUES
XML_QUALITIES = QUALITIES
XML_VALUE_ITEM = "double"
XML_QUALITY_ITEM = "int"
XML_TIME_STAMP = TIME_STAMP
XML_VALUE = VALUE
XML_REPORTED = REPORTED
#: references are attributes in XmlSerializer output: <ReadingType ref="…"/>
XML_REF_ATTRIBUTE = REF

# ------------------------------------------------------------------------------------------------ request
# GetMeterReadings (§2.2 JSON keys; XML: the same names, PascalCase for complex elements). Matched
# case-insensitively and regardless of namespace.

REQUEST_ROOT = "GetMeterReadings"
REQUEST_READING = "reading"
REQUEST_READING_TYPE = "readingType"
REQUEST_USAGE_POINT = "usagePoint"
REQUEST_USAGE_POINT_GROUP = "usagePointGroup"
REQUEST_END_DEVICE = "endDevice"
REQUEST_END_DEVICE_GROUP = "endDeviceGroup"
REQUEST_TIME_PERIOD = TIME_PERIOD
REQUEST_START = START
REQUEST_END = END
REQUEST_MRID = MRID
#: IEC 61968-100 envelope, unwrapped if a client sends it: {"Header": …, "Request": {"GetMeterReadings": …}}
ENVELOPE_REQUEST = "Request"
ENVELOPE_PAYLOAD = "Payload"

# ------------------------------------------------------------------------------------------------ grouping


def serial_number(meter_mrid: str) -> str:
    """The simulated meter's serial number (derived from its mRID, stable)."""
    digest = hashlib.blake2b(meter_mrid.encode(), digest_size=4).digest()
    return f"NS{int.from_bytes(digest, 'big') % 10**8:08d}"


def local_text(moment: datetime, zone: tzinfo) -> str:
    """Offset-less local wall-clock time, as the API sends it (``2025-03-01T00:00:00``)."""
    return moment.astimezone(zone).replace(tzinfo=None).isoformat()


def offset_text(moment: datetime, zone: tzinfo) -> str:
    """Local time with its UTC offset (``2025-03-01T06:12:00+13:00``): unambiguous on fall-back days."""
    return moment.astimezone(zone).isoformat()


@dataclass(frozen=True)
class Block:
    """One ``intervalBlockInts`` element: a contiguous run of intervals inside one local day."""

    start: datetime
    end: datetime
    readings: tuple[Reading, ...]


@dataclass(frozen=True)
class Series:
    """One ``meterReading`` element: the readings of one (usage point, reading type) to render."""

    usage_point: str
    meter: str | None
    reading_type: str
    zone: tzinfo
    readings: tuple[Reading, ...]

    @property
    def registers(self) -> tuple[Reading, ...]:
        """The register readings, in time order."""
        return tuple(
            sorted((r for r in self.readings if r.kind is ReadingKind.REGISTER), key=lambda r: r.end)
        )

    def blocks(self) -> list[Block]:
        """The interval readings grouped into blocks: split at gaps in time and at local midnight."""
        intervals = sorted((r for r in self.readings if r.kind is ReadingKind.INTERVAL), key=lambda r: r.end)
        blocks: list[list[Reading]] = []
        for reading in intervals:
            assert reading.start is not None  # interval readings always have a start
            if blocks:
                previous = blocks[-1][-1]
                assert previous.start is not None
                same_day = (
                    reading.start.astimezone(self.zone).date() == previous.start.astimezone(self.zone).date()
                )
                if previous.end == reading.start and same_day:
                    blocks[-1].append(reading)
                    continue
            blocks.append([reading])
        result: list[Block] = []
        for run in blocks:
            first_start = run[0].start
            assert first_start is not None
            result.append(Block(start=first_start, end=run[-1].end, readings=tuple(run)))
        return result


def series_of(
    usage_point: str, meter: str | None, reading_type: str, zone: tzinfo, readings: Sequence[Reading]
) -> Series:
    """A :class:`Series` (the readings are copied into a tuple)."""
    return Series(usage_point, meter, reading_type, zone, tuple(readings))
