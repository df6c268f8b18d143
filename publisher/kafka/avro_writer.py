"""A compiled Avro binary writer for the contract's record schemas: the fast path of the codecs.

fastavro's generic writer resolves every union and logical type per datum, which makes it the most
expensive step of publishing a reading. :func:`compile_writer` turns a record schema into nested closures
that write straight into a ``bytearray``, byte for byte what fastavro writes.

The fast path is deliberately strict and never decides anything on its own: any datum that is not
exactly of the expected Python type, or that does not fit the schema (a naive datetime, a decimal with too
many places, an unknown enum symbol, a missing field ...), raises :class:`Decline`, and the codec then
encodes the record with its reference path (the record checks plus fastavro), which either writes it or
raises the precise error. A schema using a type this module does not compile makes
:func:`compile_writer` return ``None``, and the codec always uses the reference path.

Nested records given as :class:`types.MappingProxyType` (read-only) are memoised by identity: their
encoding is computed once and reused while the same proxy object is passed again (the reading type
record of an event, shared by every reading of a series).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Context, Decimal, Inexact, InvalidOperation
from types import MappingProxyType
from typing import Any, cast

from publisher.kafka.avro_source import Source

_INT_RANGE = (-(2**31), 2**31 - 1)
_LONG_RANGE = (-(2**63), 2**63 - 1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SMALL = [bytes((n,)) for n in range(128)]
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_NULL = b"\x00"
_SECOND_BRANCH = b"\x02"
_MEMO_LIMIT = 4096
_MEMO_STRING_LENGTH = 100  #: longer strings (reasons, payloads) are not remembered

#: writes one datum into the buffer; raises :class:`Decline` when it cannot write it exactly
Write = Callable[[bytearray, Any], None]
#: the types of the constants a generated text names, as the prebuilt module declares them
_MEMO = "dict[Any, bytes]"
_ENCODE = "Callable[[Any], bytes]"
_WRITE = "Callable[[bytearray, Any], None]"


class Decline(Exception):
    """The fast path does not write this datum; the reference path must decide."""


def zigzag(number: int) -> bytes:
    """An Avro ``long``: zig-zag, then a little-endian base-128 varint."""
    number = (number << 1) ^ (number >> 63)
    if number < 128:
        return _SMALL[number]
    out = bytearray()
    while number > 127:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def _integer(bounds: tuple[int, int]) -> Write:
    low, high = bounds

    def write(buf: bytearray, value: Any) -> None:
        if type(value) is not int or not low <= value <= high:
            raise Decline
        buf += zigzag(value)

    return write


def _string(buf: bytearray, value: Any) -> None:
    if type(value) is not str:
        raise Decline
    data = value.encode()
    buf += zigzag(len(data))
    buf += data


def _uuid(buf: bytearray, value: Any) -> None:
    if type(value) is not str or _CANONICAL_UUID.fullmatch(value) is None:
        raise Decline  # the reference path turns UUID objects and other spellings into the canonical form
    buf += _SMALL[72]  # zigzag(36)
    buf += value.encode()


def _bytes(buf: bytearray, value: Any) -> None:
    if type(value) is not bytes:
        raise Decline
    buf += zigzag(len(value))
    buf += value


def _timestamp(unit: int) -> tuple[Write, dict[datetime, bytes]]:
    # Neighbouring readings share instants (one's end is the next one's start, a window shares its poll
    # time), so encodings are memoised by the aware datetime (equal instants encode equally).
    memo: dict[datetime, bytes] = {}

    def write(buf: bytearray, value: Any) -> None:
        if type(value) is not datetime:
            raise Decline
        encoded = memo.get(value)
        if encoded is None:
            if value.utcoffset() is None:
                raise Decline
            delta = value - _EPOCH
            encoded = zigzag(((delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds) // unit)
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[value] = encoded
        buf += encoded

    return write, memo


def _decimal(precision: int, scale: int) -> tuple[Write, dict[Decimal, bytes]]:
    context = Context(prec=precision, traps=[Inexact, InvalidOperation])
    quantum = Decimal(1).scaleb(-scale)

    memo: dict[Decimal, bytes] = {}  # meter values repeat; equal decimals encode equally at a fixed scale

    def write(buf: bytearray, value: Any) -> None:
        if type(value) is not Decimal:
            raise Decline
        encoded = memo.get(value)
        if encoded is None:
            try:
                unscaled = int(value.quantize(quantum, context=context).scaleb(scale, context))
            except (ArithmeticError, ValueError):  # inexact, too many digits, not finite
                raise Decline from None
            data = unscaled.to_bytes((abs(unscaled).bit_length() + 8) // 8, "big", signed=True)
            encoded = zigzag(len(data)) + data
            if len(memo) >= _MEMO_LIMIT * 16:
                memo.clear()
            memo[value] = encoded
        buf += encoded

    return write, memo


def _enum(symbols: list[str]) -> Write:
    index = {symbol: zigzag(i) for i, symbol in enumerate(symbols)}

    def write(buf: bytearray, value: Any) -> None:
        encoded = index.get(value) if type(value) is str else None
        if encoded is None:
            raise Decline
        buf += encoded

    return write


def _array(items: Write) -> Write:
    def write(buf: bytearray, value: Any) -> None:
        if type(value) is not list and type(value) is not tuple:
            raise Decline
        if value:
            buf += zigzag(len(value))
            for item in value:
                items(buf, item)
        buf += _NULL

    return write


def _optional(inner: Write) -> Write:
    def write(buf: bytearray, value: Any) -> None:
        if value is None:
            buf += _NULL
        else:
            buf += _SECOND_BRANCH
            inner(buf, value)

    return write


def new_source(what: str) -> Source:
    """An empty :class:`Source` (writing ``what``) knowing the helpers of this module (shared with
    :mod:`avro_partial`)."""
    return Source(
        {
            "Decline": (Decline, "type[Exception]"),
            "zigzag": (zigzag, "Callable[[int], bytes]"),
            "NULL": (_NULL, "bytes"),
            "SECOND": (_SECOND_BRANCH, "bytes"),
            "STRINGS": (_string_memo, "dict[str, bytes]"),
            "string": (_memo_string, _ENCODE),
            "UUID": (_CANONICAL_UUID.fullmatch, "Callable[[str], object]"),
            "STRING_TUPLES": (_string_tuples, "dict[tuple[str, ...], bytes]"),
            "strings": (_strings, _ENCODE),
        },
        what,
    )


def emit(out: Source, schema: Any, depth: int, named: dict[str, Write], *, parts: bool = False) -> bool:
    """Lines that write the datum in ``x``; False when the fast path does not write this type.

    They append to ``buf`` (a bytearray), or with ``parts`` append each piece of bytes to the list ``parts``
    (joined once at the end: cheaper than growing a bytearray piece by piece)."""
    put = _appender(parts)
    if isinstance(schema, list):
        if len(schema) != 2 or schema[0] != "null" or schema[1] == "null":
            return False  # wider unions (the contract has none) are left to the reference path
        branch = schema[1]
        if _emit_memoised_optional(out, branch, depth, parts=parts):
            return True
        out.line(depth, "if x is None:")
        out.line(depth + 1, put("NULL"))
        out.line(depth, "else:")
        out.line(depth + 1, put("SECOND"))
        return emit(out, branch, depth + 1, named, parts=parts)
    kind = schema if isinstance(schema, str) else schema.get("type")
    plain = isinstance(schema, str) or "logicalType" not in schema
    if plain and kind in _RANGES:
        int_memo = _IntMemo(_RANGES[kind], b"")
        known, encode = out.const(int_memo.known, _MEMO), out.const(int_memo.encode, _ENCODE)
        out.line(depth, f"e = {known}.get(x) if type(x) is int else None")  # never bool: True == 1
        out.line(depth, put(f"{encode}(x) if e is None else e"))
    elif plain and kind == "string":
        out.line(depth, "e = STRINGS.get(x)")
        out.line(depth, put("string(x) if e is None else e"))
    elif plain and kind == "enum":
        symbols = out.const({symbol: zigzag(i) for i, symbol in enumerate(schema["symbols"])}, _MEMO)
        out.line(depth, f"e = {symbols}.get(x) if type(x) is str else None")
        out.line(depth, "if e is None:")
        out.line(depth + 1, "raise Decline")
        out.line(depth, put("e"))
    elif not plain and schema["logicalType"] == "uuid" and kind == "string":
        out.line(depth, "if type(x) is not str or UUID(x) is None:")
        out.line(depth + 1, "raise Decline")
        out.line(depth, put('b"H"'))  # zigzag(36): the canonical text is 36 ASCII characters
        out.line(depth, put("x.encode()"))
    elif not plain and (memoised := _memoised(schema)) is not None:
        slow, memo, exact = (
            out.const(part, kind) for part, kind in zip(memoised, (_WRITE, _MEMO, "type"), strict=True)
        )
        out.line(depth, f"e = {memo}.get(x) if type(x) is {exact} else None")  # exact: True is never 1
        out.line(depth, "if e is None:")
        _call(out, depth + 1, slow, parts=parts)
        out.line(depth, "else:")
        out.line(depth + 1, put("e"))
    elif plain and kind == "array" and schema["items"] == "string":
        # tuples (immutable) are remembered: a reading's quality codes are one of a few shared tuples
        out.line(depth, "e = STRING_TUPLES.get(x) if type(x) is tuple else None")
        out.line(depth, put("strings(x) if e is None else e"))
    else:
        writer = compile_schema(schema, named)
        if writer is None:
            return False
        _call(out, depth, out.const(writer, _WRITE), parts=parts)
    return True


def _emit_memoised_optional(out: Source, branch: Any, depth: int, *, parts: bool) -> bool:
    """``["null", T]`` for an int, long, decimal or timestamp ``T``: one memo lookup gives the branch byte
    and the value together (most optional fields hold a handful of distinct values)."""
    if isinstance(branch, str) and branch in _RANGES:
        int_memo = _IntMemo(_RANGES[branch], _SECOND_BRANCH)
        known, encode, kind = out.const(int_memo.known, _MEMO), out.const(int_memo.encode, _ENCODE), "int"
    elif isinstance(branch, Mapping) and "logicalType" in branch and (found := _memoised(branch)) is not None:
        slow, _memo, exact = found
        branch_memo = _BranchMemo(slow)
        known, encode = out.const(branch_memo.known, _MEMO), out.const(branch_memo.encode, _ENCODE)
        kind = out.const(exact, "type")
    else:
        return False
    put = _appender(parts)
    out.line(depth, "if x is None:")
    out.line(depth + 1, put("NULL"))
    out.line(depth, "else:")
    out.line(depth + 1, f"e = {known}.get(x) if type(x) is {kind} else None")
    out.line(depth + 1, put(f"{encode}(x) if e is None else e"))
    return True


def _appender(parts: bool) -> Callable[[str], str]:
    """The statement that writes the bytes of an expression: into ``buf``, or as the next of ``parts``."""
    return "parts.append({})".format if parts else "buf += {}".format


def _call(out: Source, depth: int, writer: str, *, parts: bool) -> None:
    """Lines that run ``writer`` (which writes into a bytearray) on ``x``."""
    if parts:
        out.line(depth, "tmp = bytearray()")
        out.line(depth, f"{writer}(tmp, x)")
        out.line(depth, "parts.append(bytes(tmp))")
    else:
        out.line(depth, f"{writer}(buf, x)")


class _IntMemo:
    """Encodings of ``int`` values within ``bounds`` after ``branch`` (a union's branch byte, or nothing)."""

    def __init__(self, bounds: tuple[int, int], branch: bytes) -> None:
        self.low, self.high = bounds
        self.branch = branch
        self.known: dict[int, bytes] = {}

    def encode(self, value: Any) -> bytes:
        if type(value) is not int or not self.low <= value <= self.high:
            raise Decline
        encoded = self.branch + zigzag(value)
        if len(self.known) >= _MEMO_LIMIT:
            self.known.clear()
        self.known[value] = encoded
        return encoded


class _BranchMemo:
    """Encodings of a memoised type (decimal, timestamp) after the second-branch byte of its union."""

    def __init__(self, slow: Write) -> None:
        self.slow = slow
        self.known: dict[Any, bytes] = {}

    def encode(self, value: Any) -> bytes:
        part = bytearray(_SECOND_BRANCH)
        self.slow(part, value)  # checks the type and the value; Decline when it does not write it
        encoded = bytes(part)
        if len(self.known) >= _MEMO_LIMIT * 16:
            self.known.clear()
        self.known[value] = encoded
        return encoded


def generate_fields(schema: Mapping[str, Any], named: dict[str, Write]) -> Write | None:
    """A generated function writing every field of the record in a ``Mapping``, unrolled."""
    names = [field["name"] for field in schema["fields"]]
    what = f"the {schema['name'].rsplit('.', 1)[-1]} record" if "name" in schema else _fields_named(names)
    out = new_source(what)
    out.define("write_fields", [("buf", "bytearray"), ("value", "Any")], "None")
    for field in schema["fields"]:
        name = out.const(field["name"], "str")
        if "default" not in field:
            out.line(1, f"x = value[{name}]")  # a missing field raises KeyError: the reference path decides
        elif field["default"] is None or isinstance(field["default"], int | str):
            out.line(1, f"x = value.get({name}, {out.const(field['default'], 'Any')})")
        elif field["default"] == []:
            out.line(1, f"x = value.get({name}, ())")  # an empty array (a tuple: nothing can change it)
        else:
            return None  # only null, scalar and empty-array defaults are written by the fast path
        if not emit(out, field["type"], 1, named):
            return None
    if not names:
        out.line(1, "pass")
    return cast(Write, out.build())


def _fields_named(names: list[str]) -> str:
    if not names:
        return "no fields"
    return f"the field {names[0]}" if len(names) == 1 else f"the fields {names[0]} to {names[-1]}"


def _record(schema: Mapping[str, Any], named: dict[str, Write]) -> Write | None:
    memo: dict[int, tuple[MappingProxyType[str, Any], bytes]] = {}
    fields: list[Write] = []

    def write(buf: bytearray, value: Any) -> None:
        kind = type(value)
        if kind is dict:
            fields[0](buf, value)
        elif kind is MappingProxyType:
            hit = memo.get(id(value))
            if hit is None or hit[0] is not value:
                part = bytearray()
                fields[0](part, value)
                if len(memo) >= _MEMO_LIMIT:
                    memo.clear()
                hit = memo[id(value)] = (value, bytes(part))  # holding the proxy keeps its id unique
            buf += hit[1]
        else:
            raise Decline

    named[schema["name"]] = write  # before the fields, so a recursive reference finds it
    generated = generate_fields(schema, named)
    if generated is None:
        del named[schema["name"]]
        return None
    fields.append(generated)
    return write


_string_memo: dict[str, bytes] = {}


def _memo_string(value: Any) -> bytes:
    """The encoding of a string (length and UTF-8), remembered: identifiers repeat across events."""
    if type(value) is not str:
        raise Decline
    data = value.encode()
    encoded = zigzag(len(data)) + data
    if len(data) <= _MEMO_STRING_LENGTH:
        if len(_string_memo) >= _MEMO_LIMIT:
            _string_memo.clear()
        _string_memo[value] = encoded
    return encoded


_string_tuples: dict[tuple[str, ...], bytes] = {}


def _strings(value: Any) -> bytes:
    """The encoding of an array of strings (a list or tuple); tuples are remembered."""
    if type(value) is not list and type(value) is not tuple:
        raise Decline
    out = bytearray()
    if value:
        out += zigzag(len(value))
        for item in value:
            encoded = _string_memo.get(item) if type(item) is str else None
            out += _memo_string(item) if encoded is None else encoded
    out += _NULL
    encoded = bytes(out)
    if type(value) is tuple and len(encoded) <= _MEMO_STRING_LENGTH:
        if len(_string_tuples) >= _MEMO_LIMIT:
            _string_tuples.clear()
        _string_tuples[value] = encoded
    return encoded


_RANGES = {"int": _INT_RANGE, "long": _LONG_RANGE}
_TIMESTAMP_UNITS = {"timestamp-micros": 1, "timestamp-millis": 1000}
_PRIMITIVES: dict[str, Write] = {
    "int": _integer(_INT_RANGE),
    "long": _integer(_LONG_RANGE),
    "string": _string,
    "bytes": _bytes,
}


def _memoised(schema: Mapping[str, Any]) -> tuple[Write, dict[Any, bytes], type] | None:
    """For decimals and timestamps: the writer, its memo (datum -> bytes) and the datum's exact type."""
    kind, logical = str(schema.get("type")), str(schema["logicalType"])
    if logical == "decimal" and kind == "bytes":
        return (*_decimal(schema["precision"], schema.get("scale", 0)), Decimal)
    if logical in _TIMESTAMP_UNITS and kind == "long":
        return (*_timestamp(_TIMESTAMP_UNITS[logical]), datetime)
    return None


def _date(buf: bytearray, value: Any) -> None:
    if type(value) is not date:
        raise Decline  # a datetime is a date subclass: the reference path decides what it means
    buf += zigzag(value.toordinal() - _EPOCH_DAY)


_EPOCH_DAY = date(1970, 1, 1).toordinal()


def _logical(schema: Mapping[str, Any]) -> Write | None:
    memoised = _memoised(schema)
    if memoised is not None:
        return memoised[0]
    if schema["logicalType"] == "uuid" and schema.get("type") == "string":
        return _uuid
    if schema["logicalType"] == "date" and schema.get("type") == "int":
        return _date
    return None


def compile_schema(schema: Any, named: dict[str, Write]) -> Write | None:
    if isinstance(schema, list):
        if len(schema) != 2 or schema[0] != "null" or schema[1] == "null":
            return None  # wider unions (the contract has none) are left to the reference path
        inner = compile_schema(schema[1], named)
        return None if inner is None else _optional(inner)
    if isinstance(schema, str):
        return _PRIMITIVES.get(schema) or named.get(schema)
    kind = schema.get("type")
    writer: Write | None = None
    if "logicalType" in schema:
        writer = _logical(schema)
    elif kind == "record":
        writer = _record(schema, named)
    elif kind == "enum":
        writer = _enum(list(schema["symbols"]))
    elif kind == "array":
        items = compile_schema(schema["items"], named)
        writer = None if items is None else _array(items)
    elif isinstance(kind, str):
        writer = _PRIMITIVES.get(kind)
    return writer


def compile_writer(schema: Mapping[str, Any]) -> Write | None:
    """A fast writer for the record ``schema`` (fastavro ``parse_schema`` output or the plain JSON), or
    ``None`` when the schema uses a type the fast path does not write."""
    if schema.get("type") != "record":
        return None
    return compile_schema(schema, {})
