"""Writers generated ahead of time from the package's schemas (``make writers``); do not edit.

Rendered by :func:`publisher.kafka.avro_source.render_module` for the writers the pipeline uses on every
reading, so that the compiled build compiles them. :class:`~publisher.kafka.avro_source.Source` finds each by
the SHA-256 of its text, so a stale entry is never used: a changed schema generates another text, which is
compiled at run time instead, and a unit test fails until this module is rendered again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


#: the ReadingType record
def _writer_0(n: dict[str, Any]) -> Callable[..., None]:
    NULL: bytes = n["NULL"]
    STRINGS: dict[str, bytes] = n["STRINGS"]
    string: Callable[[Any], bytes] = n["string"]
    c9: str = n["c9"]
    c10: str = n["c10"]
    c11: dict[Any, bytes] = n["c11"]
    c12: Callable[[Any], bytes] = n["c12"]
    c13: str = n["c13"]
    c14: dict[Any, bytes] = n["c14"]
    c15: Callable[[Any], bytes] = n["c15"]
    c16: str = n["c16"]
    c17: dict[Any, bytes] = n["c17"]
    c18: Callable[[Any], bytes] = n["c18"]
    c19: str = n["c19"]
    c20: dict[Any, bytes] = n["c20"]
    c21: Callable[[Any], bytes] = n["c21"]
    c22: str = n["c22"]
    c23: dict[Any, bytes] = n["c23"]
    c24: Callable[[Any], bytes] = n["c24"]
    c25: str = n["c25"]
    c26: dict[Any, bytes] = n["c26"]
    c27: Callable[[Any], bytes] = n["c27"]
    c28: str = n["c28"]
    c29: dict[Any, bytes] = n["c29"]
    c30: Callable[[Any], bytes] = n["c30"]
    c31: str = n["c31"]
    c32: dict[Any, bytes] = n["c32"]
    c33: Callable[[Any], bytes] = n["c33"]
    c34: str = n["c34"]
    c35: dict[Any, bytes] = n["c35"]
    c36: Callable[[Any], bytes] = n["c36"]
    c37: str = n["c37"]
    c38: dict[Any, bytes] = n["c38"]
    c39: Callable[[Any], bytes] = n["c39"]
    c40: str = n["c40"]
    c41: dict[Any, bytes] = n["c41"]
    c42: Callable[[Any], bytes] = n["c42"]
    c43: str = n["c43"]
    c44: dict[Any, bytes] = n["c44"]
    c45: Callable[[Any], bytes] = n["c45"]
    c46: str = n["c46"]
    c47: dict[Any, bytes] = n["c47"]
    c48: Callable[[Any], bytes] = n["c48"]
    c49: str = n["c49"]
    c50: dict[Any, bytes] = n["c50"]
    c51: Callable[[Any], bytes] = n["c51"]
    c52: str = n["c52"]
    c53: dict[Any, bytes] = n["c53"]
    c54: Callable[[Any], bytes] = n["c54"]
    c55: str = n["c55"]
    c56: dict[Any, bytes] = n["c56"]
    c57: Callable[[Any], bytes] = n["c57"]
    c58: str = n["c58"]
    c59: dict[Any, bytes] = n["c59"]
    c60: Callable[[Any], bytes] = n["c60"]
    c61: str = n["c61"]
    c62: dict[Any, bytes] = n["c62"]
    c63: Callable[[Any], bytes] = n["c63"]
    c64: str = n["c64"]
    c65: dict[Any, bytes] = n["c65"]
    c66: Callable[[Any], bytes] = n["c66"]
    c67: str = n["c67"]

    def write_fields(buf: bytearray, value: Any) -> None:
        x: Any
        e: bytes | None
        x = value[c9]
        e = STRINGS.get(x)
        buf += string(x) if e is None else e
        x = value[c10]
        e = c11.get(x) if type(x) is int else None
        buf += c12(x) if e is None else e
        x = value[c13]
        e = c14.get(x) if type(x) is int else None
        buf += c15(x) if e is None else e
        x = value[c16]
        e = c17.get(x) if type(x) is int else None
        buf += c18(x) if e is None else e
        x = value[c19]
        e = c20.get(x) if type(x) is int else None
        buf += c21(x) if e is None else e
        x = value[c22]
        e = c23.get(x) if type(x) is int else None
        buf += c24(x) if e is None else e
        x = value[c25]
        e = c26.get(x) if type(x) is int else None
        buf += c27(x) if e is None else e
        x = value[c28]
        e = c29.get(x) if type(x) is int else None
        buf += c30(x) if e is None else e
        x = value[c31]
        e = c32.get(x) if type(x) is int else None
        buf += c33(x) if e is None else e
        x = value[c34]
        e = c35.get(x) if type(x) is int else None
        buf += c36(x) if e is None else e
        x = value[c37]
        e = c38.get(x) if type(x) is int else None
        buf += c39(x) if e is None else e
        x = value[c40]
        e = c41.get(x) if type(x) is int else None
        buf += c42(x) if e is None else e
        x = value[c43]
        e = c44.get(x) if type(x) is int else None
        buf += c45(x) if e is None else e
        x = value[c46]
        e = c47.get(x) if type(x) is int else None
        buf += c48(x) if e is None else e
        x = value[c49]
        e = c50.get(x) if type(x) is int else None
        buf += c51(x) if e is None else e
        x = value[c52]
        e = c53.get(x) if type(x) is int else None
        buf += c54(x) if e is None else e
        x = value[c55]
        e = c56.get(x) if type(x) is int else None
        buf += c57(x) if e is None else e
        x = value[c58]
        e = c59.get(x) if type(x) is int else None
        buf += c60(x) if e is None else e
        x = value[c61]
        e = c62.get(x) if type(x) is int else None
        buf += c63(x) if e is None else e
        x = value[c64]
        if x is None:
            buf += NULL
        else:
            e = c65.get(x) if type(x) is int else None
            buf += c66(x) if e is None else e
        x = value[c67]
        e = STRINGS.get(x)
        buf += string(x) if e is None else e

    return write_fields


#: the MeterReading record
def _writer_1(n: dict[str, Any]) -> Callable[..., None]:
    Decline: type[Exception] = n["Decline"]
    NULL: bytes = n["NULL"]
    SECOND: bytes = n["SECOND"]
    STRINGS: dict[str, bytes] = n["STRINGS"]
    string: Callable[[Any], bytes] = n["string"]
    UUID: Callable[[str], object] = n["UUID"]
    STRING_TUPLES: dict[tuple[str, ...], bytes] = n["STRING_TUPLES"]
    strings: Callable[[Any], bytes] = n["strings"]
    c9: str = n["c9"]
    c10: str = n["c10"]
    c11: str = n["c11"]
    c12: Any = n["c12"]
    c13: str = n["c13"]
    c14: Callable[[bytearray, Any], None] = n["c14"]
    c15: str = n["c15"]
    c16: dict[Any, bytes] = n["c16"]
    c17: str = n["c17"]
    c18: dict[Any, bytes] = n["c18"]
    c19: Callable[[Any], bytes] = n["c19"]
    c20: type = n["c20"]
    c21: str = n["c21"]
    c22: Callable[[bytearray, Any], None] = n["c22"]
    c23: dict[Any, bytes] = n["c23"]
    c24: type = n["c24"]
    c25: str = n["c25"]
    c26: dict[Any, bytes] = n["c26"]
    c27: Callable[[Any], bytes] = n["c27"]
    c28: type = n["c28"]
    c29: str = n["c29"]
    c30: dict[Any, bytes] = n["c30"]
    c31: Callable[[Any], bytes] = n["c31"]
    c32: str = n["c32"]
    c33: str = n["c33"]
    c34: dict[Any, bytes] = n["c34"]
    c35: Callable[[Any], bytes] = n["c35"]
    c36: str = n["c36"]
    c37: Any = n["c37"]
    c38: dict[Any, bytes] = n["c38"]
    c39: Callable[[Any], bytes] = n["c39"]
    c40: type = n["c40"]
    c41: str = n["c41"]
    c42: Any = n["c42"]
    c43: dict[Any, bytes] = n["c43"]
    c44: Callable[[Any], bytes] = n["c44"]
    c45: type = n["c45"]
    c46: str = n["c46"]
    c47: Callable[[bytearray, Any], None] = n["c47"]
    c48: dict[Any, bytes] = n["c48"]
    c49: type = n["c49"]
    c50: str = n["c50"]
    c51: dict[Any, bytes] = n["c51"]
    c52: str = n["c52"]
    c53: Any = n["c53"]
    c54: dict[Any, bytes] = n["c54"]
    c55: Callable[[Any], bytes] = n["c55"]
    c56: str = n["c56"]
    c57: Any = n["c57"]

    def write_fields(buf: bytearray, value: Any) -> None:
        x: Any
        e: bytes | None
        x = value[c9]
        if type(x) is not str or UUID(x) is None:
            raise Decline
        buf += b"H"
        buf += x.encode()
        x = value[c10]
        e = STRINGS.get(x)
        buf += string(x) if e is None else e
        x = value.get(c11, c12)
        if x is None:
            buf += NULL
        else:
            buf += SECOND
            e = STRINGS.get(x)
            buf += string(x) if e is None else e
        x = value[c13]
        c14(buf, x)
        x = value[c15]
        e = c16.get(x) if type(x) is str else None
        if e is None:
            raise Decline
        buf += e
        x = value[c17]
        if x is None:
            buf += NULL
        else:
            e = c18.get(x) if type(x) is c20 else None
            buf += c19(x) if e is None else e
        x = value[c21]
        e = c23.get(x) if type(x) is c24 else None
        if e is None:
            c22(buf, x)
        else:
            buf += e
        x = value[c25]
        if x is None:
            buf += NULL
        else:
            e = c26.get(x) if type(x) is c28 else None
            buf += c27(x) if e is None else e
        x = value[c29]
        if x is None:
            buf += NULL
        else:
            e = c30.get(x) if type(x) is int else None
            buf += c31(x) if e is None else e
        x = value[c32]
        e = STRING_TUPLES.get(x) if type(x) is tuple else None
        buf += strings(x) if e is None else e
        x = value[c33]
        e = c34.get(x) if type(x) is int else None
        buf += c35(x) if e is None else e
        x = value.get(c36, c37)
        if x is None:
            buf += NULL
        else:
            e = c38.get(x) if type(x) is c40 else None
            buf += c39(x) if e is None else e
        x = value.get(c41, c42)
        if x is None:
            buf += NULL
        else:
            e = c43.get(x) if type(x) is c45 else None
            buf += c44(x) if e is None else e
        x = value[c46]
        e = c48.get(x) if type(x) is c49 else None
        if e is None:
            c47(buf, x)
        else:
            buf += e
        x = value[c50]
        e = c51.get(x) if type(x) is str else None
        if e is None:
            raise Decline
        buf += e
        x = value.get(c52, c53)
        if x is None:
            buf += NULL
        else:
            e = c54.get(x) if type(x) is int else None
            buf += c55(x) if e is None else e
        x = value.get(c56, c57)
        if x is None:
            buf += NULL
        else:
            buf += SECOND
            e = STRINGS.get(x)
            buf += string(x) if e is None else e

    return write_fields


#: no fields
def _writer_2(n: dict[str, Any]) -> Callable[..., None]:

    def write_fields(buf: bytearray, value: Any) -> None:
        pass

    return write_fields


#: the fields usage_point_mrid to kind
def _writer_3(n: dict[str, Any]) -> Callable[..., None]:
    Decline: type[Exception] = n["Decline"]
    NULL: bytes = n["NULL"]
    SECOND: bytes = n["SECOND"]
    STRINGS: dict[str, bytes] = n["STRINGS"]
    string: Callable[[Any], bytes] = n["string"]
    c9: str = n["c9"]
    c10: str = n["c10"]
    c11: Any = n["c11"]
    c12: str = n["c12"]
    c13: Callable[[bytearray, Any], None] = n["c13"]
    c14: str = n["c14"]
    c15: dict[Any, bytes] = n["c15"]

    def write_fields(buf: bytearray, value: Any) -> None:
        x: Any
        e: bytes | None
        x = value[c9]
        e = STRINGS.get(x)
        buf += string(x) if e is None else e
        x = value.get(c10, c11)
        if x is None:
            buf += NULL
        else:
            buf += SECOND
            e = STRINGS.get(x)
            buf += string(x) if e is None else e
        x = value[c12]
        c13(buf, x)
        x = value[c14]
        e = c15.get(x) if type(x) is str else None
        if e is None:
            raise Decline
        buf += e

    return write_fields


#: the fields polled_at to source
def _writer_4(n: dict[str, Any]) -> Callable[..., None]:
    Decline: type[Exception] = n["Decline"]
    c9: str = n["c9"]
    c10: Callable[[bytearray, Any], None] = n["c10"]
    c11: dict[Any, bytes] = n["c11"]
    c12: type = n["c12"]
    c13: str = n["c13"]
    c14: dict[Any, bytes] = n["c14"]

    def write_fields(buf: bytearray, value: Any) -> None:
        x: Any
        e: bytes | None
        x = value[c9]
        e = c11.get(x) if type(x) is c12 else None
        if e is None:
            c10(buf, x)
        else:
            buf += e
        x = value[c13]
        e = c14.get(x) if type(x) is str else None
        if e is None:
            raise Decline
        buf += e

    return write_fields


#: the field timezone
def _writer_5(n: dict[str, Any]) -> Callable[..., None]:
    NULL: bytes = n["NULL"]
    SECOND: bytes = n["SECOND"]
    STRINGS: dict[str, bytes] = n["STRINGS"]
    string: Callable[[Any], bytes] = n["string"]
    c9: str = n["c9"]
    c10: Any = n["c10"]

    def write_fields(buf: bytearray, value: Any) -> None:
        x: Any
        e: bytes | None
        x = value.get(c9, c10)
        if x is None:
            buf += NULL
        else:
            buf += SECOND
            e = STRINGS.get(x)
            buf += string(x) if e is None else e

    return write_fields


#: the 10 varying fields of MeterReading
def _writer_6(n: dict[str, Any]) -> Callable[..., bytes | None]:
    Decline: type[Exception] = n["Decline"]
    NULL: bytes = n["NULL"]
    STRING_TUPLES: dict[tuple[str, ...], bytes] = n["STRING_TUPLES"]
    strings: Callable[[Any], bytes] = n["strings"]
    c9: dict[Any, bytes] = n["c9"]
    c10: Callable[[Any], bytes] = n["c10"]
    c11: type = n["c11"]
    c12: Callable[[bytearray, Any], None] = n["c12"]
    c13: dict[Any, bytes] = n["c13"]
    c14: type = n["c14"]
    c15: dict[Any, bytes] = n["c15"]
    c16: Callable[[Any], bytes] = n["c16"]
    c17: type = n["c17"]
    c18: dict[Any, bytes] = n["c18"]
    c19: Callable[[Any], bytes] = n["c19"]
    c20: dict[Any, bytes] = n["c20"]
    c21: Callable[[Any], bytes] = n["c21"]
    c22: dict[Any, bytes] = n["c22"]
    c23: Callable[[Any], bytes] = n["c23"]
    c24: type = n["c24"]
    c25: dict[Any, bytes] = n["c25"]
    c26: Callable[[Any], bytes] = n["c26"]
    c27: type = n["c27"]
    c28: dict[Any, bytes] = n["c28"]
    c29: Callable[[Any], bytes] = n["c29"]
    c30: tuple[type[Exception], ...] = n["c30"]

    def write_partial(
        s: tuple[bytes, ...],
        x0: Any,
        x1: Any,
        x2: Any,
        x3: Any,
        x4: Any,
        x5: Any,
        x6: Any,
        x7: Any,
        x8: Any,
        x9: Any,
    ) -> bytes | None:
        x: Any
        e: bytes | None
        parts: list[bytes]
        tmp: bytearray
        try:
            parts = [s[0]]
            x = x0
            if type(x) is not str or len(x) != 36 or not x.isascii():
                raise Decline
            parts.append(b"H")
            parts.append(x.encode())
            parts.append(s[1])
            x = x1
            if x is None:
                parts.append(NULL)
            else:
                e = c9.get(x) if type(x) is c11 else None
                parts.append(c10(x) if e is None else e)
            x = x2
            e = c13.get(x) if type(x) is c14 else None
            if e is None:
                tmp = bytearray()
                c12(tmp, x)
                parts.append(bytes(tmp))
            else:
                parts.append(e)
            x = x3
            if x is None:
                parts.append(NULL)
            else:
                e = c15.get(x) if type(x) is c17 else None
                parts.append(c16(x) if e is None else e)
            x = x4
            if x is None:
                parts.append(NULL)
            else:
                e = c18.get(x) if type(x) is int else None
                parts.append(c19(x) if e is None else e)
            x = x5
            e = STRING_TUPLES.get(x) if type(x) is tuple else None
            parts.append(strings(x) if e is None else e)
            x = x6
            e = c20.get(x) if type(x) is int else None
            parts.append(c21(x) if e is None else e)
            x = x7
            if x is None:
                parts.append(NULL)
            else:
                e = c22.get(x) if type(x) is c24 else None
                parts.append(c23(x) if e is None else e)
            x = x8
            if x is None:
                parts.append(NULL)
            else:
                e = c25.get(x) if type(x) is c27 else None
                parts.append(c26(x) if e is None else e)
            parts.append(s[9])
            x = x9
            if x is None:
                parts.append(NULL)
            else:
                e = c28.get(x) if type(x) is int else None
                parts.append(c29(x) if e is None else e)
            parts.append(s[10])
            return b"".join(parts)
        except c30:
            return None

    return write_partial


#: the WideValue record
def _writer_7(n: dict[str, Any]) -> Callable[..., None]:
    STRINGS: dict[str, bytes] = n["STRINGS"]
    string: Callable[[Any], bytes] = n["string"]
    c9: str = n["c9"]
    c10: dict[Any, bytes] = n["c10"]
    c11: Callable[[Any], bytes] = n["c11"]
    c12: str = n["c12"]

    def write_fields(buf: bytearray, value: Any) -> None:
        x: Any
        e: bytes | None
        x = value[c9]
        e = c10.get(x) if type(x) is int else None
        buf += c11(x) if e is None else e
        x = value[c12]
        e = STRINGS.get(x)
        buf += string(x) if e is None else e

    return write_fields


#: the Quality record
def _writer_8(n: dict[str, Any]) -> Callable[..., None]:
    NULL: bytes = n["NULL"]
    STRING_TUPLES: dict[tuple[str, ...], bytes] = n["STRING_TUPLES"]
    strings: Callable[[Any], bytes] = n["strings"]
    c9: str = n["c9"]
    c10: Any = n["c10"]
    c11: dict[Any, bytes] = n["c11"]
    c12: Callable[[Any], bytes] = n["c12"]
    c13: str = n["c13"]

    def write_fields(buf: bytearray, value: Any) -> None:
        x: Any
        e: bytes | None
        x = value.get(c9, c10)
        if x is None:
            buf += NULL
        else:
            e = c11.get(x) if type(x) is int else None
            buf += c12(x) if e is None else e
        x = value.get(c13, ())
        e = STRING_TUPLES.get(x) if type(x) is tuple else None
        buf += strings(x) if e is None else e

    return write_fields


#: the SlotRevision record
def _writer_9(n: dict[str, Any]) -> Callable[..., None]:
    c9: str = n["c9"]
    c10: dict[Any, bytes] = n["c10"]
    c11: Callable[[Any], bytes] = n["c11"]
    c12: str = n["c12"]
    c13: dict[Any, bytes] = n["c13"]
    c14: Callable[[Any], bytes] = n["c14"]

    def write_fields(buf: bytearray, value: Any) -> None:
        x: Any
        e: bytes | None
        x = value[c9]
        e = c10.get(x) if type(x) is int else None
        buf += c11(x) if e is None else e
        x = value[c12]
        e = c13.get(x) if type(x) is int else None
        buf += c14(x) if e is None else e

    return write_fields


#: the InstantEntry record
def _writer_10(n: dict[str, Any]) -> Callable[..., None]:
    NULL: bytes = n["NULL"]
    SECOND: bytes = n["SECOND"]
    STRINGS: dict[str, bytes] = n["STRINGS"]
    string: Callable[[Any], bytes] = n["string"]
    c9: str = n["c9"]
    c10: Callable[[bytearray, Any], None] = n["c10"]
    c11: dict[Any, bytes] = n["c11"]
    c12: type = n["c12"]
    c13: str = n["c13"]
    c14: dict[Any, bytes] = n["c14"]
    c15: Callable[[Any], bytes] = n["c15"]
    c16: str = n["c16"]
    c17: Any = n["c17"]
    c18: str = n["c18"]
    c19: Any = n["c19"]
    c20: dict[Any, bytes] = n["c20"]
    c21: Callable[[Any], bytes] = n["c21"]

    def write_fields(buf: bytearray, value: Any) -> None:
        x: Any
        e: bytes | None
        x = value[c9]
        e = c11.get(x) if type(x) is c12 else None
        if e is None:
            c10(buf, x)
        else:
            buf += e
        x = value[c13]
        e = c14.get(x) if type(x) is int else None
        buf += c15(x) if e is None else e
        x = value.get(c16, c17)
        if x is None:
            buf += NULL
        else:
            buf += SECOND
            e = STRINGS.get(x)
            buf += string(x) if e is None else e
        x = value.get(c18, c19)
        e = c20.get(x) if type(x) is int else None
        buf += c21(x) if e is None else e

    return write_fields


#: the SeriesDayState record
def _writer_11(n: dict[str, Any]) -> Callable[..., None]:
    c9: str = n["c9"]
    c10: Callable[[bytearray, Any], None] = n["c10"]
    c11: str = n["c11"]
    c12: dict[Any, bytes] = n["c12"]
    c13: Callable[[Any], bytes] = n["c13"]
    c14: str = n["c14"]
    c15: dict[Any, bytes] = n["c15"]
    c16: Callable[[Any], bytes] = n["c16"]
    c17: str = n["c17"]
    c18: dict[Any, bytes] = n["c18"]
    c19: Callable[[Any], bytes] = n["c19"]
    c20: str = n["c20"]
    c21: Callable[[bytearray, Any], None] = n["c21"]
    c22: str = n["c22"]
    c23: Callable[[bytearray, Any], None] = n["c23"]
    c24: str = n["c24"]
    c25: Callable[[bytearray, Any], None] = n["c25"]
    c26: str = n["c26"]
    c27: Callable[[bytearray, Any], None] = n["c27"]
    c28: str = n["c28"]
    c29: Callable[[bytearray, Any], None] = n["c29"]
    c30: str = n["c30"]
    c31: Callable[[bytearray, Any], None] = n["c31"]

    def write_fields(buf: bytearray, value: Any) -> None:
        x: Any
        e: bytes | None
        x = value[c9]
        c10(buf, x)
        x = value[c11]
        e = c12.get(x) if type(x) is int else None
        buf += c13(x) if e is None else e
        x = value[c14]
        e = c15.get(x) if type(x) is int else None
        buf += c16(x) if e is None else e
        x = value[c17]
        e = c18.get(x) if type(x) is int else None
        buf += c19(x) if e is None else e
        x = value[c20]
        c21(buf, x)
        x = value.get(c22, ())
        c23(buf, x)
        x = value[c24]
        c25(buf, x)
        x = value[c26]
        c27(buf, x)
        x = value[c28]
        c29(buf, x)
        x = value[c30]
        c31(buf, x)

    return write_fields


WRITERS: dict[str, Callable[[dict[str, Any]], Callable[..., Any]]] = {
    "8673fa6340487e9b22d8d1d7b31369e445dce1315a917b977ff188833dbaa2c1": _writer_0,
    "e7f5072a9da6d738d34087b2d22695dee2ab450832da248e5c368ec479863e0c": _writer_1,
    "efb92a27aeaccb136a25476ccca5a408c1db7dc76f8c13a991510f0103c18acb": _writer_2,
    "1ee0b6d70404bca267e2d5d1cb777f8bede7c3a39f9bc82578312d78fb1692ff": _writer_3,
    "70e3460bf91901bab0cd0b4c55f841bf537204dd108eebf051065b089db2998d": _writer_4,
    "eafe310b3aaf794b7d1c142c6cfbe7c4ec24a76cd97018f70e7b955efdd2898a": _writer_5,
    "e139e7e6b177ece1803febb561d565074c4f82164a72031bcdcc3c241f74e793": _writer_6,
    "4ca899f3c07da39ce8c128ae0af197bae4adcaf9784e476a36c7dceb95b1e2b8": _writer_7,
    "05f935a95dd8c428a30698534ca0d9814b5bbb0bed4825d500190baf59b0441d": _writer_8,
    "15a3b8a408279d764384fc0cf8452d0f6f233f64ad6a323d41c086f400ddab82": _writer_9,
    "6b89e3d2e470b4331bce95a164cddabf4177e3ef8f85b643ae4ca6adb10ee0bd": _writer_10,
    "089da91ec6fe031ecc1bd34b1398e2adaf1461d6642d4c9255ed8f8e96738993": _writer_11,
}
