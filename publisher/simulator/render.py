"""Render series as a MeterReadings2 response body, JSON (§8.1) or XML (§8.2), plus the faulty variants.

Names come from :mod:`publisher.simulator.shapes`. Values are written exactly: JSON numbers with three
decimals (``0.120``, never a float round-trip), register values as strings, missing values as ``null`` /
``xsi:nil``. ``extra_fields`` adds unknown keys and elements at several levels, as a newer server might,
without changing what the document means.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from publisher.netstream.model import Reading, WireFormat
from publisher.simulator import shapes as s

_EXTENSION_NAMESPACE = "urn:example:netstream-extension"


def _json(value: Any) -> str:
    """Compact JSON with :class:`Decimal` written as an exact number."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(key)}:{_json(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_json(item) for item in value) + "]"
    return json.dumps(value)


def _specified(name: str, text: str) -> dict[str, Any]:
    return {name: text, name + s.SPECIFIED: True}


# ------------------------------------------------------------------------------------------------ JSON


def _json_series(series: s.Series, *, extra_fields: bool) -> dict[str, Any]:
    element: dict[str, Any] = {s.USAGE_POINT: {s.MRID: series.usage_point}}
    if series.meter is not None:
        element[s.METER] = {s.MRID: series.meter, s.SERIAL_NUMBER: s.serial_number(series.meter)}
    element[s.READING_TYPE] = {s.MRID: series.reading_type}
    blocks: list[dict[str, Any]] = []
    for block in series.blocks():
        period = {**_specified(s.END, s.local_text(block.end, series.zone))}
        period.update(_specified(s.START, s.local_text(block.start, series.zone)))
        item: dict[str, Any] = {
            s.TIME_PERIOD: period,
            s.VALUES: [reading.value for reading in block.readings],
            s.QUALITIES: [reading.quality for reading in block.readings],
        }
        if extra_fields:
            period["kind"] = "localWallClock"
            item["pendingCalculation"] = None
            item["blockMetadata"] = {"channel": 1, "nested": {"deeper": [1, 2, 3], "flag": True}}
        blocks.append(item)
    element[s.INTERVAL_BLOCKS] = blocks
    element[s.READINGS] = [
        _json_register(reading, series, extra_fields=extra_fields) for reading in series.registers
    ]
    if extra_fields:
        element[s.USAGE_POINT]["names"] = [{"name": "ICP-" + series.usage_point[:8], "nameType": None}]
        element[s.READING_TYPE]["names"] = [{"name": "simulated channel"}]
        if s.METER in element:
            element[s.METER]["amrSystem"] = "SIM-HES"
        element["isCoincidentTrigger"] = False
        element["isCoincidentTriggerSpecified"] = False
        element["extensionData"] = {"source": "MDM", "tags": ["a", "b"], "count": 2}
    return element


def _json_register(reading: Reading, series: s.Series, *, extra_fields: bool) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if extra_fields:
        item.update({"reason": "billing", "reasonSpecified": True, "source": "HES"})
    item.update(_specified(s.TIME_STAMP, s.local_text(reading.end, series.zone)))
    item[s.VALUE] = None if reading.value is None else format(reading.value, "f")
    if reading.reported_at is not None:
        item.update(_specified(s.REPORTED, s.offset_text(reading.reported_at, series.zone)))
    item[s.READING_QUALITIES] = [{s.READING_QUALITY_TYPE: {s.REF: code}} for code in reading.quality_codes]
    item[s.READING_TYPE] = {s.REF: series.reading_type}
    if extra_fields:
        item["extensionData"] = {"origin": {"system": "sim", "version": 2}}
    return item


def render_json(series: Sequence[s.Series], *, extra_fields: bool = False) -> bytes:
    """The JSON MeterReadings2 document for ``series``."""
    document: dict[str, Any] = {}
    if extra_fields:
        document["responseMetadata"] = {"generator": "netstream-simulator", "schemaVersion": "2.1"}
    document[s.METER_READING] = [_json_series(item, extra_fields=extra_fields) for item in series]
    if extra_fields:
        document["x-correlation"] = {"id": "00000000-0000-0000-0000-000000000000", "items": []}
    return _json(document).encode()


# ------------------------------------------------------------------------------------------------ XML


class _Node:
    """A minimal XML element: name (with prefix if any), attributes, text or children."""

    __slots__ = ("attrs", "children", "name", "text")

    def __init__(self, name: str, text: str | None = None) -> None:
        self.name = name
        self.text = text
        self.attrs: list[tuple[str, str]] = []
        self.children: list[_Node] = []

    def add(self, name: str, text: str | None = None) -> _Node:
        child = _Node(name, text)
        self.children.append(child)
        return child

    def write(self, out: list[str]) -> None:
        attrs = "".join(f" {key}={quoteattr(value)}" for key, value in self.attrs)
        if self.text is None and not self.children:
            out.append(f"<{self.name}{attrs}/>")
            return
        out.append(f"<{self.name}{attrs}>")
        if self.text is not None:
            out.append(escape(self.text))
        for child in self.children:
            child.write(out)
        out.append(f"</{self.name}>")


