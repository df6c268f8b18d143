"""Avro schema compatibility: can data written with one schema be read with another?

Implements the schema resolution rules of the Avro specification for the question a schema registry
asks: can a *reader* schema read every datum a *writer* schema can produce?

- records match by unqualified name or reader alias; a reader field missing from the writer needs a
  default; writer fields the reader does not know are skipped;
- enums match by name; writer symbols the reader lacks need a reader enum ``default``;
- fixed types match by name and size; arrays and maps by their items and values;
- primitives match themselves and the promotions int→long/float/double, long→float/double,
  float→double, string↔bytes;
- a writer union is readable when each of its branches is; a reader union when one of its branches
  reads the writer's type.

One rule is stricter than the resolution algorithm, deliberately: a change of logical type (a decimal's
precision or scale, ``timestamp-micros`` to ``timestamp-millis``, ``uuid`` to plain ``string``) is
reported, because the bytes would still decode but mean something else. (For decimals the specification
requires equal precision and scale as well.)

The event contract evolves only compatibly in both directions (DESIGN §6): :func:`compatibility_problems`
checks a new schema against the previously released one both ways.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastavro.schema import parse_schema

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_NAMED = frozenset({"record", "error", "enum", "fixed"})
#: (writer type, reader type) pairs the reader may promote
_PROMOTIONS = frozenset(
    {
        ("int", "long"),
        ("int", "float"),
        ("int", "double"),
        ("long", "float"),
        ("long", "double"),
        ("float", "double"),
        ("string", "bytes"),
        ("bytes", "string"),
    }
)


@dataclass(frozen=True)
class Incompatibility:
    """One reason a reader cannot read a writer's data: where (a dotted path) and what."""

    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


def reader_problems(reader: Any, writer: Any) -> list[Incompatibility]:
    """Why ``reader`` cannot read all data written with ``writer``; empty when it can.

    Both are Avro schemas as JSON objects (parsed ``.avsc`` content) or fastavro-parsed schemas.
    """
    reader_parsed, writer_parsed = parse_schema(reader), parse_schema(writer)
    checker = _Checker(_named_types(reader_parsed), _named_types(writer_parsed))
    return checker.problems(reader_parsed, writer_parsed, _root_path(reader_parsed))


def compatibility_problems(new: Any, old: Any) -> list[str]:
    """Problems with evolving ``old`` into ``new``, in both directions (FULL compatibility).

    Backward: consumers on ``new`` read data written with ``old``. Forward: consumers still on ``old``
    read data written with ``new``.
    """
    backward = [f"backward (new reads old) {problem}" for problem in reader_problems(new, old)]
    forward = [f"forward (old reads new) {problem}" for problem in reader_problems(old, new)]
    return backward + forward


class _Checker:
    def __init__(self, reader_names: dict[str, Any], writer_names: dict[str, Any]) -> None:
        self._reader_names = reader_names
        self._writer_names = writer_names
        #: named type pairs being compared further up the stack (recursive types compare as compatible)
        self._in_progress: set[tuple[str, str]] = set()

    def problems(self, reader: Any, writer: Any, path: str) -> list[Incompatibility]:
        reader = _resolve(reader, self._reader_names)
        writer = _resolve(writer, self._writer_names)
        if isinstance(writer, list):
            return self._writer_union(reader, writer, path)
        if isinstance(reader, list):
            return self._reader_union(reader, writer, path)
        problem = _shallow_problem(reader, writer)
        if problem is not None:
            return [Incompatibility(path, problem)]
        return self._children(reader, writer, path)

    def _writer_union(self, reader: Any, writer: list[Any], path: str) -> list[Incompatibility]:
        if not isinstance(reader, list):
            return [problem for branch in writer for problem in self.problems(reader, branch, path)]
        resolved = [_resolve(branch, self._writer_names) for branch in writer]
        return [problem for branch in resolved for problem in self._reader_union(reader, branch, path)]

    def _reader_union(self, reader: list[Any], writer: Any, path: str) -> list[Incompatibility]:
        """A reader union reads a (non-union) writer type when one of its branches does."""
        outcomes = [(branch, self.problems(branch, writer, path)) for branch in reader]
        if any(not problems for _, problems in outcomes):
            return []
        kind = _type(writer)
        similar = [
            problems for branch, problems in outcomes if _type(_resolve(branch, self._reader_names)) == kind
        ]
        if len(similar) == 1:
            return similar[0]  # the branch meant to read it, and why it cannot
        return [Incompatibility(path, f"the reader's union has no branch that reads {_describe(writer)}")]

    def _children(self, reader: Any, writer: Any, path: str) -> list[Incompatibility]:
        kind = _type(reader)
        if kind != _type(writer):
            return []  # a promotion: primitives have no children
        if kind == "array":
            return self.problems(reader["items"], writer["items"], f"{path}.items")
        if kind == "map":
            return self.problems(reader["values"], writer["values"], f"{path}.values")
        if kind != "record":
            return []
        pair = (reader["name"], writer["name"])
        if pair in self._in_progress:
            return []
        self._in_progress.add(pair)
        try:
            return list(self._field_problems(reader, writer, path))
        finally:
            self._in_progress.discard(pair)

    def _field_problems(self, reader: Any, writer: Any, path: str) -> Iterator[Incompatibility]:
        writer_fields = {field["name"]: field for field in writer["fields"]}
        for field in reader["fields"]:
            names = [field["name"], *field.get("aliases", ())]
            match = next((writer_fields[name] for name in names if name in writer_fields), None)
            where = f"{path}.{field['name']}"
            if match is not None:
                yield from self.problems(field["type"], match["type"], where)
            elif "default" not in field:
                yield Incompatibility(where, "field is missing from the writer's schema and has no default")


