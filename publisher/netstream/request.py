"""GetMeterReadings request bodies in JSON and XML (netstream-api.md §2.2, §3).

Both encodings list their elements in the XSD sequence order (EndDevice, EndDeviceGroup, Reading,
ReadingType, UsagePoint, UsagePointGroup) and carry the window as wall-clock times in the usage points'
zone with their UTC offset. JSON carries the ``…Specified: true`` companions that .NET's generated classes
expect; XML has no such elements. The request is validated first: a bad one is a bug in the caller (or
in its configuration) and raises :class:`NetstreamRequestError` rather than reaching the API.
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring  # building only; nothing is parsed here
from zoneinfo import ZoneInfo

from publisher.errors import NetstreamRequestError, ParseError
from publisher.netstream.localtime import format_with_offset
from publisher.netstream.model import ReadingsRequest, TargetKind, WireFormat
from publisher.netstream.readingtype import parse_reading_type

NAMESPACE = "http://iec.ch/TC57/2011/GetMeterReadings#"
_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

#: target kind -> (JSON key, XML element); the four lists before and after Reading/ReadingType
_LEADING: tuple[tuple[TargetKind, str, str], ...] = (
    (TargetKind.METER, "endDevice", "EndDevice"),
    (TargetKind.METER_GROUP, "endDeviceGroup", "EndDeviceGroup"),
)
_TRAILING: tuple[tuple[TargetKind, str, str], ...] = (
    (TargetKind.USAGE_POINT, "usagePoint", "UsagePoint"),
    (TargetKind.USAGE_POINT_GROUP, "usagePointGroup", "UsagePointGroup"),
)
_CONTENT_TYPES = {WireFormat.JSON: "application/json", WireFormat.XML: "application/xml"}
# control characters and code points XML 1.0 cannot carry; no real mRID contains them
_UNSENDABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def content_type(fmt: WireFormat) -> str:
    """The media type of a request body (also the ``Accept`` value for the response)."""
    return _CONTENT_TYPES[fmt]


def _validate(request: ReadingsRequest) -> tuple[str, ...]:
    """Check the request; return its reading type codes as they will be sent (surrounding space removed)."""
    if not request.targets:
        raise NetstreamRequestError(
            "request names no target; give at least one usage point, usage point group, meter or meter group"
        )
    if not request.reading_types:
        raise NetstreamRequestError("request names no reading type; give at least one reading type mRID")
    for label, moment in (("start", request.start), ("end", request.end)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise NetstreamRequestError(
                f"request {label} {moment.isoformat()} has no time zone; pass timezone-aware datetimes"
            )
    if request.start >= request.end:
        raise NetstreamRequestError(
            f"request window is empty: start {request.start.isoformat()} is not before end "
            f"{request.end.isoformat()}; swap or widen the window"
        )
    for target in request.targets:
        if not target.mrid.strip() or _UNSENDABLE.search(target.mrid):
            raise NetstreamRequestError(
                f"{target.kind.value} mRID {target.mrid[:80]!r} is empty or holds control characters; "
                "check the registry entry"
            )
    codes: list[str] = []
    for code in request.reading_types:
        try:
            codes.append(parse_reading_type(code).mrid)
        except ParseError as exc:
            raise NetstreamRequestError(f"request has a bad reading type: {exc.message}") from exc
    return tuple(codes)


def _mrids(request: ReadingsRequest, kind: TargetKind) -> list[str]:
    return [target.mrid for target in request.targets if target.kind is kind]


def _render_json(request: ReadingsRequest, codes: tuple[str, ...], zone: ZoneInfo) -> bytes:
    body: dict[str, Any] = {}
    for kind, key, _ in _LEADING:
        if mrids := _mrids(request, kind):
            body[key] = [{"mRID": mrid} for mrid in mrids]
    body["reading"] = [
        {
            "timePeriod": {
                "end": format_with_offset(request.end, zone),
                "endSpecified": True,
                "start": format_with_offset(request.start, zone),
                "startSpecified": True,
            }
        }
    ]
    body["readingType"] = [{"mRID": code} for code in codes]
    for kind, key, _ in _TRAILING:
        if mrids := _mrids(request, kind):
            body[key] = [{"mRID": mrid} for mrid in mrids]
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _element(parent: Element, tag: str, text: str | None = None) -> Element:
    child = SubElement(parent, f"{{{NAMESPACE}}}{tag}")
    child.text = text
    return child


def _render_xml(request: ReadingsRequest, codes: tuple[str, ...], zone: ZoneInfo) -> bytes:
    root = Element(f"{{{NAMESPACE}}}GetMeterReadings")
    for kind, _, tag in _LEADING:
        for mrid in _mrids(request, kind):
            _element(_element(root, tag), "mRID", mrid)
    period = _element(_element(root, "Reading"), "timePeriod")
    _element(period, "end", format_with_offset(request.end, zone))
    _element(period, "start", format_with_offset(request.start, zone))
    for code in codes:
        _element(_element(root, "ReadingType"), "mRID", code)
    for kind, _, tag in _TRAILING:
        for mrid in _mrids(request, kind):
            _element(_element(root, tag), "mRID", mrid)
    return _XML_DECLARATION + tostring(root, encoding="unicode", default_namespace=NAMESPACE).encode("utf-8")


def render_request(request: ReadingsRequest, fmt: WireFormat, zone: ZoneInfo) -> bytes:
    """The UTF-8 body of a GetMeterReadings call; the window is rendered in ``zone`` with its offset."""
    codes = _validate(request)
    if fmt == WireFormat.XML:
        return _render_xml(request, codes, zone)
    return _render_json(request, codes, zone)