def _nil(node: _Node) -> None:
    node.attrs.append(("xsi:nil", "true"))


def _extension(parent: _Node, note: str) -> None:
    wrapper = parent.add("ext:Extension")
    wrapper.attrs.append(("xmlns:ext", _EXTENSION_NAMESPACE))
    wrapper.add("ext:note", note)
    wrapper.add("ext:values", "1 2 3")


def _xml_series(root: _Node, series: s.Series, *, extra_fields: bool) -> None:
    element = root.add(s.XML_METER_READING)
    if extra_fields:
        element.attrs.append(("isCoincidentTrigger", "false"))
        element.add("isCoincidentTrigger", "false")
    usage_point = element.add(s.XML_USAGE_POINT)
    usage_point.add(s.XML_MRID, series.usage_point)
    if extra_fields:
        usage_point.add("Names").add("name", "ICP-" + series.usage_point[:8])
    if series.meter is not None:
        meter = element.add(s.XML_METER)
        meter.add(s.XML_MRID, series.meter)
        meter.add(s.XML_SERIAL_NUMBER, s.serial_number(series.meter))
        if extra_fields:
            meter.add("amrSystem", "SIM-HES")
    element.add(s.XML_READING_TYPE).add(s.XML_MRID, series.reading_type)
    for block in series.blocks():
        item = element.add(s.XML_INTERVAL_BLOCK)
        period = item.add(s.XML_TIME_PERIOD)
        period.add(s.XML_END, s.local_text(block.end, series.zone))
        period.add(s.XML_START, s.local_text(block.start, series.zone))
        values = item.add(s.XML_VALUES)
        qualities = item.add(s.XML_QUALITIES)
        for reading in block.readings:
            if reading.value is None:
                _nil(values.add(s.XML_VALUE_ITEM))
            else:
                values.add(s.XML_VALUE_ITEM, format(reading.value, "f"))
            qualities.add(s.XML_QUALITY_ITEM, str(reading.quality))
        if extra_fields:
            _extension(item, "block")
            item.add("PendingCalculation")
    for reading in series.registers:
        _xml_register(element, reading, series, extra_fields=extra_fields)
    if extra_fields:
        _extension(element, "meter reading")


def _xml_register(parent: _Node, reading: Reading, series: s.Series, *, extra_fields: bool) -> None:
    item = parent.add(s.XML_READING)
    if extra_fields:
        item.add("reason", "billing")
    if reading.reported_at is not None:
        item.add(s.XML_REPORTED, s.offset_text(reading.reported_at, series.zone))
    if extra_fields:
        item.add("source", "HES")
    item.add(s.XML_TIME_STAMP, s.local_text(reading.end, series.zone))
    if reading.value is None:
        _nil(item.add(s.XML_VALUE))
    else:
        item.add(s.XML_VALUE, format(reading.value, "f"))
    for code in reading.quality_codes:
        item.add(s.XML_READING_QUALITY).add(s.XML_READING_QUALITY_TYPE).attrs.append(
            (s.XML_REF_ATTRIBUTE, code)
        )
    item.add(s.XML_READING_TYPE).attrs.append((s.XML_REF_ATTRIBUTE, series.reading_type))


def render_xml(series: Sequence[s.Series], *, extra_fields: bool = False) -> bytes:
    """The XML MeterReadings2 document for ``series`` (UTF-8, with an XML declaration)."""
    root = _Node(s.XML_ROOT)
    root.attrs.extend([("xmlns", s.XML_NAMESPACE), ("xmlns:xsi", s.XSI_NAMESPACE)])
    if extra_fields:
        _extension(root, "document")
    for item in series:
        _xml_series(root, item, extra_fields=extra_fields)
    out = ['<?xml version="1.0" encoding="utf-8"?>']
    root.write(out)
    return "".join(out).encode()


# ------------------------------------------------------------------------------------------------ any


def render(series: Sequence[s.Series], fmt: WireFormat, *, extra_fields: bool = False) -> bytes:
    """The response body for ``series`` in ``fmt``."""
    if fmt is WireFormat.XML:
        return render_xml(series, extra_fields=extra_fields)
    return render_json(series, extra_fields=extra_fields)


def corrupt(body: bytes) -> bytes:
    """A malformed version of ``body``: cut off part-way with stray bytes, so it no longer parses."""
    return body[: max(len(body) // 2, 1)] + b"\x00<{]"
