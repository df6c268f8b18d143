"""Reading a GetMeterReadings request (JSON or XML) and answering bad ones as ASP.NET Core would.

The request is read tolerantly (names case-insensitive, any XML namespace, an IEC 61968-100 envelope
unwrapped, ``…Specified`` flags ignored) but must carry a reading with a ``timePeriod.start``, at least one
reading type and at least one identifier; otherwise the answer is a 400 ``application/problem+json``
with ``errors`` per field. XML is parsed with defusedxml: entities and external references are refused.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from xml.etree.ElementTree import Element
from xml.etree.ElementTree import ParseError as XmlSyntaxError
from zoneinfo import ZoneInfo

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from publisher.errors import ParseError
from publisher.netstream.localtime import parse_timestamp
from publisher.netstream.model import Target, TargetKind, WireFormat
from publisher.simulator import shapes as s
from publisher.simulator.series import local_day, midnight

_UTC_ZONE = ZoneInfo("UTC")
_PROBE_ZONE = ZoneInfo("Etc/GMT-1")
_DEFAULT_ZONE = ZoneInfo("Pacific/Auckland")
_TARGET_KEYS = (
    (s.REQUEST_USAGE_POINT, TargetKind.USAGE_POINT),
    (s.REQUEST_USAGE_POINT_GROUP, TargetKind.USAGE_POINT_GROUP),
    (s.REQUEST_END_DEVICE, TargetKind.METER),
    (s.REQUEST_END_DEVICE_GROUP, TargetKind.METER_GROUP),
)
_JSON_TYPES = ("application/json", "text/json")
_XML_TYPES = ("application/xml", "text/xml")
PROBLEM_JSON = "application/problem+json"


# ------------------------------------------------------------------------------------------------ problems


def trace_id() -> str:
    """A W3C trace id as ASP.NET Core puts it in ProblemDetails."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00"


_TITLES = {
    400: ("One or more validation errors occurred.", "15.5.1"),
    403: ("Forbidden", "15.5.4"),
    404: ("Not Found", "15.5.5"),
    405: ("Method Not Allowed", "15.5.6"),
    415: ("Unsupported Media Type", "15.5.16"),
    429: ("Too Many Requests", "6585#section-4"),
    500: ("An error occurred while processing your request.", "15.6.1"),
    502: ("Bad Gateway", "15.6.3"),
    503: ("Service Unavailable", "15.6.4"),
    504: ("Gateway Timeout", "15.6.5"),
}


@dataclass(frozen=True)
class Problem:
    """An RFC 9457 problem answer (``application/problem+json``)."""

    status: int
    errors: dict[str, list[str]] = field(default_factory=dict)

    def body(self) -> bytes:
        """The ProblemDetails document, as ASP.NET Core shapes it."""
        title, section = _TITLES.get(self.status, ("Error", "15"))
        kind = (
            f"https://tools.ietf.org/html/rfc{section}"
            if "#" in section
            else f"https://tools.ietf.org/html/rfc9110#section-{section}"
        )
        document: dict[str, Any] = {"type": kind, "title": title, "status": self.status}
        if self.errors:
            document["errors"] = self.errors
        document["traceId"] = trace_id()
        return json.dumps(document).encode()


# ------------------------------------------------------------------------------------------------ media types


