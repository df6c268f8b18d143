"""Avro encoding of the event contract: schemas parsed once, single-object and Confluent wire formats.

Values are written with fastavro. Before fastavro sees a record, a checker compiled from the schema makes
sure it fits the contract exactly: decimals are quantized to the schema's scale without rounding (more
places, or more digits than the precision, are rejected), timestamps must be timezone-aware, ``int``
fields must fit 32 bits and every field without a default must be present. A record that does not fit
raises :class:`~publisher.errors.ParseError`, so the pipeline dead-letters it instead of publishing
something a consumer would misread.

That checker plus fastavro is the reference path. The codecs first try the fast path of
:mod:`~publisher.kafka.avro_writer`, generated from the same schema, which writes the same bytes for every
record it accepts and declines (to the reference path) everything else, so errors read exactly as above.

Two encodings (DESIGN §6): Avro single-object encoding, ``C3 01`` + the 8-byte little-endian CRC-64-AVRO
fingerprint of the writer schema's Parsing Canonical Form + body, and the Confluent wire format, ``00`` +
the 4-byte big-endian schema registry id + body. :class:`ReadingDecoder` reads both.
"""

from __future__ import annotations

import functools
import io
import json
import re
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Context, Decimal, Inexact, InvalidOperation
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

import fastavro
import structlog
from fastavro.read import SchemaResolutionError
from fastavro.schema import SchemaParseException, parse_schema, to_parsing_canonical_form
from fastavro.schema import fingerprint as fastavro_fingerprint

from publisher.errors import ConfigError, KafkaFatalError, ParseError
from publisher.kafka.avro_partial import PartialWriter, compile_partial
from publisher.kafka.avro_writer import Decline, compile_writer

if TYPE_CHECKING:
    from confluent_kafka.schema_registry import SchemaRegistryClient

log = structlog.get_logger(__name__)

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"
CONTENT_TYPE = b"application/vnd.apache.avro+binary"
_SINGLE_OBJECT_HEADER = len(SINGLE_OBJECT_MAGIC) + 8
_CONFLUENT_HEADER = len(CONFLUENT_MAGIC) + 4
_INT_RANGE = (-(2**31), 2**31 - 1)
_LONG_RANGE = (-(2**63), 2**63 - 1)
#: errors fastavro raises for data that does not match a schema, when writing or reading
_FASTAVRO_DATA_ERRORS = (
    EOFError,
    IndexError,
    KeyError,
    OverflowError,
    TypeError,
    ValueError,
    AttributeError,
)

#: what the compiled fast path raises for a datum it does not write (the reference path then decides)
_FAST_PATH_DECLINED = (Decline, *_FASTAVRO_DATA_ERRORS, ArithmeticError)

# ------------------------------------------------------------------------------------------ schemas


@dataclass(frozen=True)
class AvroSchema:
    """A schema parsed once, with the identities the wire formats and headers need."""

    name: str  #: full name, e.g. ``netstream.publisher.v1.MeterReading``
    parsed: Any  #: fastavro ``parse_schema`` output
    canonical: str  #: Parsing Canonical Form
    fingerprint: bytes  #: 8-byte CRC-64-AVRO of ``canonical``, little-endian (Avro spec)
    text: str  #: the full schema JSON (docs, defaults, logical types): what a registry stores

    @property
    def fingerprint_hex(self) -> str:
        """The fingerprint as 16 lowercase hex digits, in wire (little-endian) byte order."""
        return self.fingerprint.hex()


def schema_from_json(text: str, *, origin: str = "schema") -> AvroSchema:
    """Parse a schema from its JSON text; ``origin`` names it in the error when the text is not a schema."""
    try:
        raw = json.loads(text)
        parsed = parse_schema(raw)
        canonical = to_parsing_canonical_form(raw)
    except (ValueError, TypeError, KeyError, SchemaParseException) as exc:
        raise ConfigError(
            f"{origin} is not a valid Avro schema ({_one_line(exc)}); fix or restore it"
        ) from exc
    if not isinstance(parsed, dict) or "name" not in parsed:
        raise ConfigError(f"{origin} is not a named Avro schema; an event schema must be a record")
    return AvroSchema(
        name=parsed["name"],
        parsed=parsed,
        canonical=canonical,
        fingerprint=bytes.fromhex(fastavro_fingerprint(canonical, "CRC-64-AVRO")),
        text=json.dumps(raw, separators=(",", ":"), ensure_ascii=False),
    )


