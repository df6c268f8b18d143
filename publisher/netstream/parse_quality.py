"""Reading quality as it may arrive in a response, decoded to Netstream flags and IEC codes.

Three forms are accepted (netstream-api.md §8.3): a block-level array parallel to ``values`` under any
member whose name matches ``/qual|flag/i`` (``qualities``, ``qualityFlags``, ...), a flags member on a
value object or reading, and CIM ``readingQualities[].readingQualityType.ref`` codes. Decoding is cached
per distinct raw value, because a response repeats the same few flags millions of times.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final

from publisher.errors import ParseError
from publisher.netstream.parse_common import (
    Obj,
    Value,
    XmlObj,
    as_items,
    get_array,
    get_text,
    is_obj,
    lookup,
    members,
)
from publisher.netstream.parse_values import to_flags
from publisher.netstream.quality import decode_flags, parse_quality_ref

Quality = tuple[int | None, tuple[str, ...]]

_QUALITY_KEY: Final = re.compile(r"qual|flag", re.IGNORECASE)
READING_QUALITIES: Final = "readingQualities"
_READING_QUALITIES_LOWER: Final = READING_QUALITIES.lower()
_NONE: Final[Quality] = (None, ())


def is_quality_key(key: str) -> bool:
    """True for a member that may hold Netstream flags (not CIM readingQualities, not a Specified flag)."""
    lower = key.lower()
    if lower == _READING_QUALITIES_LOWER or lower.endswith("specified"):
        return False
    return bool(_QUALITY_KEY.search(lower))


def parallel_flags(block: Obj, count: int) -> list[Value] | None:
    """The block's flags array parallel to its ``count`` values, if it has one.

    Empty arrays and arrays of objects are not flags arrays; in XML a lone simple element is a scalar
    property, not an array. A flags array of another length raises ParseError (the block is rejected).
    """
    seen: set[str] = set()
    for key, value in members(block):
        lower = key.lower()
        if lower in seen or not is_quality_key(lower):
            continue
        seen.add(lower)
        if isinstance(block, dict):
            if not isinstance(value, list):
                continue
            items: list[Value] = value
        else:
            if len(lookup(block, key)) == 1 and not isinstance(value, XmlObj):
                continue
            items = get_array(block, key) or []
        # the distinct types of the entries, not every entry, are checked (a few types, thousands of entries)
        if not items or any(issubclass(kind, dict | list | XmlObj) for kind in set(map(type, items))):
            continue
        if len(items) != count:
            raise ParseError(
                f"{key} has {len(items)} entries for {count} values; the quality array must be parallel "
                "to values"
            )
        return items
    return None


def _ref_text(item: Value) -> str | None:
    if isinstance(item, str):
        return item.strip() or None
    if not is_obj(item):
        return None
    found = lookup(item, "readingQualityType")
    if not found:
        return get_text(item, "ref")
    holder = found[0]
    if isinstance(holder, str):
        return holder.strip() or None
    if is_obj(holder):
        return get_text(holder, "ref") or get_text(holder, "mRID")
    return None


class QualityDecoder:
    """Decodes quality for one response, remembering every distinct raw value it has seen."""

    def __init__(self) -> None:
        self._codes: dict[int, tuple[str, ...]] = {}
        self._refs: dict[str, str] = {}
        self._entries: dict[str | Decimal, Quality] = {}

    def codes(self, flags: int) -> tuple[str, ...]:
        """The IEC codes of Netstream ``flags``; ParseError if they are not 16-bit."""
        codes = self._codes.get(flags)
        if codes is None:
            codes = decode_flags(flags)
            self._codes[flags] = codes
        return codes

    def _flags(self, raw: Value) -> Quality:
        if isinstance(raw, list | dict | XmlObj):
            raise ParseError("quality flags entry is not a simple value; expected an integer 0..65535")
        flags = to_flags(raw)
        return _NONE if flags is None else (flags, self.codes(flags))

    def parallel_entry(self, raw: Value) -> Quality:
        """One entry of a parallel flags array (``None`` for null)."""
        if type(raw) is Decimal or type(raw) is str:  # the common case, cached; never bool (1 == True)
            hit = self._entries.get(raw)
            if hit is None:
                hit = self._entries[raw] = self._flags(raw)
            return hit
        return self._flags(raw)

    def of_object(self, obj: Obj) -> Quality:
        """Flags and codes an element carries itself: a flags member and/or CIM readingQualities."""
        flags: int | None = None
        for key, value in members(obj):
            if is_quality_key(key) and not isinstance(value, list | dict | XmlObj):
                flags = to_flags(value)
                if flags is not None:
                    break
        codes = self.codes(flags) if flags is not None else ()
        refs: list[str] = []
        for holder in lookup(obj, READING_QUALITIES):
            for item in as_items(holder):
                text = _ref_text(item)
                if text is not None:
                    refs.append(self._ref(text))
        if refs:
            codes = codes + tuple(code for code in dict.fromkeys(refs) if code not in codes)
        return flags, codes

    def _ref(self, text: str) -> str:
        code = self._refs.get(text)
        if code is None:
            code = self._refs[text] = parse_quality_ref(text)
        return code
