"""Which series an element belongs to: usage point, meter and reading type, inherited down the tree.

An identifier may sit on an interval block, a reading, or any element around them (netstream-api.md
§8.3); the nearest one wins. It may be an object with ``mRID`` (or ``ref``, an XML attribute too), a
bare string, or a one-element array of either. Several values under one name (the top-level
``readingType`` definition list of a standard MeterReadings) are no element's identity and are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from publisher.netstream.parse_common import Obj, Value, XmlObj, get_scalar, lookup
from publisher.netstream.parse_values import to_identifier

#: member names (lower case) that hold identifiers rather than data to search for series
IDENTIFIER_KEYS = frozenset({"usagepoint", "meter", "enddevice", "readingtype"})


@dataclass(frozen=True, slots=True)
class Ids:
    """The identifiers in force at one element: its own, else the nearest ancestor's."""

    usage_point: str | None = None
    meter: str | None = None
    reading_type: str | None = None

    def under(self, inner: Ids) -> Ids:
        """These identifiers overridden by those of an inner element."""
        if inner == NO_IDS:
            return self
        return Ids(
            inner.usage_point or self.usage_point,
            inner.meter or self.meter,
            inner.reading_type or self.reading_type,
        )


NO_IDS = Ids()


def _identifier_of(value: Value, what: str) -> str | None:
    while isinstance(value, list):  # a one-element array is the element itself; more is a list of many
        if len(value) != 1:
            return None
        value = value[0]
    if isinstance(value, dict | XmlObj):
        for key in ("mRID", "ref"):
            ident = to_identifier(get_scalar(value, key), what)
            if ident is not None:
                return ident
        return None
    return to_identifier(value, what)


def _identifier(obj: Obj, keys: tuple[str, ...], what: str) -> str | None:
    for key in keys:
        found = lookup(obj, key)
        if len(found) == 1:  # several is a definition list, not this element's own identity
            ident = _identifier_of(found[0], what)
            if ident is not None:
                return ident
    return None


def own_ids(obj: Obj) -> Ids:
    """The identifiers an element carries itself; ParseError if one has the wrong type."""
    return Ids(
        _identifier(obj, ("usagePoint",), "usagePoint mRID"),
        _identifier(obj, ("meter", "endDevice"), "meter mRID"),
        _identifier(obj, ("readingType",), "readingType mRID"),
    )