@functools.cache
def load_schema(filename: str) -> AvroSchema:
    """Load ``filename`` (e.g. ``meter_reading.avsc``) from the package's schemas directory, once."""
    resource = resources.files("publisher") / "schemas" / filename
    try:
        text = resource.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"schema {filename} is missing from the installed package ({exc.strerror}); reinstall it"
        ) from exc
    return schema_from_json(text, origin=f"schemas/{filename}")


def subject_for(topic: str) -> str:
    """The schema registry subject of a topic's values (Confluent TopicNameStrategy)."""
    if not topic:
        raise ConfigError("an empty topic name has no registry subject; set PUBLISHER_TOPIC")
    return f"{topic}-value"


# ------------------------------------------------------------------------------------ record checks


class _Unfit(Exception):
    """A datum does not fit its schema; ``path`` is filled in while the error unwinds through records."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path: list[str] = []


_Prepare = Callable[[Any], Any]


def _ranged(kind: str, bounds: tuple[int, int]) -> _Prepare:
    low, high = bounds

    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Unfit(f"expected an {kind}, got {type(value).__name__}")
        if not low <= value <= high:
            raise _Unfit(f"{value} does not fit an Avro {kind}")
        return value

    return check


def _decimal(precision: int, scale: int) -> _Prepare:
    context = Context(prec=precision, traps=[Inexact, InvalidOperation])
    quantum = Decimal(1).scaleb(-scale)

    def convert(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise _Unfit(f"expected an exact Decimal, got {type(value).__name__} (floats are never accepted)")
        number = Decimal(value)
        if not number.is_finite():
            raise _Unfit(f"{number} is not a finite number")
        try:
            return number.quantize(quantum, context=context)
        except Inexact:
            raise _Unfit(
                f"{number} has more than {scale} decimal places; it cannot be stored exactly"
            ) from None
        except InvalidOperation:
            raise _Unfit(f"{number} has more than {precision - scale} digits before the point") from None

    return convert


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.utcoffset() is None:
        raise _Unfit(f"naive datetime {value.isoformat()} has no time zone; give it one (UTC)")
    return value


def _uuid(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    try:
        return str(UUID(value))
    except (TypeError, ValueError, AttributeError):
        raise _Unfit(f"{value!r} is not a UUID") from None


def _optional(inner: _Prepare) -> _Prepare:
    return lambda value: None if value is None else inner(value)


def _record(schema: Mapping[str, Any], named: dict[str, _Prepare | None]) -> _Prepare:
    fields = [
        (field["name"], "default" in field, _compile(field["type"], named)) for field in schema["fields"]
    ]
    required = tuple(name for name, has_default, _ in fields if not has_default)
    converters = tuple((name, prepare) for name, _, prepare in fields if prepare is not None)

    def prepare_record(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise _Unfit(f"expected a record (mapping), got {type(value).__name__}")
        missing = [name for name in required if name not in value]
        if missing:
            raise _Unfit(f"missing field(s) {', '.join(missing)}, which have no default")
        out = dict(value)
        for name, prepare in converters:
            if name in out:
                try:
                    out[name] = prepare(out[name])
                except _Unfit as exc:
                    exc.path.insert(0, name)
                    raise
        return out

    named[schema["name"]] = prepare_record
    return prepare_record


def _compile(schema: Any, named: dict[str, _Prepare | None]) -> _Prepare | None:
    """A checker/converter for data of ``schema``, or None where fastavro's own checks are enough."""
    if isinstance(schema, list):
        return _compile_union(schema, named)
    if isinstance(schema, str):
        return _PRIMITIVES.get(schema) or named.get(schema)
    logical = schema.get("logicalType")
    if logical == "decimal" and schema["type"] == "bytes":
        return _decimal(schema["precision"], schema.get("scale", 0))
    if logical is not None:
        return _LOGICAL.get(logical)
    if schema["type"] == "record":
        return _record(schema, named)
    return _PRIMITIVES.get(schema["type"])  # arrays, maps, enums, fixed: fastavro's checks suffice


