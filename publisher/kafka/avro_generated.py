"""Writers generated ahead of time from the package's schemas (``make writers``); do not edit.

Rendered by :func:`publisher.kafka.avro_source.render_module` for the writers the pipeline uses on every
reading, so that the compiled build compiles them. :class:`~publisher.kafka.avro_source.Source` finds each by
the SHA-256 of its text, so a stale entry is never used: a changed schema generates another text, which is
compiled at run time instead, and a unit test fails until this module is rendered again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


#: meter_reading.avsc: its 10 varying fields
def _writer_0(n: dict[str, Any]) -> Callable[..., bytes]:
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
    ) -> bytes:
        x: Any
        e: bytes | None
        buf = bytearray(s[0])
        x = x0
        if type(x) is not str or len(x) != 36 or not x.isascii():
            raise Decline
        buf += b"H"
        buf += x.encode()
        buf += s[1]
        x = x1
        if x is None:
            buf += NULL
        else:
            e = c9.get(x) if type(x) is c11 else None
            buf += c10(x) if e is None else e
        x = x2
        e = c13.get(x) if type(x) is c14 else None
        if e is None:
            c12(buf, x)
        else:
            buf += e
        x = x3
        if x is None:
            buf += NULL
        else:
            e = c15.get(x) if type(x) is c17 else None
            buf += c16(x) if e is None else e
        x = x4
        if x is None:
            buf += NULL
        else:
            e = c18.get(x) if type(x) is int else None
            buf += c19(x) if e is None else e
        x = x5
        e = STRING_TUPLES.get(x) if type(x) is tuple else None
        buf += strings(x) if e is None else e
        x = x6
        e = c20.get(x) if type(x) is int else None
        buf += c21(x) if e is None else e
        x = x7
        if x is None:
            buf += NULL
        else:
            e = c22.get(x) if type(x) is c24 else None
            buf += c23(x) if e is None else e
        x = x8
        if x is None:
            buf += NULL
        else:
            e = c25.get(x) if type(x) is c27 else None
            buf += c26(x) if e is None else e
        buf += s[9]
        x = x9
        if x is None:
            buf += NULL
        else:
            e = c28.get(x) if type(x) is int else None
            buf += c29(x) if e is None else e
        buf += s[10]
        return bytes(buf)

    return write_partial


WRITERS: dict[str, Callable[[dict[str, Any]], Callable[..., Any]]] = {
    "241888d11e8d126950e39d02a0409f4791c554f3858a99b577d277f5a2a07c5d": _writer_0,
}
