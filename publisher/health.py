"""The health and metrics HTTP server of ``run``: ``/healthz``, ``/readyz`` and ``/metrics``.

- ``/healthz``: 200 while the process serves and its scheduler thread is alive; 503 once it died (the
  kubelet then restarts the pod).
- ``/readyz``: 200 only when the state is restored, the broker answered the last metadata probe and the
  last cycle did not fail; otherwise 503 with a JSON body naming each failing condition.
- ``/metrics``: the registry handed in, in the Prometheus text format (or OpenMetrics when the scraper
  asks for it with ``Accept``).

The broker probe never runs on a request thread: :class:`Readiness` calls it from a daemon thread every
few seconds and the endpoints read the cached answer, so a hung broker cannot hang the probes of the
kubelet. The same answers feed an :class:`OutageWatch`, which tells ``run`` when the broker has been
unreachable for longer than ``PUBLISHER_BROKER_OUTAGE_MAX``.

The server is :class:`http.server.ThreadingHTTPServer` in a daemon thread; no framework.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import structlog
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from publisher.errors import ConfigError

log = structlog.get_logger(__name__)

#: seconds between two broker probes
PROBE_INTERVAL = 5.0
#: seconds one broker metadata probe may take
PROBE_TIMEOUT = 2.0

_STATE_NOT_RESTORED = {
    "starting": "state restore has not started",
    "restoring": "state is being restored from the state topic",
}


def kafka_metadata_probe(config: Mapping[str, Any], *, timeout: float = PROBE_TIMEOUT) -> Callable[[], bool]:
    """A broker probe: True when a metadata request is answered within ``timeout`` seconds.

    ``config`` holds the librdkafka settings of the service (bootstrap servers, security). One admin
    client is created on first use and reused, so a probe costs one metadata round trip.
    """
    clients: list[AdminClient] = []

    def probe() -> bool:
        if not clients:
            clients.append(AdminClient(dict(config)))
        try:
            metadata = clients[0].list_topics(timeout=timeout)
        except KafkaException:
            return False
        return bool(metadata.brokers)

    return probe


class OutageWatch:
    """How long the broker has been unreachable, from the answers of the broker probe (monotonic clock).

    An outage starts at the first failed probe after a good one (or after start) and ends at the next
    good probe; :meth:`exceeded` is True once it has lasted ``limit`` seconds.
    """

    def __init__(self, limit: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None

    def observe(self, reachable: bool) -> None:
        """Record one probe answer."""
        with self._lock:
            if reachable:
                self._down_since = None
            elif self._down_since is None:
                self._down_since = self._clock()

    def down_for(self) -> float:
        """Seconds the current outage has lasted; 0 while the broker answers."""
        with self._lock:
            since = self._down_since
        return 0.0 if since is None else self._clock() - since

    def exceeded(self) -> bool:
        """True once the current outage has lasted at least ``limit`` seconds."""
        with self._lock:
            since = self._down_since
        return since is not None and self._clock() - since >= self.limit


class Readiness:
    """What ``/readyz`` and ``/healthz`` report; the service calls the transition methods.

    Lifecycle of the state: starting → :meth:`restoring` → :meth:`restored`. Cycles: :meth:`cycle_failed`
    makes the pod unready until the next :meth:`cycle_succeeded`. The broker probe runs every
    ``probe_interval`` seconds between :meth:`start` and :meth:`stop`; before its first answer the broker
    counts as not (yet) reachable. Without a probe the broker condition is not checked.
    """

    def __init__(
        self,
        broker_probe: Callable[[], bool] | None = None,
        *,
        probe_interval: float = PROBE_INTERVAL,
        outage: OutageWatch | None = None,
    ) -> None:
        self._probe = broker_probe
        self._outage = outage
        self._interval = probe_interval
        self._lock = threading.Lock()
        self._state = "starting"
        self._cycle_failure: str | None = None
        self._broker: bool | None = None
        self._alive: Callable[[], bool] = lambda: True
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ transitions

    def restoring(self) -> None:
        """The state restore began."""
        with self._lock:
            self._state = "restoring"

    def restored(self) -> None:
        """The state horizon is loaded; the shard can publish."""
        with self._lock:
            self._state = "restored"

    def cycle_succeeded(self) -> None:
        """A cycle ended without failure; clears an earlier failure."""
        with self._lock:
            self._cycle_failure = None

    def cycle_failed(self, reason: str) -> None:
        """A cycle failed; the pod is unready until a cycle succeeds. ``reason`` is a one-line message."""
        with self._lock:
            self._cycle_failure = " ".join(reason.split()) or "unknown failure"

    def watch_scheduler(self, alive: Callable[[], bool]) -> None:
        """``/healthz`` fails once ``alive()`` is False (e.g. ``thread.is_alive`` of the scheduler)."""
        self._alive = alive

    # ------------------------------------------------------------------ answers

    def alive(self) -> bool:
        """True while the scheduler is alive."""
        return self._alive()

    def failing(self) -> dict[str, str]:
        """The conditions that keep the pod unready, by name; empty when it is ready."""
        with self._lock:
            state, failure, broker = self._state, self._cycle_failure, self._broker
        problems: dict[str, str] = {}
        if state != "restored":
            problems["state"] = _STATE_NOT_RESTORED[state]
        if self._probe is not None and broker is not True:
            problems["broker"] = (
                "no answer to a metadata request yet" if broker is None else "no answer to a metadata request"
            )
        if failure is not None:
            problems["last_cycle"] = failure
        return problems

    # ------------------------------------------------------------------ broker probe

    def start(self) -> None:
        """Start probing the broker in a daemon thread (no-op without a probe or when already running)."""
        if self._probe is None or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._probe_loop, name="broker-probe", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop probing; waits for a probe in progress to end."""
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join()

    def probe_now(self) -> bool:
        """Probe the broker once, on the calling thread, and remember the answer."""
        assert self._probe is not None
        try:
            reachable = bool(self._probe())
        except Exception:  # a probe that raises counts as unreachable, and the loop must go on
            log.warning("broker_probe_failed", exc_info=True)
            reachable = False
        with self._lock:
            before, self._broker = self._broker, reachable
        if self._outage is not None:
            self._outage.observe(reachable)
        if before is not reachable:
            if reachable:
                log.info("broker_reachable")
            else:
                log.warning("broker_unreachable")
        return reachable

    def _probe_loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.probe_now()
            self._stop.wait(max(0.0, self._interval - (time.monotonic() - started)))