def _compile_union(schema: list[Any], named: dict[str, _Prepare | None]) -> _Prepare | None:
    others = [branch for branch in schema if branch != "null"]
    if len(others) != 1 or len(schema) != 2:
        return None  # wider unions are left to fastavro (the contract schemas have none)
    inner = _compile(others[0], named)
    return None if inner is None else _optional(inner)


_PRIMITIVES: dict[str, _Prepare] = {"int": _ranged("int", _INT_RANGE), "long": _ranged("long", _LONG_RANGE)}
_LOGICAL: dict[str, _Prepare] = {"timestamp-micros": _aware, "timestamp-millis": _aware, "uuid": _uuid}


# ---------------------------------------------------------------------------------------- codecs


class ValueCodec(Protocol):
    """Encodes records of one schema into Kafka values (and back) and names them in headers."""

    schema: AvroSchema

    def encode(self, record: Mapping[str, Any]) -> bytes: ...

    def decode(self, data: bytes) -> dict[str, Any]: ...

    def headers(self) -> list[tuple[str, bytes]]: ...

    def bind(
        self, varying: tuple[str, ...], fixed: Mapping[str, Any], *, canonical: tuple[str, ...] = ()
    ) -> Callable[..., bytes | None] | None: ...


class _BodyCodec:
    """What both wire formats share: the checked body and the headers."""

    def __init__(self, schema: AvroSchema, prefix: bytes) -> None:
        self.schema = schema
        self._prefix = prefix
        prepare = _compile(schema.parsed, {})
        assert prepare is not None  # a named schema is a record, which always compiles
        self._prepare = prepare
        self._fast = compile_writer(schema.parsed)
        self._partials: dict[tuple[tuple[str, ...], tuple[str, ...]], PartialWriter] = {}
        self._headers = (
            ("event_type", schema.name.encode()),
            ("schema_fingerprint", schema.fingerprint_hex.encode()),
            ("content_type", CONTENT_TYPE),
        )

    def encode(self, record: Mapping[str, Any]) -> bytes:
        """The record as a Kafka value; ParseError when it does not fit the schema."""
        if self._fast is not None:
            buf = bytearray(self._prefix)
            try:
                self._fast(buf, record)
            except _FAST_PATH_DECLINED:
                pass  # the reference path below writes the record or names what is wrong with it
            else:
                return bytes(buf)
        try:
            prepared = self._prepare(record)
            buffer = io.BytesIO()
            buffer.write(self._prefix)
            fastavro.schemaless_writer(buffer, self.schema.parsed, prepared)
        except _Unfit as exc:
            where = ".".join([self.schema.name, *exc.path])
            raise ParseError(f"{where}: {exc.problem}; the reading cannot be published as it is") from exc
        except _FASTAVRO_DATA_ERRORS as exc:
            raise ParseError(
                f"record does not fit {self.schema.name}: {_one_line(exc)}; the reading cannot be published"
            ) from exc
        return buffer.getvalue()

    def headers(self) -> list[tuple[str, bytes]]:
        """Kafka headers naming the event type, the schema fingerprint and the content type."""
        return list(self._headers)

    def bind(
        self, varying: tuple[str, ...], fixed: Mapping[str, Any], *, canonical: tuple[str, ...] = ()
    ) -> Callable[..., bytes | None] | None:
        """A fast ``encode(*values)`` for records that share ``fixed`` and differ only in the fields named
        ``varying`` (given in that order); it returns ``None`` for a record it does not write exactly, which
        :meth:`encode` then writes or rejects. ``None`` when there is no fast path for these fields.
        ``canonical``: uuid fields the caller always gives in canonical form (see ``compile_partial``)."""
        partial = self._partials.get((varying, canonical))
        if partial is None:
            partial = compile_partial(self.schema.parsed, varying, canonical=canonical)
            if partial is None:
                return None
            self._partials[varying, canonical] = partial
        return partial.bind(self._prefix, fixed)

    def _body(self, data: bytes, offset: int) -> dict[str, Any]:
        return _read_body(data, offset, self.schema, self.schema)


