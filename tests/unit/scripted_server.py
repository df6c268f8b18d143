"""A real HTTP/1.1 server on 127.0.0.1 that answers from a script, for hermetic client tests.

Not a mock: clients talk real HTTP over loopback to it. Each path has a queue of scripted replies (used
in order) and a fallback (a fixed reply or a function of the request). Every request is recorded with its
headers, body and arrival time, and the server tracks how many requests it was serving at once.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

_HOLD_LIMIT = 60.0  # a held reply is released at the latest after this long, or when the server stops


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    drop: bool = False  # close the connection without any response
    truncate_to: int | None = None  # announce the full length, send only this many bytes, then close
    hold: bool = False  # never answer until the server stops (drives the client into its read timeout)
    gzip: bool = False  # send the body gzip-encoded


def json_reply(doc: Any, status: int = 200, **kwargs: Any) -> Reply:
    """A reply with a JSON body."""
    return Reply(status=status, body=json.dumps(doc).encode(), **kwargs)


@dataclass(frozen=True)
class Recorded:
    """A request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival

    def json(self) -> Any:
        return json.loads(self.body)


Handler = Callable[[Recorded], Reply]


class ScriptedServer:
    """``with ScriptedServer() as server: server.script("/x", Reply(503), Reply(200, b"{}"))``."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.max_concurrency = 0
        self._lock = threading.Condition()
        self._active = 0
        self._scripts: dict[str, deque[Reply]] = {}
        self._fallbacks: dict[str, Handler] = {}
        self._rendezvous = 0
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.02,), name="scripted-server", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    # ---------------------------------------------------------------------------------------- scripting

    def script(self, path: str, *replies: Reply) -> None:
        """Queue replies for ``path``, used once each in order before the fallback."""
        with self._lock:
            self._scripts.setdefault(path, deque()).extend(replies)

    def fallback(self, path: str, reply: Reply | Handler) -> None:
        """What ``path`` answers once its queue is empty: a fixed reply or a function of the request."""
        with self._lock:
            if isinstance(reply, Reply):
                fixed = reply
                self._fallbacks[path] = lambda _request: fixed
            else:
                self._fallbacks[path] = reply

    def rendezvous(self, count: int) -> None:
        """Hold requests until ``count`` have been served at once; from then on, answer at once.

        With a client that allows ``count`` requests in flight, the observed maximum is then exactly
        ``count``; a client that allowed more would show more.
        """
        with self._lock:
            self._rendezvous = count

    def requests_to(self, path: str) -> list[Recorded]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    # ---------------------------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> ScriptedServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------------------------------- serving

    def _next_reply(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            queue = self._scripts.get(request.path)
            if queue:
                return queue.popleft()
            handler = self._fallbacks.get(request.path)
        if handler is None:
            return Reply(status=404, body=b"no script for this path", content_type="text/plain")
        return handler(request)

    def _enter(self) -> None:
        with self._lock:
            self._active += 1
            self.max_concurrency = max(self.max_concurrency, self._active)
            self._lock.notify_all()
            if self._rendezvous:
                self._lock.wait_for(
                    lambda: self.max_concurrency >= self._rendezvous or self._stopping.is_set(),
                    timeout=_HOLD_LIMIT,
                )

    def _leave(self) -> None:
        with self._lock:
            self._active -= 1

    def _hold(self) -> None:
        self._stopping.wait(timeout=_HOLD_LIMIT)


def _make_handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self._serve()

        def do_GET(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class names it so
            del format, args

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            request = Recorded(self.command, path, dict(self.headers.items()), body, time.monotonic())
            server._enter()
            try:
                reply = server._next_reply(request)
                self._answer(reply)
            finally:
                server._leave()

        def _answer(self, reply: Reply) -> None:
            if reply.hold:
                server._hold()
                self.close_connection = True
                return
            if reply.drop:
                self.close_connection = True
                return
            payload = gzip.compress(reply.body) if reply.gzip else reply.body
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(payload)))
            if reply.gzip:
                self.send_header("Content-Encoding", "gzip")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if reply.truncate_to is not None:
                self.wfile.write(payload[: reply.truncate_to])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(payload)

    return _Handler