# ------------------------------------------------------------------------------------------------ server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], readiness: Readiness, registry: CollectorRegistry) -> None:
        self.readiness = readiness
        self.registry = registry
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class names it so
        del format, args  # requests are not logged: probes arrive every few seconds

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/healthz":
            self._healthz()
        elif path == "/readyz":
            self._readyz()
        elif path == "/metrics":
            encode, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._send(HTTPStatus.OK, encode(self.server.registry), content_type)
        else:
            self._json(
                HTTPStatus.NOT_FOUND, {"error": f"no such path {path}; use /healthz, /readyz or /metrics"}
            )

    def _healthz(self) -> None:
        if self.server.readiness.alive():
            self._json(HTTPStatus.OK, {"status": "alive"})
        else:
            self._json(HTTPStatus.SERVICE_UNAVAILABLE, {"status": "scheduler thread stopped"})

    def _readyz(self) -> None:
        failing = self.server.readiness.failing()
        if failing:
            self._json(HTTPStatus.SERVICE_UNAVAILABLE, {"ready": False, "failing": failing})
        else:
            self._json(HTTPStatus.OK, {"ready": True})

    def _json(self, status: HTTPStatus, body: Mapping[str, Any]) -> None:
        self._send(status, json.dumps(body).encode("utf-8") + b"\n", "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


class HealthServer:
    """Serves ``/healthz``, ``/readyz`` and ``/metrics`` on ``host:port`` (port 0: any free port)."""

    def __init__(
        self,
        readiness: Readiness,
        registry: CollectorRegistry,
        *,
        host: str = "0.0.0.0",  # noqa: S104 - probes and scrapes come from outside the pod
        port: int = 8080,
    ) -> None:
        self._readiness = readiness
        self._registry = registry
        self._host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port served on (the one bound, when started with port 0)."""
        if self._server is None:
            return self._port
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://host:port`` of the server (loopback when bound to every interface)."""
        host = "127.0.0.1" if self._host in {"0.0.0.0", ""} else self._host  # noqa: S104 - compared, not bound
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Bind, start serving in a daemon thread and start the broker probe."""
        if self._server is not None:
            return
        try:
            self._server = _Server((self._host, self._port), self._readiness, self._registry)
        except OSError as exc:
            raise ConfigError(
                f"cannot serve health and metrics on {self._host}:{self._port} ({exc.strerror or exc}); "
                "set PUBLISHER_HTTP_PORT to a free port"
            ) from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="health-http", daemon=True
        )
        self._thread.start()
        self._readiness.start()
        log.info("health_server_started", host=self._host, port=self.port)

    def stop(self) -> None:
        """Stop the broker probe and the server; close the listening socket."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        self._readiness.stop()
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()
        log.info("health_server_stopped")

    def __enter__(self) -> HealthServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