def _shallow_problem(reader: Any, writer: Any) -> str | None:
    """What makes two non-union schemas incompatible at this level, ignoring their children."""
    reader_logical, writer_logical = _logical(reader), _logical(writer)
    if reader_logical != writer_logical:
        return f"logical type changed from {writer_logical} to {reader_logical}"
    reader_type, writer_type = _type(reader), _type(writer)
    if reader_type != writer_type:
        promoted = (writer_type, reader_type) in _PROMOTIONS
        return None if promoted else f"{_describe(writer)} cannot be read as {_describe(reader)}"
    if reader_type in _NAMED and not _names_match(reader, writer):
        return f"{_describe(writer)} cannot be read as {_describe(reader)}"
    if reader_type == "enum":
        missing = [symbol for symbol in writer["symbols"] if symbol not in reader["symbols"]]
        if missing and "default" not in reader:
            return f"the reader's enum lacks symbol(s) {', '.join(missing)} and has no default symbol"
    if reader_type == "fixed" and reader["size"] != writer["size"]:
        return f"fixed size changed from {writer['size']} to {reader['size']}"
    return None


def _named_types(schema: Any) -> dict[str, Any]:
    """Every named type defined in a parsed schema, by full name."""
    found: dict[str, Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for branch in node:
                walk(branch)
        elif isinstance(node, dict):
            if node.get("type") in _NAMED and "name" in node:
                found.setdefault(node["name"], node)
            for field in node.get("fields", ()):
                walk(field["type"])
            for key in ("items", "values"):
                if key in node:
                    walk(node[key])

    walk(schema)
    return found


def _resolve(schema: Any, names: dict[str, Any]) -> Any:
    """A named type's definition for a reference to it; any other schema as it is."""
    if isinstance(schema, str) and schema not in _PRIMITIVES:
        return names[schema]
    return schema


def _type(schema: Any) -> str:
    if isinstance(schema, str):
        return schema
    kind: str = schema["type"]
    return "record" if kind == "error" else kind


def _logical(schema: Any) -> str:
    if not isinstance(schema, dict) or "logicalType" not in schema:
        return "none"
    logical = str(schema["logicalType"])
    if logical == "decimal":
        return f"decimal({schema.get('precision')},{schema.get('scale', 0)})"
    return logical


def _short(name: str) -> str:
    return name.rpartition(".")[2]


def _names_match(reader: Any, writer: Any) -> bool:
    namespace = reader["name"].rpartition(".")[0]
    aliases = {
        alias if "." in alias or not namespace else f"{namespace}.{alias}"
        for alias in reader.get("aliases", ())
    }
    return _short(reader["name"]) == _short(writer["name"]) or writer["name"] in aliases


def _describe(schema: Any) -> str:
    if isinstance(schema, list):
        return "a union of " + ", ".join(_describe(branch) for branch in schema)
    kind = _type(schema)
    name = f" {_short(schema['name'])}" if isinstance(schema, dict) and kind in _NAMED else ""
    logical = _logical(schema)
    return f"{kind}{name}" + (f" ({logical})" if logical != "none" else "")


def _root_path(schema: Any) -> str:
    return _short(schema["name"]) if isinstance(schema, dict) and "name" in schema else "(root)"
