"""The neutral document tree both decoders produce, and shape-checked access to it.

JSON decodes to plain ``dict``/``list`` values with numbers as :class:`~decimal.Decimal`; XML decodes to
:class:`XmlObj` (ordered children, attributes kept apart) with simple elements as ``str`` and ``xsi:nil``
as ``None``. The accessors below hide the difference: names match case-insensitively (XML names arrive
without namespace), a single object and a one-element array are interchangeable where a list is
expected, and a value of the wrong type raises :class:`~publisher.errors.ParseError`, which the
extractor turns into a rejected element rather than a failed document. Callers name members in their
canonical spelling (``timePeriod``), which is also how error messages show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeAlias, TypeGuard

from publisher.errors import ParseError
from publisher.netstream.model import Reading


class BadNumber:
    """A JSON number that is not a plausible reading (NaN, infinite, absurd), with the reason why.

    The JSON decoder validates every distinct numeric text once: a :class:`Decimal` in the tree is
    always a finite, plausible value, anything else arrives as a ``BadNumber``.
    """

    __slots__ = ("reason", "text")

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason


class XmlObj:
    """A complex XML element: attributes and child elements in document order, names without namespace.

    Children are kept as two parallel lists (names and values) so a wrapper with a million items costs
    two pointers per item. ``text`` is non-whitespace character data found beside child elements.
    """

    __slots__ = ("attrs", "name", "names", "text", "values")

    def __init__(self, name: str) -> None:
        self.name = name
        self.attrs: list[tuple[str, str]] = []
        self.names: list[str] = []
        self.values: list[Value] = []
        self.text: str | None = None


Scalar: TypeAlias = str | Decimal | bool | BadNumber | None
Value: TypeAlias = str | Decimal | bool | BadNumber | XmlObj | dict[str, "Value"] | list["Value"] | None
Obj: TypeAlias = dict[str, Value] | XmlObj


@dataclass(frozen=True, slots=True)
class Rejected:
    """One element of a response that could not be turned into readings, for the dead-letter topic."""

    reason: str
    fragment: str
    usage_point: str | None = None
    reading_type: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedResponse:
    """Everything one response held: the readings and the elements that had to be rejected."""

    readings: list[Reading] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------ access


def is_obj(value: Value) -> TypeGuard[Obj]:
    """True for a JSON object or a complex XML element."""
    return isinstance(value, dict | XmlObj)


def members(obj: Obj) -> list[tuple[str, Value]]:
    """All ``(name, value)`` pairs of an object in document order; XML attributes come first."""
    if isinstance(obj, dict):
        return list(obj.items())
    pairs: list[tuple[str, Value]] = list(obj.attrs)
    pairs.extend(zip(obj.names, obj.values, strict=True))
    return pairs


def lookup(obj: Obj, name: str) -> list[Value]:
    """Every value under ``name``, matched case-insensitively; XML repeats give several."""
    if isinstance(obj, dict):
        if name in obj:  # the canonical spelling: no scan needed
            return [obj[name]]
        lower = name.lower()
        return [value for key, value in obj.items() if key.lower() == lower]
    lower = name.lower()
    found: list[Value] = [value for key, value in obj.attrs if key.lower() == lower]
    found.extend(value for key, value in zip(obj.names, obj.values, strict=True) if key.lower() == lower)
    return found


def _kind(value: Value) -> str:
    if isinstance(value, XmlObj):
        return "an element"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Decimal | BadNumber):
        return "a number"
    return "a string"


def get_obj(obj: Obj, name: str) -> Obj | None:
    """The single object under ``name``; ``None`` if absent, null or empty; ParseError for other types."""
    found = lookup(obj, name)
    if not found:
        return None
    value = found[0]
    if value is None or value == "":
        return None
    if is_obj(value):
        return value
    raise ParseError(f"{name} is {_kind(value)}, expected an object; send {name} as a single object")


def get_scalar(obj: Obj, name: str) -> Scalar:
    """The simple value under ``name`` (first if repeated); ParseError if it is an object or array."""
    found = lookup(obj, name)
    if not found:
        return None
    value = found[0]
    if isinstance(value, XmlObj) and not value.names:
        return value.text  # a simple element that also carries attributes (None when empty)
    if isinstance(value, dict | list | XmlObj):
        raise ParseError(f"{name} is {_kind(value)}, expected a simple value; send {name} as a string")
    return value


def get_text(obj: Obj, name: str) -> str | None:
    """The string under ``name`` with surrounding whitespace removed; empty means absent."""
    value = get_scalar(obj, name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ParseError(f"{name} is {_kind(value)}, expected a string; send {name} as text")
    text = value.strip()
    return text or None


def as_items(value: Value) -> list[Value]:
    """A value where a list of objects is expected: an array's items, or a lone object as one item."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    return [value]


def get_array(obj: Obj, name: str) -> list[Value] | None:
    """The items of the array under ``name``; ``None`` if absent or null.

    JSON: the value must be an array. XML: a wrapper element holding one child per item, or the element
    repeated once per item (then each simple element is one item).
    """
    found = lookup(obj, name)
    if not found:
        return None
    if isinstance(obj, XmlObj):
        return _xml_items(found)
    value = found[0]
    if value is None or isinstance(value, list):
        return value
    raise ParseError(f"{name} is {_kind(value)}, expected an array; send {name} as a JSON array")


def _xml_items(found: list[Value]) -> list[Value]:
    if len(found) > 1:
        return found
    only = found[0]
    if isinstance(only, XmlObj):
        if only.names or only.text is None:
            return list(only.values)
        return [only.text]
    return [] if only == "" else [only]
