"""Parse a GetMeterReadings response (JSON or XML) into normalised readings, tolerantly.

The response shape is partly inferred (netstream-api.md §8), so the parser accepts the canonical shapes
and every variant the tolerance rules allow: names in any case and namespace, identifiers on a block or
its parent, values as numbers, numeric strings or ``{"value": ...}`` objects, quality as a parallel flags
array or CIM ``readingQualities``, a ``Payload`` wrapper, standard CIM ``intervalBlocks`` and register
``readings``.

Failure is graded. When the document as a whole cannot be understood (malformed or truncated, a DTD or
entity declaration, the wrong top-level type, too large) :func:`parse_response` raises
:class:`~publisher.errors.ParseError` carrying a bounded excerpt. A problem with one element (a block
without a usage point, a malformed reading type, a NaN value, a quality array of the wrong length)
becomes a :class:`Rejected` entry and the rest of the document is still read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import structlog

from publisher.errors import ParseError
from publisher.netstream.model import WireFormat
from publisher.netstream.parse_common import ParsedResponse, Rejected
from publisher.netstream.parse_extract import Extractor
from publisher.netstream.parse_fragment import excerpt
from publisher.netstream.parse_json import decode_json
from publisher.netstream.parse_xml import decode_xml

__all__ = ["DEFAULT_MAX_BYTES", "ParsedResponse", "Rejected", "parse_response"]

log = structlog.get_logger(__name__)

DEFAULT_MAX_BYTES = 256 * 1024 * 1024


def parse_response(
    body: bytes,
    fmt: WireFormat,
    *,
    default_zone: ZoneInfo,
    zone_for: Callable[[str], ZoneInfo | None] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    window: tuple[datetime, datetime] | None = None,
) -> ParsedResponse:
    """Every reading of a GetMeterReadings response, plus the elements that had to be rejected.

    ``zone_for(usage_point_mrid)`` names a usage point's time zone (``None``: ``default_zone``); offset-less
    times in the response are wall-clock times in that zone. It is asked once per usage point and
    response, and must not raise. ``window`` is the UTC ``(start, end)`` the request asked for: it tells
    which of two repeated local hours (autumn fall-back) a block wholly inside that hour means. Raises
    :class:`ParseError` only when the document as a whole cannot be understood; per-element problems are
    returned in ``rejected``, in document order, as are the readings.
    """
    fmt = WireFormat(fmt)
    if len(body) > max_bytes:
        raise ParseError(
            f"response body is {len(body)} bytes, over the {max_bytes}-byte limit; request fewer usage "
            "points or a shorter window",
            fragment=excerpt(body, None),
        )
    if not body or body.isspace():
        raise ParseError("response body is empty; the service sent no document, retry the request")
    root = decode_xml(body) if fmt is WireFormat.XML else decode_json(body)
    extractor = Extractor(
        xml=fmt is WireFormat.XML, default_zone=default_zone, zone_for=zone_for, window=window
    )
    extractor.run(root)
    result = ParsedResponse(extractor.readings, extractor.rejected)
    log.debug(
        "response_parsed",
        format=fmt.value,
        size=len(body),
        readings=len(result.readings),
        rejected=len(result.rejected),
    )
    if result.rejected:
        log.warning(
            "response_elements_rejected",
            format=fmt.value,
            count=len(result.rejected),
            first_reason=result.rejected[0].reason,
        )
    return result
