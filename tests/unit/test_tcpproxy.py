"""The fault-injecting TCP proxy of the reliability tests, over plain loopback sockets: pass, cut,
blackhole, the Kafka address rewrite and the swallowed response."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator

import pytest

from support.tcpproxy import END_TXN, FIND_COORDINATOR, INIT_PRODUCER_ID, METADATA, TcpProxy

Answer = Callable[[int, int, int, bytes], bytes | None]


class Upstream:
    """A loopback server: echoes bytes, or (``answer`` given) answers Kafka-framed requests."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.answer = answer
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.received: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            buffer = b""
            while data := _recv(conn):
                if self.answer is None:
                    self.received.append(data)
                    conn.sendall(data)
                    continue
                buffer += data
                while len(buffer) >= 4 and len(buffer) >= 4 + struct.unpack(">i", buffer[:4])[0]:
                    size = struct.unpack(">i", buffer[:4])[0]
                    frame, buffer = buffer[4 : 4 + size], buffer[4 + size :]
                    key, version, corr = struct.unpack(">hhi", frame[:8])
                    body = self.answer(key, version, corr, frame)
                    if body is not None:
                        response = struct.pack(">i", corr) + body
                        conn.sendall(struct.pack(">i", len(response)) + response)

    def close(self) -> None:
        self.sock.close()


def _recv(conn: socket.socket) -> bytes:
    try:
        return conn.recv(65536)
    except OSError:
        return b""


def string(text: str) -> bytes:
    return struct.pack(">h", len(text)) + text.encode()


def compact(text: str) -> bytes:
    return bytes([len(text) + 1]) + text.encode()


def metadata_v1(host: str, port: int) -> bytes:
    broker = struct.pack(">i", 1) + string(host) + struct.pack(">i", port) + struct.pack(">h", -1)
    return (
        struct.pack(">i", 1) + broker + struct.pack(">i", 1) + struct.pack(">i", 0)
    )  # controller 1, no topics


def metadata_v12(host: str, port: int) -> bytes:
    broker = (
        struct.pack(">i", 1) + compact(host) + struct.pack(">i", port) + b"\x00" + b"\x00"
    )  # rack null, tags
    body = (
        struct.pack(">i", 0)
        + b"\x02"
        + broker
        + compact("cluster")
        + struct.pack(">i", 1)
        + b"\x01"
        + b"\x00"
    )
    return b"\x00" + body  # response header tags first


def coordinator_v0(host: str, port: int) -> bytes:
    return struct.pack(">hi", 0, 1) + string(host) + struct.pack(">i", port)


def coordinator_v4(host: str, port: int) -> bytes:
    entry = compact("txn-1") + struct.pack(">i", 1) + compact(host) + struct.pack(">i", port)
    entry += struct.pack(">h", 0) + b"\x00" + b"\x00"  # error 0, message null, tags
    return b"\x00" + struct.pack(">i", 0) + b"\x02" + entry + b"\x00"


def request(key: int, version: int, corr: int, body: bytes = b"") -> bytes:
    frame = struct.pack(">hhi", key, version, corr) + string("client") + body
    return struct.pack(">i", len(frame)) + frame


def read_frame(conn: socket.socket) -> bytes:
    header = _exactly(conn, 4)
    return _exactly(conn, struct.unpack(">i", header)[0])


def _exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


@pytest.fixture
def echo() -> Iterator[Upstream]:
    upstream = Upstream()
    yield upstream
    upstream.close()


@pytest.fixture
def proxy(echo: Upstream) -> Iterator[TcpProxy]:
    with TcpProxy(("127.0.0.1", echo.port)) as proxy:
        yield proxy


def connect(proxy: TcpProxy) -> socket.socket:
    conn = socket.create_connection((proxy.host, proxy.port), timeout=5)
    conn.settimeout(5)
    return conn


def test_pass_forwards_both_ways(proxy: TcpProxy, echo: Upstream) -> None:
    with connect(proxy) as conn:
        conn.sendall(b"hello")
        assert _exactly(conn, 5) == b"hello"
    assert echo.received == [b"hello"]
    assert proxy.stats.accepted == 1


def test_cut_closes_open_connections_refuses_new_ones_and_pass_listens_again(proxy: TcpProxy) -> None:
    port = proxy.port
    conn = connect(proxy)
    conn.sendall(b"x")
    assert _exactly(conn, 1) == b"x"
    proxy.set_mode("cut")
    assert _recv(conn) == b""  # the open connection is closed
    conn.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((proxy.host, port), timeout=5)
    proxy.set_mode("pass")
    assert proxy.port == port
    with connect(proxy) as again:
        again.sendall(b"back")
        assert _exactly(again, 4) == b"back"