class SingleObjectCodec(_BodyCodec):
    """Avro single-object encoding: ``C3 01`` + 8-byte fingerprint + body. Needs no registry."""

    def __init__(self, schema: AvroSchema) -> None:
        super().__init__(schema, SINGLE_OBJECT_MAGIC + schema.fingerprint)

    def decode(self, data: bytes) -> dict[str, Any]:
        """Decode a value this codec wrote; ParseError for any other encoding or schema."""
        if data[:2] != SINGLE_OBJECT_MAGIC or len(data) < _SINGLE_OBJECT_HEADER:
            raise ParseError(f"value is not Avro single-object encoded (starts {data[:2].hex()})")
        if data[2:_SINGLE_OBJECT_HEADER] != self.schema.fingerprint:
            raise ParseError(
                f"value was written with schema fingerprint {data[2:10].hex()}, not {self.schema.name} "
                f"({self.schema.fingerprint_hex}); decode it with ReadingDecoder"
            )
        return self._body(data, _SINGLE_OBJECT_HEADER)


class ConfluentCodec(_BodyCodec):
    """Confluent wire format: ``00`` + 4-byte big-endian schema id + body.

    The schema is registered (or found) under ``subject`` once, here; encoding never calls the registry.
    """

    def __init__(self, schema: AvroSchema, registry: SchemaRegistryClient, subject: str) -> None:
        from confluent_kafka.schema_registry import Schema  # noqa: PLC0415 - registry extra only when used

        try:
            schema_id = registry.register_schema(subject, Schema(schema.text, "AVRO"))
        except Exception as exc:  # the client raises its own errors and its HTTP library's
            raise KafkaFatalError(
                f"could not register {schema.name} under subject {subject} ({_registry_problem(exc)}); "
                "check SCHEMA_REGISTRY_URL and the subject's compatibility setting"
            ) from exc
        self.schema_id = int(schema_id)
        super().__init__(schema, CONFLUENT_MAGIC + struct.pack(">I", self.schema_id))
        log.info("schema_registered", subject=subject, schema_id=self.schema_id, event_type=schema.name)

    def decode(self, data: bytes) -> dict[str, Any]:
        """Decode a value this codec wrote; ParseError for any other encoding or schema id."""
        if data[:1] != CONFLUENT_MAGIC or len(data) < _CONFLUENT_HEADER:
            raise ParseError(f"value is not in the Confluent wire format (starts {data[:1].hex()})")
        (schema_id,) = struct.unpack(">I", data[1:_CONFLUENT_HEADER])
        if schema_id != self.schema_id:
            raise ParseError(
                f"value was written with registry schema id {schema_id}, not {self.schema_id}; "
                "decode it with ReadingDecoder"
            )
        return self._body(data, _CONFLUENT_HEADER)


# --------------------------------------------------------------------------------------- decoding