def _media_types(header: str) -> list[tuple[str, float]]:
    found: list[tuple[str, float]] = []
    for part in header.split(","):
        pieces = [piece.strip() for piece in part.split(";")]
        if not pieces[0]:
            continue
        quality = 1.0
        for parameter in pieces[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        found.append((pieces[0].lower(), quality))
    return found


def _format_of(media_type: str) -> WireFormat | None:
    if media_type in _JSON_TYPES or media_type.endswith("+json"):
        return WireFormat.JSON
    if media_type in _XML_TYPES or media_type.endswith("+xml"):
        return WireFormat.XML
    return None


def request_format(content_type: str | None) -> WireFormat | None:
    """The encoding of a request body by its Content-Type; ``None`` when unsupported (415)."""
    types = _media_types(content_type or "")
    return _format_of(types[0][0]) if types else None


def response_format(accept: str | None) -> WireFormat | None:
    """The response encoding for an Accept header (JSON by default); ``None`` when nothing fits (406)."""
    types = sorted(_media_types(accept or ""), key=lambda item: -item[1])
    if not types:
        return WireFormat.JSON
    for media_type, quality in types:
        if quality <= 0:
            continue
        if media_type in ("*/*", "application/*", "text/*"):
            return WireFormat.JSON
        chosen = _format_of(media_type)
        if chosen is not None:
            return chosen
    return None


# ------------------------------------------------------------------------------------------------ query


def _resolve(text: str, zone: tzinfo) -> datetime:
    if isinstance(zone, ZoneInfo):
        return parse_timestamp(text, zone)
    as_utc = parse_timestamp(text, _UTC_ZONE)
    if as_utc != parse_timestamp(text, _PROBE_ZONE):  # offset-less: wall-clock time in `zone`
        return as_utc.replace(tzinfo=zone).astimezone(UTC)
    return as_utc


@dataclass(frozen=True)
class Query:
    """A valid GetMeterReadings request. Times are kept as sent: offset-less ones are local per point."""

    targets: tuple[Target, ...]
    reading_types: tuple[str, ...]
    start: str
    end: str | None

    def window(self, zone: tzinfo) -> tuple[datetime, datetime]:
        """The UTC window ``[start, end)`` for a usage point whose local times are in ``zone``.

        A missing ``end`` means the end of the start's local day. Raises the project's ParseError for a
        local time that does not exist in ``zone``.
        """
        start = _resolve(self.start, zone)
        if self.end is None:
            return start, midnight(local_day(start, zone) + timedelta(days=1), zone)
        return start, _resolve(self.end, zone)


def _get(obj: Any, name: str) -> Any:
    if not isinstance(obj, dict):
        return None
    wanted = name.lower()
    return next((value for key, value in obj.items() if key.lower() == wanted), None)


def _items(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_to_obj(element: Element) -> Any:
    """An element as JSON-like data: leaves become text, repeated children lists, attributes keys."""
    children = list(element)
    if not children and not element.attrib:
        return element.text or ""
    grouped: dict[str, list[Any]] = {}
    for child in children:
        grouped.setdefault(_local(child.tag), []).append(_xml_to_obj(child))
    obj: dict[str, Any] = {
        name: values[0] if len(values) == 1 else values for name, values in grouped.items()
    }
    for key, value in element.attrib.items():
        obj.setdefault(_local(key), value)
    return obj


def _decode(body: bytes, fmt: WireFormat) -> Any | Problem:
    if fmt is WireFormat.JSON:
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return Problem(400, {"$": [f"The request body is not valid JSON: {exc}."]})
    try:
        root = fromstring(body)
    except (XmlSyntaxError, DefusedXmlException, UnicodeDecodeError, ValueError) as exc:
        return Problem(400, {"$": [f"The request body is not valid XML: {exc}."]})
    for element in root.iter():
        if _local(element.tag).lower() == s.REQUEST_ROOT.lower():
            return _xml_to_obj(element)
    return Problem(400, {"$": [f"The XML request has no {s.REQUEST_ROOT} element."]})


def _unwrap(document: Any) -> Any:
    """The GetMeterReadings profile inside an IEC 61968-100 envelope, or the document itself."""
    request = _get(document, s.ENVELOPE_REQUEST)
    inner = _get(request, s.REQUEST_ROOT) if request is not None else _get(document, s.REQUEST_ROOT)
    if inner is None:
        inner = _get(_get(document, s.ENVELOPE_PAYLOAD), s.REQUEST_ROOT)
    return inner if isinstance(inner, dict) else document


def parse_query(body: bytes, fmt: WireFormat) -> Query | Problem:
    """The request in ``body``, or the 400 Problem that describes what is wrong with it."""
    document = _decode(body, fmt)
    if isinstance(document, Problem):
        return document
    document = _unwrap(document)
    if not isinstance(document, dict):
        return Problem(400, {"$": ["The request body must be a GetMeterReadings object."]})
    errors: dict[str, list[str]] = {}
    readings = [item for item in _items(_get(document, s.REQUEST_READING)) if isinstance(item, dict)]
    start: str | None = None
    end: str | None = None
    if not readings:
        errors[s.REQUEST_READING] = ["The reading field is required (one reading with a timePeriod)."]
    else:
        period = _get(readings[0], s.REQUEST_TIME_PERIOD)
        start, end = _text(_get(period, s.REQUEST_START)), _text(_get(period, s.REQUEST_END))
        if start is None:
            errors["reading[0].timePeriod.start"] = ["The start field is required."]
    reading_types = tuple(
        code
        for item in _items(_get(document, s.REQUEST_READING_TYPE))
        if (code := _text(_get(item, s.REQUEST_MRID)) or _text(_get(item, "ref"))) is not None
    )
    if not reading_types:
        errors[s.REQUEST_READING_TYPE] = ["At least one readingType with an mRID is required."]
    targets = tuple(
        Target(kind, mrid)
        for key, kind in _TARGET_KEYS
        for item in _items(_get(document, key))
        if (mrid := _text(_get(item, s.REQUEST_MRID))) is not None
    )
    if not targets:
        errors[s.REQUEST_USAGE_POINT] = [
            "At least one usagePoint, usagePointGroup, endDevice or endDeviceGroup mRID is required."
        ]
    if start is not None:
        _check_times(start, end, errors)
    if errors or start is None:
        return Problem(400, errors)
    return Query(targets=targets, reading_types=reading_types, start=start, end=end)


def _check_times(start: str, end: str | None, errors: dict[str, list[str]]) -> None:
    try:
        begin = parse_timestamp(start, _DEFAULT_ZONE)
    except ParseError as exc:
        errors["reading[0].timePeriod.start"] = [exc.message]
        return
    if end is None:
        return
    try:
        finish = parse_timestamp(end, _DEFAULT_ZONE)
    except ParseError as exc:
        errors["reading[0].timePeriod.end"] = [exc.message]
        return
    if finish <= begin:
        errors["reading[0].timePeriod"] = ["The end must be later than the start."]
