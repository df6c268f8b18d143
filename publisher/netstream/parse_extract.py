"""Find every series in a decoded response and turn it into readings (or rejected elements).

The tree is walked iteratively, so the shape of a document cannot exhaust the stack. Identifiers are
inherited down the tree (:mod:`~publisher.netstream.parse_ids`). Three kinds of series are recognised
wherever they occur:

- ``intervalBlockInts`` (Netstream): a ``timePeriod`` plus one value per interval, with optional quality
  (:mod:`~publisher.netstream.parse_quality`);
- ``intervalBlocks`` (standard CIM): ``intervalReadings`` each stamped with the END of its interval;
- ``readings`` (CIM register reads): one value at ``timeStamp``.

A problem with one element (block, value, reading) rejects that element only; everything else in the
document is still read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import repeat
from typing import Final
from zoneinfo import ZoneInfo

from publisher.errors import ParseError
from publisher.netstream.localtime import parse_timestamp
from publisher.netstream.model import Reading, ReadingKind, isoformat_z
from publisher.netstream.parse_common import (
    Obj,
    Rejected,
    Value,
    XmlObj,
    as_items,
    get_array,
    get_obj,
    get_scalar,
    get_text,
    is_obj,
    lookup,
    members,
)
from publisher.netstream.parse_fragment import json_fragment, xml_fragment
from publisher.netstream.parse_ids import IDENTIFIER_KEYS, NO_IDS, Ids, own_ids
from publisher.netstream.parse_quality import Quality, QualityDecoder, parallel_flags
from publisher.netstream.parse_time import end_stamped, place_block, start_before
from publisher.netstream.parse_values import to_decimal
from publisher.netstream.readingtype import ReadingType, parse_reading_type

_BLOCK_KEYS: Final = frozenset({"intervalblockints", "intervalblocks"})
_REGISTER_KEY: Final = "readings"
_METER_READING_KEY: Final = "meterreading"
_MAX_REASON: Final = 400
_INTERVAL: Final = ReadingKind.INTERVAL
#: builds a Reading from a tuple of its fields, skipping the named tuple's Python-level ``__new__``
_new: Final = tuple.__new__

#: errors a helper may raise on input nobody foresaw; they reject the element, never the document
_ELEMENT_ERRORS: Final = (ParseError, ValueError, ArithmeticError)

_Intervals = list[tuple[datetime, datetime]]


@dataclass(frozen=True, slots=True)
class _Series:
    """What every reading of one block or register reading shares."""

    usage_point: str
    meter: str | None
    rt: ReadingType
    zone: ZoneInfo
    reported: datetime | None

    @property
    def ids(self) -> Ids:
        return Ids(self.usage_point, self.meter, self.rt.mrid)

    def reading(
        self,
        kind: ReadingKind,
        start: datetime | None,
        end: datetime,
        value: Decimal | None,
        quality: Quality,
        reported: datetime | None = None,
    ) -> Reading:
        flags, codes = quality
        return Reading(
            usage_point=self.usage_point,
            meter=self.meter,
            reading_type=self.rt.mrid,
            kind=kind,
            start=start,
            end=end,
            value=value,
            quality=flags,
            quality_codes=codes,
            reported_at=reported or self.reported,
        )


class Extractor:
    """Collects the readings and rejected elements of one decoded document."""

    def __init__(
        self,
        *,
        xml: bool,
        default_zone: ZoneInfo,
        zone_for: Callable[[str], ZoneInfo | None] | None,
        window: tuple[datetime, datetime] | None = None,
    ) -> None:
        self.readings: list[Reading] = []
        self._window = window  # the UTC window requested: places blocks inside a repeated local hour
        self.rejected: list[Rejected] = []
        self._xml = xml
        self._default_zone = default_zone
        self._zone_for = zone_for
        self._zones: dict[str, ZoneInfo] = {}
        self._numbers: dict[str, Decimal] = {}
        self._quality = QualityDecoder()

    def run(self, root: Obj) -> None:
        """Walk the whole document, depth first and in document order."""
        stack: list[tuple[Value, Ids]] = [(root, NO_IDS)]
        while stack:
            node, inherited = stack.pop()
            if isinstance(node, list):
                stack.extend(
                    (item, inherited) for item in reversed(node) if isinstance(item, list | dict | XmlObj)
                )
                continue
            if not is_obj(node):
                continue
            try:
                ids = inherited.under(own_ids(node))
            except ParseError as exc:
                self._reject(exc.message, node, "element", inherited)
                continue
            nested: list[Value] = []
            for key, value in members(node):
                lower = key.lower()
                if lower in _BLOCK_KEYS:
                    for item in as_items(value):
                        self._block(item, key, ids)
                elif lower == _REGISTER_KEY:
                    for item in as_items(value):
                        self._register(item, key, ids)
                elif lower not in IDENTIFIER_KEYS and isinstance(value, list | dict | XmlObj):
                    nested.append(value)
                elif lower == _METER_READING_KEY and value is not None and value != "":
                    self._reject(
                        f"{key} is a single value, expected an object or an array of them", value, key, ids
                    )
            stack.extend((value, ids) for value in reversed(nested))

    # -------------------------------------------------------------------------------------------- helpers

    def _reject(
        self, reason: str, value: Value, name: str, ids: Ids, reading_type: str | None = None
    ) -> None:
        if self._xml:
            fragment = xml_fragment(value.name if isinstance(value, XmlObj) else name, value)
        else:
            fragment = json_fragment(value)
        self.rejected.append(
            Rejected(_one_line(reason), fragment, ids.usage_point, reading_type or ids.reading_type)
        )

    def _series(self, ids: Ids, what: str, reported_text: str | None) -> _Series:
        if ids.usage_point is None:
            raise ParseError(
                f"{what} has no usage point mRID; put usagePoint.mRID on it or on its meterReading"
            )
        if ids.reading_type is None:
            raise ParseError(f"{what} has no reading type; put readingType.mRID on it or on its meterReading")
        rt = parse_reading_type(ids.reading_type)
        zone = self._zones.get(ids.usage_point)
        if zone is None:
            zone = (self._zone_for(ids.usage_point) if self._zone_for else None) or self._default_zone
            self._zones[ids.usage_point] = zone
        return _Series(ids.usage_point, ids.meter, rt, zone, _time(reported_text, zone))

    def _value(self, obj: Obj) -> Decimal | None:
        return to_decimal(get_scalar(obj, "value"), self._numbers)

    # -------------------------------------------------------------------------------------------- blocks

    def _block(self, item: Value, name: str, outer: Ids) -> None:
        if not is_obj(item):
            self._reject(
                f"{name} entry is not an object; each interval block must be an object", item, name, outer
            )
            return
        ids = outer
        try:
            ids = outer.under(own_ids(item))
            series = self._series(ids, "interval block", get_text(item, "reportedDateTime"))
            values = get_array(item, "values")
            placed = self._place_values(item, values, series) if values is not None else None
        except _ELEMENT_ERRORS as exc:
            self._reject(_message(exc, "interval block"), item, name, ids)
            return
        if placed is not None and values is not None:
            self._emit_values(item, name, values, placed, series)
        intervals = [entry for holder in lookup(item, "intervalReadings") for entry in as_items(holder)]
        if intervals:
            self._emit_interval_readings(intervals, series)

    def _place_values(
        self, block: Obj, values: list[Value], series: _Series
    ) -> tuple[_Intervals, list[Value] | None]:
        period = get_obj(block, "timePeriod")
        start_text = get_text(period, "start") if period is not None else None
        if start_text is None:
            raise ParseError("interval block has values but no timePeriod.start; cannot place the values")
        end_text = get_text(period, "end") if period is not None else None
        flags = parallel_flags(block, len(values))
        placed = place_block(start_text, end_text, len(values), series.rt, series.zone, within=self._window)
        return placed, flags

    def _emit_values(
        self,
        block: Obj,
        name: str,
        values: list[Value],
        placed: tuple[_Intervals, list[Value] | None],
        series: _Series,
    ) -> None:
        intervals, flags = placed
        entries = flags if flags is not None else repeat(None)
        append = self.readings.append
        usage_point, meter, mrid, reported = series.usage_point, series.meter, series.rt.mrid, series.reported
        item_names: list[str] | None = None  # XML element name of each value, worked out on first rejection
        for index, (raw, flag, (start, end)) in enumerate(zip(values, entries, intervals, strict=False)):
            try:
                value, (quality, codes) = self._interval_value(raw, flag)
            except _ELEMENT_ERRORS as exc:
                reason = f"value {index} of the block starting {isoformat_z(start)}: {_message(exc, 'value')}"
                if item_names is None:
                    item_names = _item_names(block, "values") if self._xml else []
                item_name = item_names[index] if index < len(item_names) else name
                self._reject(reason, raw, item_name, series.ids, mrid)
                continue
            append(
                _new(
                    Reading,
                    (usage_point, meter, mrid, _INTERVAL, start, end, value, quality, codes, reported),
                )
            )

    def _interval_value(self, raw: Value, flag: Value) -> tuple[Decimal | None, Quality]:
        if raw is None or type(raw) is Decimal:  # the common case first: a plain (pre-validated) number
            value: Decimal | None = raw
        elif isinstance(raw, dict | XmlObj):
            if lookup(raw, "value"):
                value = self._value(raw)
            elif isinstance(raw, XmlObj):
                value = to_decimal(raw.text, self._numbers)  # <double quality="128"/>: flags, no value
            else:
                value = None
            own = self._quality.of_object(raw)
            if own[0] is not None or own[1]:
                return value, own
        elif isinstance(raw, list):
            raise ParseError("value is an array, expected a number, a numeric string, an object or null")
        else:
            value = to_decimal(raw, self._numbers)
        if flag is None:
            return value, (None, ())
        return value, self._quality.parallel_entry(flag)

    def _emit_interval_readings(self, items: list[Value], series: _Series) -> None:
        previous_end: datetime | None = None
        for index, item in enumerate(items):
            try:
                reading = self._interval_reading(item, series, previous_end)
            except _ELEMENT_ERRORS as exc:
                reason = f"interval reading {index}: {_message(exc, 'interval reading')}"
                self._reject(reason, item, "IntervalReadings", series.ids, series.rt.mrid)
                continue
            previous_end = reading.end
            self.readings.append(reading)

    def _interval_reading(self, item: Value, series: _Series, previous_end: datetime | None) -> Reading:
        if not is_obj(item):
            raise ParseError("interval reading is not an object; expected timeStamp and value")
        period = get_obj(item, "timePeriod")
        stamp = get_text(item, "timeStamp") or (get_text(period, "end") if period is not None else None)
        if stamp is None:
            raise ParseError("interval reading has no timeStamp; cannot place it in time")
        end = end_stamped(stamp, series.zone, previous_end)
        start_text = get_text(period, "start") if period is not None else None
        start = (
            parse_timestamp(start_text, series.zone)
            if start_text
            else start_before(end, series.rt, series.zone)
        )
        if start >= end:
            raise ParseError("interval reading's timePeriod.start is not before its timeStamp (its end)")
        value = self._value(item)
        reported = _time(get_text(item, "reportedDateTime"), series.zone)
        return series.reading(_INTERVAL, start, end, value, self._quality.of_object(item), reported)

    # -------------------------------------------------------------------------------------------- registers

    def _register(self, item: Value, name: str, outer: Ids) -> None:
        if not is_obj(item):
            self._reject(
                f"{name} entry is not an object; each register reading must be an object", item, name, outer
            )
            return
        ids = outer
        try:
            ids = outer.under(own_ids(item))
            series = self._series(ids, "register reading", get_text(item, "reportedDateTime"))
            period = get_obj(item, "timePeriod")
            stamp = get_text(item, "timeStamp") or (get_text(period, "end") if period is not None else None)
            if stamp is None:
                raise ParseError("register reading has no timeStamp; cannot place it in time")
            start = _time(get_text(period, "start") if period is not None else None, series.zone)
            end = parse_timestamp(stamp, series.zone)
            if start is not None and start > end:
                raise ParseError("register reading's timePeriod.start is after its timeStamp")
            reading = series.reading(
                ReadingKind.REGISTER, start, end, self._value(item), self._quality.of_object(item)
            )
        except _ELEMENT_ERRORS as exc:
            self._reject(_message(exc, "register reading"), item, name, ids)
            return
        self.readings.append(reading)


def _time(text: str | None, zone: ZoneInfo) -> datetime | None:
    return None if text is None else parse_timestamp(text, zone)


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_REASON else line[: _MAX_REASON - 3] + "..."


def _message(exc: Exception, what: str) -> str:
    if isinstance(exc, ParseError):
        return exc.message
    return f"{what} could not be read ({type(exc).__name__}: {exc}); check the element's values"


def _item_names(obj: Obj, name: str) -> list[str]:
    """The XML element name of each item of the array under ``name`` (wrapper children or repeats)."""
    if not isinstance(obj, XmlObj):
        return []
    lower = name.lower()
    found = [(key, value) for key, value in zip(obj.names, obj.values, strict=True) if key.lower() == lower]
    if len(found) == 1 and isinstance(found[0][1], XmlObj) and found[0][1].names:
        return found[0][1].names
    return [key for key, _ in found]
