"""Decode a JSON response body into the neutral tree, numbers as exact Decimals.

Numbers never pass through ``float``: the decoder hands their text straight to :class:`Decimal`, so
``0.1`` stays ``Decimal("0.1")``. ``NaN``/``Infinity`` (which Python's decoder accepts) become non-finite
numbers that the extractor rejects value by value. Each distinct numeric text is converted and
validated once and then shared, which keeps a large response's time and memory close to its distinct
values.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Final

from publisher.errors import ParseError
from publisher.netstream.parse_common import BadNumber, Value
from publisher.netstream.parse_fragment import bounded, excerpt
from publisher.netstream.parse_values import check_decimal

_CACHE_LIMIT: Final = 1 << 16
_RADIUS: Final = 1024


class _Numbers(dict[str, Decimal | BadNumber]):
    """Numeric text -> its validated number, each distinct text converted and checked once.

    Its ``__getitem__`` is the decoder's ``parse_float``/``parse_int``/``parse_constant`` hook: a text seen
    before is a plain dictionary hit in C (no Python call per number), a new one goes to
    :meth:`__missing__`.
    """

    def __missing__(self, text: str) -> Decimal | BadNumber:
        number: Decimal | BadNumber
        try:
            number = check_decimal(Decimal(text))
        except InvalidOperation:  # an exponent beyond the decimal module's range
            number = BadNumber(text, f"value {text[:40]!r} is out of any representable range; not a reading")
        except ParseError as exc:
            number = BadNumber(text, exc.message)
        if len(self) < _CACHE_LIMIT:
            self[text] = number
        return number


def _type_name(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def decode_json(body: bytes) -> dict[str, Value]:
    """The top-level JSON object of ``body``; ParseError if it is not UTF-8 JSON holding an object."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"response is not UTF-8 (bad byte at offset {exc.start}); the JSON API must send UTF-8",
            fragment=excerpt(body, exc.start),
        ) from exc
    number = _Numbers().__getitem__
    try:
        document = json.loads(text, parse_float=number, parse_int=number, parse_constant=number)
    except json.JSONDecodeError as exc:
        window = text[max(0, exc.pos - _RADIUS) : exc.pos + _RADIUS]
        raise ParseError(
            f"response is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "the body is truncated or malformed, retry the request",
            fragment=bounded(window),
        ) from exc
    except RecursionError as exc:
        raise ParseError(
            "response JSON is nested too deeply to be a meter readings document; check the endpoint",
            fragment=excerpt(body, None),
        ) from exc
    if not isinstance(document, dict):
        raise ParseError(
            f"response JSON is {_type_name(document)}, expected an object holding meterReading; "
            "check the endpoint and the Accept header",
            fragment=excerpt(body, None),
        )
    return document