class ReadingDecoder:
    """Decodes values in either wire format, by magic bytes, into records of one reader schema.

    Single-object values are looked up by fingerprint among the known writer schemas (the reader schema
    and ``writers``); Confluent values by schema id in ``registry``, each writer schema fetched once and
    cached. Values written with an older or newer compatible schema are resolved to the reader schema.
    Logical types come back as Python values: ``uuid`` as :class:`~uuid.UUID`, decimals as
    :class:`~decimal.Decimal` with the schema's scale, timestamps as timezone-aware UTC datetimes.
    """

    def __init__(
        self,
        reader: AvroSchema | None = None,
        *,
        writers: Iterable[AvroSchema] = (),
        registry: SchemaRegistryClient | None = None,
    ) -> None:
        self.reader = reader if reader is not None else load_schema("meter_reading.avsc")
        self._by_fingerprint = {schema.fingerprint: schema for schema in (*writers, self.reader)}
        self._registry = registry
        self._by_id: dict[int, AvroSchema] = {}

    def decode(self, data: bytes) -> dict[str, Any]:
        """The record in ``data``; ParseError for a bad magic, an unknown writer schema or a bad body."""
        if data[:2] == SINGLE_OBJECT_MAGIC and len(data) >= _SINGLE_OBJECT_HEADER:
            writer = self._by_fingerprint.get(data[2:_SINGLE_OBJECT_HEADER])
            if writer is None:
                raise ParseError(
                    f"value was written with unknown schema fingerprint {data[2:10].hex()}; "
                    "add that schema version to the decoder's writers"
                )
            return _read_body(data, _SINGLE_OBJECT_HEADER, writer, self.reader)
        if data[:1] == CONFLUENT_MAGIC and len(data) >= _CONFLUENT_HEADER:
            (schema_id,) = struct.unpack(">I", data[1:_CONFLUENT_HEADER])
            return _read_body(data, _CONFLUENT_HEADER, self._registered(schema_id), self.reader)
        raise ParseError(
            f"value starts with {data[:2].hex() or 'nothing'}, which is neither Avro single-object "
            "(c301) nor Confluent (00) encoding; it was not written by this publisher"
        )

    def _registered(self, schema_id: int) -> AvroSchema:
        cached = self._by_id.get(schema_id)
        if cached is not None:
            return cached
        if self._registry is None:
            raise ParseError(
                f"value is in the Confluent wire format (schema id {schema_id}) but no schema registry is "
                "configured; set SCHEMA_REGISTRY_URL"
            )
        from confluent_kafka.schema_registry import SchemaRegistryError  # noqa: PLC0415 - optional extra

        try:
            registered = self._registry.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise ParseError(f"schema id {schema_id} is not in the schema registry") from exc
            raise KafkaFatalError(
                f"could not fetch schema id {schema_id} ({_registry_problem(exc)}); check SCHEMA_REGISTRY_URL"
            ) from exc
        except Exception as exc:  # transport errors of the client's HTTP library
            raise KafkaFatalError(
                f"could not fetch schema id {schema_id} ({_registry_problem(exc)}); check SCHEMA_REGISTRY_URL"
            ) from exc
        if registered.schema_type not in {None, "AVRO"} or registered.schema_str is None:
            raise ParseError(f"schema id {schema_id} is a {registered.schema_type} schema, not Avro")
        try:
            writer = schema_from_json(registered.schema_str, origin=f"registry schema id {schema_id}")
        except ConfigError as exc:
            raise ParseError(exc.message) from exc
        self._by_id[schema_id] = writer
        log.info("writer_schema_fetched", schema_id=schema_id, event_type=writer.name)
        return writer


def _read_body(data: bytes, offset: int, writer: AvroSchema, reader: AvroSchema) -> dict[str, Any]:
    buffer = io.BytesIO(data)
    buffer.seek(offset)
    reader_parsed = None if writer.text == reader.text else reader.parsed
    try:
        record = fastavro.schemaless_reader(buffer, writer.parsed, reader_parsed)
    except (*_FASTAVRO_DATA_ERRORS, SchemaResolutionError) as exc:
        raise ParseError(f"{writer.name} value could not be decoded: {_one_line(exc)}") from exc
    if buffer.tell() != len(data):
        raise ParseError(f"{writer.name} value has {len(data) - buffer.tell()} bytes after the record")
    if not isinstance(record, dict):
        raise ParseError(f"{writer.name} value did not decode to a record")
    return record


# ------------------------------------------------------------------------------------------ helpers

_URL_CREDENTIALS = re.compile(r"//[^/@\s]+@")


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _registry_problem(exc: BaseException) -> str:
    """A one-line description of a registry failure, without any credentials a URL may carry."""
    return f"{type(exc).__name__}: {_URL_CREDENTIALS.sub('//***@', _one_line(exc))}"
