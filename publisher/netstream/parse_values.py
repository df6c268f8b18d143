"""Simple values of a response turned into what a reading holds: exact decimals, flags, identifiers.

Every function takes the raw decoded value (``str`` from XML or a JSON string, ``Decimal`` from a JSON
number, ``bool``, ``None``) and either returns the typed value or raises
:class:`~publisher.errors.ParseError` naming what is wrong with that one value.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Final

from publisher.errors import ParseError
from publisher.netstream.parse_common import BadNumber, Scalar

#: more significant digits than this is not a meter reading (and would not fit the event's decimal)
MAX_DIGITS: Final = 30
#: the exponent of the largest accepted magnitude: |value| < 10**MAX_MAGNITUDE
MAX_MAGNITUDE: Final = 15
#: at most this many places after the decimal point
MAX_SCALE: Final = 30
_MAX_TEXT: Final = 100  # a numeric string longer than this cannot satisfy the limits above
_MAX_FLAG_TEXT: Final = 12
_CACHE_LIMIT: Final = 1 << 16  # distinct numeric strings remembered per response (equal text -> one Decimal)

_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_INTEGER: Final = re.compile(r"[+-]?[0-9]+", re.ASCII)
_SHOWN: Final = 40


def _show(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")


def check_decimal(number: Decimal) -> Decimal:
    """``number`` unchanged if it is a plausible reading; ParseError if NaN, infinite or absurd."""
    if not number.is_finite():
        raise ParseError(f"value {number} is not a finite number; a missing reading must be null, not NaN")
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite, so never the 'n'/'N'/'F' markers
    if len(digits) > MAX_DIGITS:
        raise ParseError(f"value has {len(digits)} significant digits, more than {MAX_DIGITS}; not a reading")
    if not number.is_zero() and number.adjusted() >= MAX_MAGNITUDE:
        raise ParseError(f"value {number:.3e} is 1e{MAX_MAGNITUDE} or more in magnitude; not a reading")
    if exponent < -MAX_SCALE:
        raise ParseError(f"value has {-exponent} decimal places, more than {MAX_SCALE}; not a reading")
    return number


def to_decimal(raw: Scalar, cache: dict[str, Decimal]) -> Decimal | None:
    """A reading value as an exact Decimal, ``None`` for null/nil (a missing reading, never zero).

    A ``Decimal`` is returned as it is: the JSON decoder already validated it with :func:`check_decimal`
    (anything it refused arrives as a :class:`BadNumber`). Strings are validated here, once per
    distinct text thanks to ``cache``.
    """
    if raw is None:
        return None
    if isinstance(raw, Decimal):  # JSON numbers were validated by the decoder
        return raw
    if isinstance(raw, bool):
        raise ParseError("value is a boolean, expected a number; send the reading as a number or null")
    if isinstance(raw, BadNumber):
        raise ParseError(raw.reason)
    text = raw.strip()
    number = cache.get(text)
    if number is not None:
        return number
    if len(text) > _MAX_TEXT:
        raise ParseError(f"value text is {len(text)} characters long, too long to be a reading")
    if not _NUMBER.fullmatch(text):
        raise ParseError(f"value {_show(text)} is not a decimal number; send digits such as 0.123 or null")
    try:
        number = Decimal(text)
    except InvalidOperation as exc:  # an exponent beyond the decimal module's range
        raise ParseError(f"value {_show(text)} is out of any representable range; not a reading") from exc
    check_decimal(number)
    if len(cache) < _CACHE_LIMIT:
        cache[text] = number
    return number


def to_flags(raw: Scalar) -> int | None:
    """Netstream quality flags as an int (range checked later by ``decode_flags``); ``None`` if null."""
    if raw is None:
        return None
    if isinstance(raw, Decimal):
        if raw.is_finite() and raw.adjusted() < _MAX_FLAG_TEXT and raw == raw.to_integral_value():
            return int(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        if len(text) <= _MAX_FLAG_TEXT and _INTEGER.fullmatch(text):
            return int(text)
    shown = raw.text if isinstance(raw, BadNumber) else str(raw)
    raise ParseError(f"quality flags {_show(shown)} are not an integer; expected a 16-bit value 0..65535")


def to_identifier(raw: Scalar, what: str) -> str | None:
    """An mRID or code as a stripped string; ``None`` if null or blank."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        kind = "a boolean" if isinstance(raw, bool) else "a number"
        raise ParseError(f"{what} is {kind}, expected a string; send the identifier as text")
    text = raw.strip()
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ParseError(
                f"{what} {_show(text)} is not valid Unicode text; send a UTF-8 identifier"
            ) from exc
    return text or None
