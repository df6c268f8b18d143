"""A fault-injecting TCP proxy for outage and ambiguous-commit tests (asyncio, in a background thread).

Modes (switch at any time with :meth:`TcpProxy.set_mode`):

- ``pass``: forward both ways;
- ``cut``: close every open connection and refuse new ones (the listening socket is closed, so a connect
  gets ``ECONNREFUSED``); back to ``pass`` listens again on the same port;
- ``blackhole``: accept connections but forward nothing, holding every connection open, like a network
  that silently drops packets; back to ``pass``, what was held flows again (as TCP retransmission would
  deliver it after a short outage).

With ``kafka=True`` the proxy reads the Kafka wire framing (4-byte big-endian size, then a request header
of api_key, api_version and correlation_id). That gives two more abilities:

- it rewrites the broker addresses in Metadata and FindCoordinator responses to its own address, because
  Kafka clients connect to the addresses a broker advertises, so without this only the first (bootstrap)
  connection would pass through the proxy. The embedded broker has no advertised-address setting (it
  advertises the address it binds), so the rewrite is the only way; it assumes one broker behind the proxy;
- it records every transactional call that passes (InitProducerId and EndTxn: producer id and epoch, commit
  or abort, the broker's error code, when it was answered) in :attr:`TcpProxy.stats`, so a test can prove
  from the wire what a process committed, and when;
- :meth:`TcpProxy.drop_response` arms a one-shot fault: the response to the next request with the given
  api key (e.g. :data:`END_TXN`, the commit or abort of a transaction) is swallowed and the connection is
  cut, so the client cannot know whether the request took effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

Mode = Literal["pass", "cut", "blackhole"]
T = TypeVar("T")

METADATA = 3
FIND_COORDINATOR = 10
INIT_PRODUCER_ID = 22
END_TXN = 26
_READ = 65536


# ------------------------------------------------------------------------------------ Kafka wire format


class _Reader:
    """Cursor over a Kafka message body."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data, self.pos = data, offset

    def int16(self) -> int:
        (value,) = struct.unpack_from(">h", self.data, self.pos)
        self.pos += 2
        return int(value)

    def int32(self) -> int:
        (value,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return int(value)

    def uvarint(self) -> int:
        shift = value = 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7

    def string(self, *, compact: bool) -> str | None:
        size = self.uvarint() - 1 if compact else self.int16()
        if size < 0:
            return None
        text = self.data[self.pos : self.pos + size].decode("utf-8")
        self.pos += size
        return text

    def array_length(self, *, compact: bool) -> int:
        return self.uvarint() - 1 if compact else self.int32()

    def int64(self) -> int:
        (value,) = struct.unpack_from(">q", self.data, self.pos)
        self.pos += 8
        return int(value)

    def skip_tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.pos += self.uvarint()


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _string(text: str, *, compact: bool) -> bytes:
    raw = text.encode("utf-8")
    return (_uvarint(len(raw) + 1) if compact else struct.pack(">h", len(raw))) + raw


def request_header(frame: bytes) -> tuple[int, int, int]:
    """``(api_key, api_version, correlation_id)`` of a request frame (without its size prefix)."""
    api_key, api_version, correlation_id = struct.unpack_from(">hhi", frame, 0)
    return int(api_key), int(api_version), int(correlation_id)


def response_correlation_id(frame: bytes) -> int:
    """The correlation id of a response frame (without its size prefix)."""
    return int(struct.unpack_from(">i", frame, 0)[0])


def end_txn_request(frame: bytes) -> tuple[str, int, int, bool]:
    """``(transactional_id, producer_id, producer_epoch, committed)`` of an EndTxn request frame."""
    _, version, _ = request_header(frame)
    flexible = version >= 3
    reader = _Reader(frame, 8)
    reader.string(compact=False)  # client_id: a classic nullable string in every header version
    if flexible:
        reader.skip_tags()
    transactional_id = reader.string(compact=flexible) or ""
    producer_id, epoch = reader.int64(), reader.int16()
    return transactional_id, producer_id, epoch, bool(reader.data[reader.pos])


def txn_response(frame: bytes, api_key: int, version: int) -> tuple[int, int | None, int | None]:
    """``(error_code, producer_id, producer_epoch)`` of an InitProducerId or EndTxn response frame (the
    producer fields only where the response carries them)."""
    flexible = version >= (2 if api_key == INIT_PRODUCER_ID else 3)
    reader = _Reader(frame, 4)
    if flexible:
        reader.skip_tags()
    reader.int32()  # throttle_time_ms
    error = reader.int16()
    if api_key == INIT_PRODUCER_ID:
        return error, reader.int64(), reader.int16()
    return error, None, None


def _rewrite_host_port(reader: _Reader, out: bytearray, host: str, port: int, *, compact: bool) -> None:
    """Copy node_id, then write ``host``/``port`` in place of the broker's (node_id < 0: keep as is)."""
    node_id = reader.int32()
    start = reader.pos
    reader.string(compact=compact)
    reader.int32()
    out += struct.pack(">i", node_id)
    if node_id < 0:
        out += reader.data[start : reader.pos]
    else:
        out += _string(host, compact=compact) + struct.pack(">i", port)


def rewrite_metadata(frame: bytes, version: int, host: str, port: int) -> bytes:
    """A Metadata response (v0-v12) with every broker's address replaced by ``host:port``."""
    flexible = version >= 9
    reader = _Reader(frame, 4)
    if flexible:
        reader.skip_tags()
    out = bytearray(frame[: reader.pos])
    if version >= 3:
        out += struct.pack(">i", reader.int32())  # throttle_time_ms
    count = reader.array_length(compact=flexible)
    out += _uvarint(count + 1) if flexible else struct.pack(">i", count)
    for _ in range(count):
        _rewrite_host_port(reader, out, host, port, compact=flexible)
        start = reader.pos
        if version >= 1:
            reader.string(compact=flexible)  # rack
        if flexible:
            reader.skip_tags()
        out += frame[start : reader.pos]
    return bytes(out + frame[reader.pos :])


def rewrite_find_coordinator(frame: bytes, version: int, host: str, port: int) -> bytes:
    """A FindCoordinator response (v0-v6) with the coordinator's address replaced by ``host:port``."""
    flexible = version >= 3
    reader = _Reader(frame, 4)
    if flexible:
        reader.skip_tags()
    out = bytearray(frame[: reader.pos])
    if version >= 4:
        out += struct.pack(">i", reader.int32())  # throttle_time_ms
        count = reader.array_length(compact=True)
        out += _uvarint(count + 1)
        for _ in range(count):
            start = reader.pos
            reader.string(compact=True)  # key
            out += frame[start : reader.pos]
            _rewrite_host_port(reader, out, host, port, compact=True)
            start = reader.pos
            reader.int16()  # error_code
            reader.string(compact=True)  # error_message
            reader.skip_tags()
            out += frame[start : reader.pos]
        return bytes(out + frame[reader.pos :])
    start = reader.pos
    if version >= 1:
        reader.int32()  # throttle_time_ms
    reader.int16()  # error_code
    if version >= 1:
        reader.string(compact=flexible)  # error_message
    out += frame[start : reader.pos]
    _rewrite_host_port(reader, out, host, port, compact=flexible)
    return bytes(out + frame[reader.pos :])


class _Frames:
    """Splits a byte stream into Kafka frames (size prefix stripped)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        frames: list[bytes] = []
        while len(self._buffer) >= 4:
            (size,) = struct.unpack_from(">i", self._buffer, 0)
            if len(self._buffer) < 4 + size:
                break
            frames.append(bytes(self._buffer[4 : 4 + size]))
            del self._buffer[: 4 + size]
        return frames


def _framed(frame: bytes) -> bytes:
    return struct.pack(">i", len(frame)) + frame


# ------------------------------------------------------------------------------------ the proxy


@dataclass(frozen=True)
class TxnCall:
    """One InitProducerId or EndTxn that passed the proxy, as the broker answered it."""

    api_key: int
    #: ``time.monotonic()`` when the response reached the proxy
    answered_at: float
    error_code: int
    producer_id: int | None
    producer_epoch: int | None
    #: EndTxn only: True for a commit, False for an abort
    committed: bool | None = None
    #: False when the proxy swallowed the answer
    delivered: bool = True

    @property
    def committed_ok(self) -> bool:
        """A commit the broker accepted."""
        return self.api_key == END_TXN and bool(self.committed) and self.error_code == 0


@dataclass
class ProxyStats:
    """What the proxy saw; read it from the test thread (copies are cheap)."""

    accepted: int = 0
    requests: Counter[int] = field(default_factory=Counter)
    #: (api_key, correlation_id) of every response the proxy swallowed
    dropped: list[tuple[int, int]] = field(default_factory=list)
    #: every InitProducerId and EndTxn answered through the proxy (including swallowed answers)
    transactions: list[TxnCall] = field(default_factory=list)


class _Connection:
    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.pending: dict[int, tuple[int, int]] = {}
        self.end_txn: dict[int, tuple[str, int, int, bool]] = {}
        self.drop: set[int] = set()

    def close(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                writer.transport.abort()


class TcpProxy:
    """Forward ``listen`` → ``upstream`` with injectable faults; see the module docstring."""

    def __init__(
        self, upstream: tuple[str, int], *, host: str = "127.0.0.1", port: int = 0, kafka: bool = False
    ) -> None:
        self.upstream = upstream
        self.host = host
        self.port = port
        self.kafka = kafka
        self.stats = ProxyStats()
        self._mode: Mode = "pass"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._open = asyncio.Event()
        self._connections: set[_Connection] = set()
        self._drop_next: set[int] = set()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ control (any thread)

    @property
    def address(self) -> str:
        """``host:port`` that clients connect to."""
        return f"{self.host}:{self.port}"

    @property
    def mode(self) -> Mode:
        """The mode in force."""
        return self._mode

    def start(self) -> TcpProxy:
        """Start the loop thread and listen (``port=0`` picks a free port, kept across cuts)."""
        self._thread.start()
        self._call(self._listen())
        self._loop.call_soon_threadsafe(self._open.set)
        return self

    def stop(self) -> None:
        """Close every connection and the listener, then end the loop thread."""
        if not self._thread.is_alive():
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def set_mode(self, mode: Mode) -> None:
        """Switch to ``pass``, ``cut`` or ``blackhole``."""
        if mode not in ("pass", "cut", "blackhole"):
            raise ValueError(f"unknown proxy mode {mode!r}")
        self._call(self._set_mode(mode))

    def drop_response(self, api_key: int) -> None:
        """Swallow the response to the next request with ``api_key``, then cut that connection."""
        if not self.kafka:
            raise ValueError("dropping a response needs kafka=True (the proxy must read the framing)")
        with self._lock:
            self._drop_next.add(api_key)

    def armed(self, api_key: int) -> bool:
        """True while a drop for ``api_key`` waits for its request."""
        with self._lock:
            return api_key in self._drop_next

    def connections(self) -> int:
        """Connections open right now."""
        return len(self._connections)

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    # ------------------------------------------------------------------ loop side

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port, reuse_address=True)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _set_mode(self, mode: Mode) -> None:
        previous, self._mode = self._mode, mode
        if mode == "pass":
            if self._server is None:
                await self._listen()
            self._open.set()
            return
        self._open.clear()
        if mode == "cut":
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()
                self._server = None
            self._close_all()
        del previous

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._close_all()
        self._open.set()  # release pumps waiting at the gate so they see their closed sockets
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        if tasks:  # every connection task ends on its own now that its sockets are closed
            await asyncio.wait(tasks, timeout=5)
        for _ in range(3):  # let the transports run their connection_lost callbacks, which close the sockets
            await asyncio.sleep(0.01)

    def _close_all(self) -> None:
        for connection in list(self._connections):
            connection.close()
        self._connections.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.accepted += 1
        connection = _Connection(writer)
        self._connections.add(connection)
        try:
            await self._open.wait()  # blackhole: hold the client, connect upstream only when it ends
            if connection not in self._connections:
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            except OSError:
                return
            connection.upstream = up_writer
            await asyncio.gather(
                self._pump(reader, up_writer, connection, self._on_request),
                self._pump(up_reader, writer, connection, self._on_response),
                return_exceptions=True,
            )
        finally:
            connection.close()
            self._connections.discard(connection)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        connection: _Connection,
        on_frame: Callable[[bytes, _Connection], bytes | None],
    ) -> None:
        frames = _Frames()
        try:
            while True:
                await self._open.wait()
                data = await reader.read(_READ)
                if not data:
                    break
                await self._open.wait()  # blackhole: hold what was read until the outage ends
                if connection not in self._connections:
                    break
                if not self.kafka:
                    writer.write(data)
                else:
                    for frame in frames.feed(data):
                        out = on_frame(frame, connection)
                        if out is None:  # a swallowed response: cut the connection after it
                            connection.close()
                            return
                        writer.write(_framed(out))
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()
            connection.close()

    def _on_request(self, frame: bytes, connection: _Connection) -> bytes:
        api_key, api_version, correlation_id = request_header(frame)
        self.stats.requests[api_key] += 1
        connection.pending[correlation_id] = (api_key, api_version)
        if api_key == END_TXN:
            connection.end_txn[correlation_id] = end_txn_request(frame)
        with self._lock:
            if api_key in self._drop_next:
                self._drop_next.discard(api_key)
                connection.drop.add(correlation_id)
        return frame

    def _on_response(self, frame: bytes, connection: _Connection) -> bytes | None:
        correlation_id = response_correlation_id(frame)
        api_key, api_version = connection.pending.pop(correlation_id, (-1, -1))
        dropped = correlation_id in connection.drop
        if api_key in (INIT_PRODUCER_ID, END_TXN):
            self._record(frame, api_key, api_version, connection.end_txn.pop(correlation_id, None), dropped)
        if dropped:
            self.stats.dropped.append((api_key, correlation_id))
            return None
        host, port = self.host, self.port
        if api_key == METADATA:
            return rewrite_metadata(frame, api_version, host, port)
        if api_key == FIND_COORDINATOR:
            return rewrite_find_coordinator(frame, api_version, host, port)
        return frame

    def _record(
        self,
        frame: bytes,
        api_key: int,
        version: int,
        request: tuple[str, int, int, bool] | None,
        dropped: bool,
    ) -> None:
        error, producer_id, epoch = txn_response(frame, api_key, version)
        committed = None
        if request is not None:
            _, producer_id, epoch, committed = request
        self.stats.transactions.append(
            TxnCall(api_key, time.monotonic(), error, producer_id, epoch, committed, delivered=not dropped)
        )
