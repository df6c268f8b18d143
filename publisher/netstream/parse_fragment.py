"""Bounded re-serialisation of rejected elements (and excerpts of rejected documents) for dead letters.

A fragment is written only when something is rejected, and writing stops as soon as the limit is
reached, so rejecting a huge element never serialises all of it. The limit is in UTF-8 bytes. Text is
written as ASCII (JSON escapes, XML character references); only XML element and attribute names, which
cannot be escaped, may carry other characters. Traversal is iterative: a deeply nested element cannot
exhaust the stack.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

from publisher.netstream.parse_common import BadNumber, Value, XmlObj

FRAGMENT_LIMIT = 64 * 1024
_TRUNCATED = "...[truncated]"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


class _Lit:
    """Literal output text, as opposed to a value still to be rendered."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


_END = _Lit("")  # marks an exhausted iterator on the work stack


class _Writer:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.nil = False  # XML only: an xsi:nil was written, so the root must declare the prefix

    @property
    def full(self) -> bool:
        return self.size > self.limit

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)

    def result(self) -> str:
        if self.nil and self.parts:
            first = self.parts[0]
            cut = first.index(">")
            cut -= first[cut - 1] == "/"
            self.parts[0] = f'{first[:cut]} xmlns:xsi="{_XSI}"{first[cut:]}'
        text = "".join(self.parts)
        if len(text) <= self.limit and (text.isascii() or len(text.encode()) <= self.limit):
            return text
        head = text[: self.limit].encode()[: self.limit - len(_TRUNCATED)]
        return head.decode("utf-8", "ignore") + _TRUNCATED  # "ignore" drops a character cut in half


def bounded(text: str, limit: int = FRAGMENT_LIMIT) -> str:
    """``text`` as ASCII (non-ASCII escaped), cut to ``limit`` bytes with a truncation marker."""
    writer = _Writer(limit)
    writer.write(text[: limit + 1].encode("ascii", "backslashreplace").decode("ascii"))
    return writer.result()


def excerpt(body: bytes, position: int | None, *, radius: int = 1024) -> str:
    """A bounded, ASCII-safe excerpt of a raw body around byte ``position`` (or its start)."""
    start = 0 if position is None else max(0, position - radius)
    chunk = body[start : start + 2 * radius]
    return bounded(chunk.decode("utf-8", "backslashreplace"))


# ------------------------------------------------------------------------------------------------ JSON


def _json_scalar(value: Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, BadNumber):
        return value.text
    return json.dumps(value if isinstance(value, str) else repr(value))


def _json_object(obj: dict[str, Value]) -> Iterator[_Lit | Value]:
    yield _Lit("{")
    separator = ""
    for key, value in obj.items():
        yield _Lit(f"{separator}{json.dumps(key)}:")
        yield value
        separator = ","
    yield _Lit("}")


def _json_array(items: list[Value]) -> Iterator[_Lit | Value]:
    yield _Lit("[")
    for index, value in enumerate(items):
        if index:
            yield _Lit(",")
        yield value
    yield _Lit("]")


def json_fragment(value: Value, limit: int = FRAGMENT_LIMIT) -> str:
    """The JSON text of a decoded JSON value (numbers exactly as decoded), at most ``limit`` bytes."""
    writer = _Writer(limit)
    stack: list[Iterator[_Lit | Value]] = [iter((value,))]
    while stack and not writer.full:
        item = next(stack[-1], _END)
        if item is _END:
            stack.pop()
        elif isinstance(item, _Lit):
            writer.write(item.text)
        elif isinstance(item, dict):
            stack.append(_json_object(item))
        elif isinstance(item, list):
            stack.append(_json_array(item))
        else:
            writer.write(_json_scalar(item))
    return writer.result()


# ------------------------------------------------------------------------------------------------ XML


class _Named:
    """A child element still to be rendered: its name and decoded value."""

    __slots__ = ("name", "value")

    def __init__(self, name: str, value: Value) -> None:
        self.name = name
        self.value = value


def _xml_text(text: str) -> str:
    return escape(text).encode("ascii", "xmlcharrefreplace").decode("ascii")


def _xml_attr(text: str) -> str:
    return quoteattr(text).encode("ascii", "xmlcharrefreplace").decode("ascii")


def _xml_element(name: str, value: Value, writer: _Writer) -> Iterator[_Lit | _Named]:
    if value is None:
        writer.nil = True
        yield _Lit(f'<{name} xsi:nil="true"/>')
        return
    if not isinstance(value, XmlObj):
        text = value.text if isinstance(value, BadNumber) else str(value)
        yield _Lit(f"<{name}>{_xml_text(text)}</{name}>")
        return
    attrs = "".join(f" {key}={_xml_attr(text)}" for key, text in value.attrs)
    if not value.names and value.text is None:
        yield _Lit(f"<{name}{attrs}/>")
        return
    yield _Lit(f"<{name}{attrs}>")
    if value.text is not None:
        yield _Lit(_xml_text(value.text))
    for child_name, child in zip(value.names, value.values, strict=True):
        yield _Named(child_name, child)
    yield _Lit(f"</{name}>")


def xml_fragment(name: str, value: Value, limit: int = FRAGMENT_LIMIT) -> str:
    """The XML text of a decoded element (names without namespace), at most ``limit`` UTF-8 bytes."""
    writer = _Writer(limit)
    stack: list[Iterator[_Lit | _Named]] = [iter((_Named(name, value),))]
    while stack and not writer.full:
        item = next(stack[-1], _END)
        if item is _END:
            stack.pop()
        elif isinstance(item, _Lit):
            writer.write(item.text)
        else:
            stack.append(_xml_element(item.name, item.value, writer))
    return writer.result()