def test_blackhole_accepts_and_holds_connections_then_delivers_when_it_ends(
    proxy: TcpProxy, echo: Upstream
) -> None:
    before = connect(proxy)
    before.sendall(b"a")
    assert _exactly(before, 1) == b"a"
    proxy.set_mode("blackhole")
    during = connect(proxy)  # accepted, not refused
    before.sendall(b"held")
    during.sendall(b"new")
    before.settimeout(0.5)
    during.settimeout(0.5)
    for conn in (before, during):
        with pytest.raises(TimeoutError):  # nothing comes back, and nothing is closed
            conn.recv(10)
    assert echo.received == [b"a"]
    assert proxy.connections() == 2
    proxy.set_mode("pass")
    for conn, text in ((before, b"held"), (during, b"new")):
        conn.settimeout(5)
        assert _exactly(conn, len(text)) == text
        conn.close()


def test_an_unknown_mode_is_refused(proxy: TcpProxy) -> None:
    with pytest.raises(ValueError, match="unknown proxy mode"):
        proxy.set_mode("drop")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key", "version", "build"),
    [
        (METADATA, 1, metadata_v1),
        (METADATA, 12, metadata_v12),
        (FIND_COORDINATOR, 0, coordinator_v0),
        (FIND_COORDINATOR, 4, coordinator_v4),
    ],
)
def test_kafka_mode_rewrites_advertised_addresses_to_the_proxy(
    key: int, version: int, build: Callable[[str, int], bytes]
) -> None:
    upstream = Upstream(lambda _k, _v, _c, _f: build("127.0.0.9", 9092))
    try:
        with TcpProxy(("127.0.0.1", upstream.port), kafka=True) as proxy, connect(proxy) as conn:
            conn.sendall(request(key, version, 7))
            assert read_frame(conn) == struct.pack(">i", 7) + build(proxy.host, proxy.port)
            conn.sendall(request(18, 3, 8))  # any other response passes untouched
            assert read_frame(conn) == struct.pack(">i", 8) + build("127.0.0.9", 9092)
            assert proxy.stats.requests == {key: 1, 18: 1}
    finally:
        upstream.close()


def end_txn_body(committed: bool) -> bytes:
    return string("txn-1") + struct.pack(">qh?", 1000, 3, committed)


def test_a_dropped_response_is_swallowed_the_connection_cut_and_the_call_recorded() -> None:
    answered: list[int] = []

    def answer(key: int, _version: int, corr: int, _frame: bytes) -> bytes:
        answered.append(corr)
        if key == INIT_PRODUCER_ID:
            return struct.pack(">ihqh", 0, 0, 1000, 3)
        return struct.pack(">ih", 0, 0)  # EndTxn v1: throttle, error 0

    upstream = Upstream(answer)
    try:
        with TcpProxy(("127.0.0.1", upstream.port), kafka=True) as proxy:
            with connect(proxy) as conn:
                conn.sendall(request(INIT_PRODUCER_ID, 1, 1, string("txn-1") + struct.pack(">i", 60000)))
                assert read_frame(conn)[:4] == struct.pack(">i", 1)
                conn.sendall(request(END_TXN, 1, 2, end_txn_body(committed=False)))
                assert read_frame(conn)[:4] == struct.pack(">i", 2)
                proxy.drop_response(END_TXN)
                assert proxy.armed(END_TXN)
                conn.sendall(request(END_TXN, 1, 3, end_txn_body(committed=True)))
                with pytest.raises(ConnectionError):
                    read_frame(conn)
            assert answered == [1, 2, 3]  # the broker did answer the commit; the client never saw it
            assert proxy.stats.dropped == [(END_TXN, 3)]
            assert not proxy.armed(END_TXN)
            calls = [
                (c.api_key, c.producer_id, c.producer_epoch, c.committed) for c in proxy.stats.transactions
            ]
            assert calls == [
                (INIT_PRODUCER_ID, 1000, 3, None),
                (END_TXN, 1000, 3, False),
                (END_TXN, 1000, 3, True),
            ]
            assert [c.committed_ok for c in proxy.stats.transactions] == [False, False, True]
            with connect(proxy) as conn:  # later connections pass as before
                conn.sendall(request(END_TXN, 1, 4, end_txn_body(committed=True)))
                assert read_frame(conn)[:4] == struct.pack(">i", 4)
    finally:
        upstream.close()


def test_dropping_a_response_needs_the_kafka_framing(proxy: TcpProxy) -> None:
    with pytest.raises(ValueError, match="kafka=True"):
        proxy.drop_response(END_TXN)
