"""Records of which most fields stay the same for many records: encode those once, the rest per record.

A series' events in one polled window share their usage point, meter, reading type, kind, poll time, source
and time zone; only ten fields differ from reading to reading. :func:`compile_partial` compiles, from the
same generated code as :mod:`avro_writer`, a writer that takes the encoded runs of fixed fields and the
varying values, and splices them: byte for byte what the full writer writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, cast

from publisher.kafka.avro_source import Source
from publisher.kafka.avro_writer import (
    Decline,
    Write,
    compile_schema,
    emit,
    generate_fields,
    new_source,
)


class PartialWriter:
    """Writes records of one schema whose fields other than ``varying`` stay the same for many records.

    The fixed fields are encoded once per set of values (:meth:`segments`): the bytes of every run of
    consecutive fixed fields. :attr:`write` then takes those segments and only the varying values, in the
    order of ``varying``, as positional arguments, and returns the whole record (the segments spliced
    between the varying fields, so byte for byte the full writer's output). Where the full writer raises
    :class:`Decline` for anything it does not write exactly, it returns ``None``.
    """

    def __init__(
        self,
        varying: tuple[str, ...],
        fixed_runs: list[Write],
        write: Callable[..., bytes | None],
    ) -> None:
        self.varying = varying
        self._fixed_runs = fixed_runs
        #: ``write(segments, *varying values) -> bytes``, or ``None`` for what it does not write exactly
        self.write = write

    def segments(self, prefix: bytes, fixed: Mapping[str, Any]) -> tuple[bytes, ...]:
        """The encoded runs of fixed fields, ``prefix`` (a wire-format header) first; Decline as above."""
        parts = []
        for run in self._fixed_runs:
            buf = bytearray()
            run(buf, fixed)
            parts.append(bytes(buf))
        parts[0] = prefix + parts[0]
        return tuple(parts)

    def bind(self, prefix: bytes, fixed: Mapping[str, Any]) -> Callable[..., bytes | None] | None:
        """``encode(*varying values)``: the record with ``fixed`` and those values, after ``prefix``; it
        returns ``None`` where the fast path declines. ``None`` when the fixed values already decline."""
        try:
            segments = self.segments(prefix, fixed)
        except _DECLINED:
            return None
        return partial(self.write, segments)


#: what a generated writer raises for a datum it does not write: Decline, or an error of a str/int/Decimal
#: operation on a datum the type checks let through (a lone surrogate that UTF-8 cannot encode)
_DECLINED = (Decline, ValueError, TypeError, ArithmeticError)


def compile_partial(
    schema: Mapping[str, Any],
    varying: tuple[str, ...],
    *,
    canonical: tuple[str, ...] = (),
    prebuilt: bool = True,
) -> PartialWriter | None:
    """A :class:`PartialWriter` for the record ``schema`` with the fields named in ``varying`` (in that
    order as arguments), or ``None`` when the fast path does not write the schema.

    ``canonical`` names varying ``uuid`` fields whose values the caller builds in the canonical form
    itself (lower-case hex, 8-4-4-4-12): their form is not checked again, only that they are 36 ASCII
    characters, so a record is always well-formed Avro. ``prebuilt=False`` compiles the generated text even
    where :mod:`avro_generated` holds it (to compare the two)."""
    generated = partial_source(schema, varying, canonical=canonical)
    if generated is None:
        return None
    source, fixed_runs = generated
    write = cast(Callable[..., bytes | None], source.build(prebuilt=prebuilt))
    return PartialWriter(varying, fixed_runs, write)


def partial_source(
    schema: Mapping[str, Any], varying: tuple[str, ...], *, canonical: tuple[str, ...] = ()
) -> tuple[Source, list[Write]] | None:
    """The generated text of :func:`compile_partial`'s writer and the writers of its runs of fixed fields."""
    named: dict[str, Write] = {}  # the named types the fields refer to, compiled with the whole record
    if schema.get("type") != "record" or compile_schema(schema, named) is None:
        return None
    fields = schema["fields"]
    names = [field["name"] for field in fields]
    if len(set(varying)) != len(varying) or not set(varying) <= set(names):
        raise ValueError(f"varying fields {varying} are not distinct fields of {schema.get('name')}")
    uuids = {field["name"] for field in fields if _is_uuid(field["type"])}
    if not set(canonical) <= uuids & set(varying):
        raise ValueError(f"canonical fields {canonical} are not varying uuid fields of {schema.get('name')}")
    # runs of fixed fields: one before each varying field and one after the last (any may be empty)
    runs: list[list[Mapping[str, Any]]] = [[]]
    for field in fields:
        if field["name"] in varying:
            runs.append([])
        else:
            runs[-1].append(field)
    fixed_runs = [_fixed_run(run, named) for run in runs]
    out = new_source(f"the {len(varying)} varying fields of {str(schema.get('name')).rsplit('.', 1)[-1]}")
    arguments = {name: f"x{i}" for i, name in enumerate(varying)}
    out.define(
        "write_partial",
        [("s", "tuple[bytes, ...]")] + [(a, "Any") for a in arguments.values()],
        "bytes | None",
    )
    # a datum the fast path does not write exactly returns None (the caller's reference path decides),
    # here rather than in a wrapper around every call
    out.line(1, "try:")
    out.line(2, "parts = [s[0]]")
    segment = 0
    for field in fields:
        if field["name"] not in varying:
            continue
        if segment and runs[segment]:  # a run without fields always encodes to nothing
            out.line(2, f"parts.append(s[{segment}])")
        segment += 1
        out.line(2, f"x = {arguments[field['name']]}")
        if field["name"] in canonical:
            out.line(2, "if type(x) is not str or len(x) != 36 or not x.isascii():")
            out.line(3, "raise Decline")
            out.line(2, 'parts.append(b"H")')  # zigzag(36)
            out.line(2, "parts.append(x.encode())")
        else:
            emit(out, field["type"], 2, named, parts=True)
    if runs[segment]:
        out.line(2, f"parts.append(s[{segment}])")
    out.line(2, 'return b"".join(parts)')
    out.line(1, f"except {out.const(_DECLINED, 'tuple[type[Exception], ...]')}:")
    out.line(2, "return None")
    return out, fixed_runs


def _is_uuid(schema: Any) -> bool:
    return (
        isinstance(schema, Mapping) and schema.get("logicalType") == "uuid" and schema.get("type") == "string"
    )


def _fixed_run(fields: list[Mapping[str, Any]], named: dict[str, Write]) -> Write:
    """A writer of the consecutive fixed ``fields`` of a record given as a Mapping: the record writer's
    generated field code for just these fields (a required field left out is the caller's mistake)."""
    writer = generate_fields({"fields": fields}, named)
    assert writer is not None  # the whole record compiled, so each of its fields compiles
    return writer
