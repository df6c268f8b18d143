"""The simulator over real HTTP: a ThreadingHTTPServer in a background thread, with faults and a record.

Usable in-process (``with SimulatorServer(config) as sim: ...`` on a free loopback port) and from the
command line (``SimulatorServer(config, port=N, clock=SimClock.system()).serve_until(stop_event)``).
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import urlsplit

import structlog

from publisher.errors import ConfigError
from publisher.netstream.model import Reading
from publisher.simulator.admin import PREFIX, AdminApi
from publisher.simulator.clock import SimClock
from publisher.simulator.config import SimulatorConfig
from publisher.simulator.faults import FaultPlan, FaultRule
from publisher.simulator.query import Problem
from publisher.simulator.recording import RecordedRequest, RequestLog
from publisher.simulator.render import corrupt
from publisher.simulator.service import (
    INVALID_TOKEN,
    READINGS_PATH,
    Answer,
    SimulatorService,
    problem_answer,
)

log = structlog.get_logger(__name__)

_MAX_BODY = 16 * 1024 * 1024
_SOCKET_TIMEOUT = 60.0


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: SimulatorServer) -> None:
        self.simulator = simulator
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup of the host (socket.getfqdn), which can stall
        # for seconds on machines without DNS; the name is only used in CGI environments.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ARG002 -- base signature
        # A client that goes away mid-answer (timeouts, dropped pools) is normal here: no stderr traceback.
        log.debug("request_failed", client=str(client_address))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "NetstreamSimulator/1.0"
    timeout = _SOCKET_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- the base class names it so
        """Silence http.server's stderr access log (``request_served`` is logged instead)."""

    def setup(self) -> None:
        super().setup()
        self._sim().track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self._sim().track(self.connection, add=False)

    def _sim(self) -> SimulatorServer:
        return cast(_HttpServer, self.server).simulator

    def do_GET(self) -> None:
        self._sim().dispatch(self)

    def do_POST(self) -> None:
        self._sim().dispatch(self)

    def do_DELETE(self) -> None:
        self._sim().dispatch(self)

    def do_PUT(self) -> None:
        self._sim().dispatch(self)

    def read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > _MAX_BODY:
            self.close_connection = True
            return b""
        return self.rfile.read(length)

    def send(self, answer: Answer, *, truncate: bool = False) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        if answer.content_type is not None:
            self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        if truncate:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(answer.body[: len(answer.body) // 2] if truncate else answer.body)
        self.wfile.flush()


class SimulatorServer:
    """The Netstream simulator on ``host:port`` (0 = a free port), started and stopped explicitly."""

    def __init__(
        self,
        config: SimulatorConfig,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: SimClock | None = None,
        tenant: str = "sim-tenant",
    ) -> None:
        self.config = config
        self.clock = clock if clock is not None else SimClock(datetime.now(UTC))
        self.faults = FaultPlan(config.seed)
        self._host = host
        self._port = port
        self._service = SimulatorService(config, self.clock, tenant)
        self._log = RequestLog()
        self._admin = AdminApi(self._service, self.faults, self._log)
        self._http: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections_lock = threading.Lock()
        self._connections: set[socket.socket] = set()

    # ------------------------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Bind and serve in a background thread. Raises ConfigError if the port cannot be bound."""
        if self._http is not None:
            return
        try:
            self._http = _HttpServer((self._host, self._port), self)
        except OSError as exc:
            raise ConfigError(
                f"simulator cannot listen on {self._host}:{self._port} ({exc.strerror or exc}); "
                "choose a free port with --port"
            ) from exc
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="netstream-simulator",
            daemon=True,
        )
        self._thread.start()
        log.debug("simulator_started", base_url=self.base_url)

    def stop(self) -> None:
        """Stop serving, close the listening socket and every open connection."""
        http, thread = self._http, self._thread
        if http is None:
            return
        self._stopping.set()
        http.shutdown()
        http.server_close()
        with self._connections_lock:
            open_connections = list(self._connections)
        for connection in open_connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                log.debug("connection_already_closed")
        if thread is not None:
            thread.join()
        self._http = None
        self._thread = None
        log.debug("simulator_stopped")

    def serve_until(self, stop: threading.Event | None = None) -> None:
        """Start (if needed), serve until ``stop`` is set (or forever), then stop. For the command line.

        ``netstream-publisher simulate`` would run
        ``SimulatorServer(SimulatorConfig.demo(), port=N, clock=SimClock.system()).serve_until(event)`` with
        ``event`` set by its SIGINT/SIGTERM handler.
        """
        self.start()
        stop = stop or threading.Event()
        try:
            while not stop.wait(0.2):  # wake up so the main thread runs pending signal handlers
                pass
        finally:
            self.stop()

    def __enter__(self) -> SimulatorServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def track(self, connection: socket.socket, *, add: bool) -> None:
        """Remember (or forget) an open client connection so :meth:`stop` can close it."""
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    # ------------------------------------------------------------------------------------- addresses

    @property
    def port(self) -> int:
        """The port served on (known once started, or when given explicitly)."""
        if self._http is not None:
            return int(self._http.server_address[1])
        if self._port:
            return self._port
        raise ConfigError("the simulator has no port yet; call start() before asking for its address")

    @property
    def base_url(self) -> str:
        """What ``NETSTREAM_BASE_URL`` is set to, e.g. ``http://127.0.0.1:8123``."""
        return f"http://{self._host}:{self.port}"

    @property
    def readings_url(self) -> str:
        """The GetMeterReadings endpoint."""
        return self.base_url + READINGS_PATH

    @property
    def token_url(self) -> str:
        """The OAuth2 token endpoint (form POST, client credentials)."""
        return self.base_url + self._service.token_path

    # ------------------------------------------------------------------------------------- inspection

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every API and token request received so far (a copy), oldest first."""
        return self._log.snapshot()

    def truth(self, usage_point: str, reading_type: str, start: datetime, end: datetime) -> list[Reading]:
        """Exactly the readings a correct client must get for the series and UTC window, at clock time."""
        for name, moment in (("start", start), ("end", end)):
            if moment.tzinfo is None:
                raise ConfigError(
                    f"truth {name} {moment.isoformat()} has no UTC offset; pass an aware datetime"
                )
        return self._service.truth(usage_point, reading_type, start, end)

    def revoke_tokens(self) -> None:
        """Every token issued so far is rejected with 401 from now on."""
        self._service.tokens.revoke_all()

    # ------------------------------------------------------------------------------------- serving

    def dispatch(self, handler: _Handler) -> None:
        """Answer one request on ``handler``: admin, or fault plus normal answer, recorded."""
        arrived = time.monotonic()
        method = handler.command
        url = urlsplit(handler.path)
        path = url.path
        body = handler.read_body()
        if path.startswith(PREFIX):
            handler.send(self._admin.handle(method, path, url.query, body))
            return
        headers = dict(handler.headers.items())
        lower = {name.lower(): value for name, value in headers.items()}
        rule = self.faults.take(path, body)
        fault = None if rule is None else rule.kind
        if rule is not None:
            log.debug(
                "fault_injected", kind=rule.kind, path=path, status=rule.status if fault == "status" else None
            )
        if rule is not None and rule.kind in ("drop", "hang"):
            handler.close_connection = True
            self._record(RecordedRequest(method, path, headers, body, None, fault, arrived, time.monotonic()))
            if rule.kind == "hang":
                self._hang(handler)
            return
        try:
            answer = self._answer(rule, method, path, lower, body)
        except Exception:  # a bug in one answer must show as a 500 and a log, not a dropped connection
            log.exception("request_crashed", method=method, path=path)
            answer = problem_answer(Problem(500))
        # Recorded before answering, so a client that has its answer always finds the record.
        self._record(
            RecordedRequest(method, path, headers, body, answer.status, fault, arrived, time.monotonic())
        )
        handler.send(answer, truncate=fault == "truncate")

    def _hang(self, handler: _Handler) -> None:
        """Say nothing until the client hangs up or the simulator stops."""
        connection = handler.connection
        previous = connection.gettimeout()
        connection.settimeout(0.05)
        try:
            while not self._stopping.is_set():
                try:
                    if not connection.recv(1, socket.MSG_PEEK):
                        return  # the client closed its end
                except TimeoutError:
                    continue
                except OSError:
                    return
                # the client sent more bytes (a pipelined request) without waiting: keep saying nothing
                self._stopping.wait(0.05)
        finally:
            connection.settimeout(previous)

    def _record(self, item: RecordedRequest) -> None:
        self._log.append(item)
        log.debug("request_served", method=item.method, path=item.path, status=item.status, fault=item.fault)

    def _answer(
        self, rule: FaultRule | None, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> Answer:
        if rule is None:
            return self._service.handle(method, path, headers, body)
        if rule.kind == "slow":
            self._stopping.wait(rule.delay)
        elif rule.kind == "expire_token":
            self._service.tokens.revoke_all()
            return INVALID_TOKEN
        elif rule.kind == "status":
            return _status_answer(rule)
        answer = self._service.handle(method, path, headers, body, extra_fields=rule.kind == "extra_fields")
        if rule.kind == "malformed" and answer.status == 200:
            return Answer(200, corrupt(answer.body), answer.content_type, answer.headers)
        return answer


def _status_answer(rule: FaultRule) -> Answer:
    headers: tuple[tuple[str, str], ...] = ()
    if rule.retry_after is not None:
        headers = (("Retry-After", rule.retry_after),)
    if rule.status == 401:
        return Answer(401, headers=(*headers, ("WWW-Authenticate", "Bearer")))
    return problem_answer(Problem(rule.status), headers)
