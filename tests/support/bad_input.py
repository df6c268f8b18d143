"""The bad-input corpus (``tests/corpus/``) and the checks every bad body must pass.

The corpus holds hostile and broken inputs as files, one problem each: ``parser/`` response bodies
(``.json``/``.xml``), ``config/`` configuration files and ``registry/`` registry files. Bodies that point at
an external resource carry placeholders that a test fills in: ``{{HTTP_URL}}`` (a loopback server that
counts requests) and ``{{CANARY_FILE_URL}}`` (a ``file:`` URL of a file holding a canary).

Rules the tests enforce for every corpus file: a parser body ends in a :class:`ParseError` or at least one
rejected element (a dead letter) and never in another exception; a config or registry file ends in a
:class:`ConfigError`. Each takes less than :data:`HANG_BOUND` seconds.
"""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

from publisher.errors import ParseError
from publisher.netstream.model import WireFormat
from publisher.netstream.parser import ParsedResponse
from support.parser_strategies import RT30, parse_or_parse_error

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

#: seconds one body may take before it counts as a hang (generous: the slowest corpus body takes ~0.1 s)
HANG_BOUND = 10.0

#: tracemalloc peak allowed per byte of a huge hostile body, on top of MEMORY_BASE: the worst shapes
#: measured (nested elements, empty containers: one Python object per few bytes) peak at about 63 per byte
MEMORY_FACTOR = 80
MEMORY_BASE = 32 << 20

T = TypeVar("T")


def corpus(kind: str) -> list[Path]:
    """The corpus files of ``kind`` (``parser``, ``config`` or ``registry``), sorted by name."""
    files = sorted(path for path in (CORPUS / kind).iterdir() if path.is_file())
    assert files, f"no corpus files under {CORPUS / kind}"
    return files


def wire_format(path: Path) -> WireFormat:
    """The response format a parser corpus file is written in, from its extension."""
    return WireFormat.XML if path.suffix == ".xml" else WireFormat.JSON


def body_of(path: Path, *, http_url: str = "http://127.0.0.1:9", canary_file_url: str = "") -> bytes:
    """A corpus file's bytes with its placeholders filled in."""
    data = path.read_bytes()
    data = data.replace(b"{{HTTP_URL}}", http_url.encode())
    return data.replace(b"{{CANARY_FILE_URL}}", (canary_file_url or "file:///nonexistent").encode())


class Raised:
    """An exception that an action raised (rather than returned), as :func:`timed` reports it."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def timed(action: Callable[[], T]) -> tuple[T | Raised, float]:
    """``action()``'s result (or :class:`Raised` with what it raised) and the seconds it took."""
    started = time.monotonic()
    try:
        outcome: T | Raised = action()
    except Exception as exc:  # noqa: BLE001 - the caller classifies every outcome, crashes included
        outcome = Raised(exc)
    return outcome, time.monotonic() - started


class _CountingHandler(BaseHTTPRequestHandler):
    """Answers anything with a tempting DTD and counts the requests."""

    def _answer(self) -> None:
        self.server.hits += 1  # type: ignore[attr-defined]  # counter set by counting_server
        body = b'<!ENTITY xxe "FETCHED-OVER-HTTP">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_HEAD = _answer  # noqa: N815 - names fixed by BaseHTTPRequestHandler

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        """Keep the test output clean."""


class CountingServer:
    """A loopback HTTP server that counts every request it receives."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self._server = server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def hits(self) -> int:
        return int(self._server.hits)  # type: ignore[attr-defined]  # set by counting_server


@contextmanager
def counting_server() -> Iterator[CountingServer]:
    """Serve :class:`CountingServer` on a free loopback port for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
    server.hits = 0  # type: ignore[attr-defined]  # a plain counter the handler increments
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield CountingServer(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _values(count: int) -> str:
    return ",".join(str(i % 997) for i in range(count))


#: hostile shapes at about ``size`` bytes: junk, truncation, one huge string, rejected values, and the
#: worst case for memory, many small containers (one Python object per few bytes of input)
HUGE: dict[str, tuple[WireFormat, Callable[[int], bytes]]] = {
    "json_junk": (WireFormat.JSON, lambda size: b"{" + b"x" * size),
    "json_huge_string": (WireFormat.JSON, lambda size: b'{"meterReading": [{"x": "' + b"y" * size + b'"}]}'),
    "json_truncated_values": (
        WireFormat.JSON,
        lambda size: f'{{"meterReading": [{{"values": [{_values(size // 4)}'.encode(),
    ),
    "json_nan_values": (
        WireFormat.JSON,
        lambda size: (
            '{"meterReading": [{"readingType": {"mRID": "' + RT30 + '"}, "intervalBlockInts": '
            '[{"timePeriod": {"start": "2025-03-01T00:00:00"}, "values": ['
            + ",".join(["NaN"] * (size // 4))
            + "]}]}]}"
        ).encode(),
    ),
    "json_nested_lists": (WireFormat.JSON, lambda size: b'{"x": [' + b"[[]]," * (size // 5) + b"[]]}"),
    "json_deep": (WireFormat.JSON, lambda size: b"[" * (size // 2) + b"]" * (size // 2)),
    "xml_junk": (WireFormat.XML, lambda size: b"<MeterReadings2>" + b"<" * size),
    "xml_huge_text": (WireFormat.XML, lambda size: b"<MeterReadings2>" + b"x" * size + b"</MeterReadings2>"),
    "xml_wide_elements": (
        WireFormat.XML,
        lambda size: b"<MeterReadings2>" + b"<a><b/></a>" * (size // 11) + b"</MeterReadings2>",
    ),
    "xml_deep": (
        WireFormat.XML,
        lambda size: (
            b"<MeterReadings2>" + b"<a>" * (size // 7) + b"</a>" * (size // 7) + b"</MeterReadings2>"
        ),
    ),
}


def peak_of(body: bytes, fmt: WireFormat, *, max_bytes: int) -> tuple[int, float]:
    """tracemalloc peak (bytes, beyond the body itself) and seconds of one parse; crashes propagate."""
    tracemalloc.start()
    try:
        outcome, seconds = timed(lambda: parse_or_parse_error(body, fmt, max_bytes=max_bytes))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    if isinstance(outcome, Raised):
        raise outcome.error  # a crash
    assert isinstance(outcome, ParseError | ParsedResponse)
    return peak, seconds
