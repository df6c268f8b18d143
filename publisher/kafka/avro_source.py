"""The text of a generated writer function, and how it becomes a function: prebuilt, or compiled at run time.

:mod:`avro_writer` and :mod:`avro_partial` generate the source of one function per record schema (unrolled
field by field, see there). :meth:`Source.build` turns that text into the function:

- when :mod:`avro_generated` holds the same text (matched by its SHA-256), its ready-made factory is used.
  That module is rendered ahead of time by :func:`render_module` (``make writers``), so the compiled build
  compiles it with the rest of the hot path; interpreted it is just as fast as the alternative;
- otherwise the text is compiled with ``exec``. A schema the package does not prebuild (or a prebuilt
  module left stale by a schema change) is written correctly either way, only not compiled.

Both give the same function: the module's factory body is the very text, with the constants it names
bound from the same namespace.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from publisher.kafka import avro_generated

#: ruff format's line length, which the rendered module keeps
_LINE_LENGTH = 110
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: locals of a generated body: the datum being written, a memo hit, and the pieces of a record written as a
#: list (a partial writer) with the buffer of a nested writer's piece
_LOCALS = {"x": "Any", "e": "bytes | None", "parts": "list[bytes]", "tmp": "bytearray"}
_HEADER = '''"""Writers generated ahead of time from the package's schemas (``make writers``); do not edit.

Rendered by :func:`publisher.kafka.avro_source.render_module` for the writers the pipeline uses on every
reading, so that the compiled build compiles them. :class:`~publisher.kafka.avro_source.Source` finds each by
the SHA-256 of its text, so a stale entry is never used: a changed schema generates another text, which is
compiled at run time instead, and a unit test fails until this module is rendered again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any'''


#: the lists :func:`recording` is filling: each built :class:`Source` is appended to every one
_RECORDINGS: list[list[Source]] = []


@contextlib.contextmanager
def recording() -> Iterator[list[Source]]:
    """The sources built while inside, in order (what :func:`render_module` is given ahead of time)."""
    built: list[Source] = []
    _RECORDINGS.append(built)
    try:
        yield built
    finally:
        _RECORDINGS.remove(built)


class Source:
    """The text of one generated function and the names it uses, with the type of each name."""

    def __init__(self, names: Mapping[str, tuple[Any, str]], what: str = "") -> None:
        #: what the function writes, for the prebuilt module's comment
        self.what = what
        self.lines: list[str] = []
        self.names: dict[str, Any] = {name: value for name, (value, _) in names.items()}
        self.types: dict[str, str] = {name: annotation for name, (_, annotation) in names.items()}
        self.function = ""
        self._parameters: list[tuple[str, str]] = []
        self._returns = "None"

    def define(self, function: str, parameters: Sequence[tuple[str, str]], returns: str) -> None:
        """Start the text with the function's ``def`` line; ``parameters`` are (name, type) pairs."""
        self.function = function
        self._parameters = list(parameters)
        self._returns = returns
        self.line(0, f"def {function}({', '.join(name for name, _ in parameters)}):")

    def const(self, value: Any, annotation: str) -> str:
        """A name for ``value`` (of the type ``annotation``) that the text may use."""
        name = f"c{len(self.names)}"
        self.names[name] = value
        self.types[name] = annotation
        return name

    def line(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def text(self) -> str:
        return "\n".join(self.lines)

    def digest(self) -> str:
        return hashlib.sha256(self.text().encode()).hexdigest()

    def build(self, *, prebuilt: bool = True) -> Callable[..., Any]:
        """The function: :mod:`avro_generated`'s if it holds this text (and ``prebuilt``), else ``exec``'s."""
        for built in _RECORDINGS:
            built.append(self)
        factory = avro_generated.WRITERS.get(self.digest()) if prebuilt else None
        if factory is not None:
            return factory(self.names)
        namespace = dict(self.names)
        # Safe to exec: the text is generated from a schema's structure only (field names, symbols and
        # defaults are passed in as constants, never pasted into the text), and the schemas are the package's.
        exec(self.text(), namespace)  # noqa: S102  # nosec B102 - see the comment above
        return namespace[self.function]  # type: ignore[no-any-return]  # exec's namespace holds Any

    def render(self, index: int) -> list[str]:
        """This function as the factory ``_writer_<index>`` of :mod:`avro_generated`: typed, so that mypyc
        compiles it to direct dictionary look-ups and calls."""
        used = set(_IDENTIFIER.findall(self.text()))
        out = [f"def _writer_{index}(n: dict[str, Any]) -> Callable[..., {self._returns}]:"]
        out += [f'    {name}: {self.types[name]} = n["{name}"]' for name in self.names if name in used]
        out += ["", *_signature(self.function, self._parameters, self._returns)]
        out += [f"        {name}: {kind}" for name, kind in _LOCALS.items() if name in used]
        out += ["    " + line for line in self.lines[1:]]
        out += ["", f"    return {self.function}"]
        return out


def _signature(function: str, parameters: Sequence[tuple[str, str]], returns: str) -> list[str]:
    """The typed ``def`` line of the nested function, wrapped one parameter per line as ruff formats it."""
    typed = [f"{name}: {kind}" for name, kind in parameters]
    one_line = f"    def {function}({', '.join(typed)}) -> {returns}:"
    if len(one_line) <= _LINE_LENGTH:
        return [one_line]
    return [f"    def {function}(", *(f"        {part}," for part in typed), f"    ) -> {returns}:"]


def render_module(sources: Sequence[Source]) -> str:
    """The text of :mod:`avro_generated` for ``sources`` (each distinct text once, in order)."""
    unique: dict[str, Source] = {}
    for source in sources:
        unique.setdefault(source.digest(), source)
    distinct = list(unique.values())
    out = [_HEADER]
    for index, source in enumerate(distinct):
        out += ["", "", f"#: {source.what}", *source.render(index)]
    out += ["", "", "WRITERS: dict[str, Callable[[dict[str, Any]], Callable[..., Any]]] = {"]
    out += [f'    "{source.digest()}": _writer_{index},' for index, source in enumerate(distinct)]
    out.append("}")
    return "\n".join(out) + "\n"
