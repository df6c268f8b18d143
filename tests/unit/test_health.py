"""The health server over real loopback HTTP: /healthz, /readyz transitions, /metrics and unknown paths."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests
from prometheus_client import CollectorRegistry
from structlog.testing import LogCapture

from publisher.errors import ConfigError
from publisher.health import HealthServer, Readiness
from publisher.metrics import Metrics
from publisher.pipeline.publishing import CycleStats


class Switch:
    """A broker probe whose answer the test sets."""

    def __init__(self, *, up: bool = True) -> None:
        self.up = up
        self.calls = 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.up


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


@pytest.fixture
def switch() -> Switch:
    return Switch()


@pytest.fixture
def readiness(switch: Switch) -> Readiness:
    # a long interval: the thread probes once at start; the tests refresh with probe_now()
    return Readiness(switch, probe_interval=300.0)


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    metrics = Metrics(registry, shard=0, dlq_topic="dlq", topics=["readings"])
    metrics.transaction_committed(CycleStats(new=7, per_topic={"readings": 7}))
    return registry


@pytest.fixture
def server(readiness: Readiness, registry: CollectorRegistry) -> Iterator[HealthServer]:
    server = HealthServer(readiness, registry, host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def get(server: HealthServer, path: str) -> requests.Response:
    return requests.get(server.url + path, timeout=5)


def test_healthz_is_ok_while_the_scheduler_lives(server: HealthServer, readiness: Readiness) -> None:
    stop = threading.Event()
    scheduler = threading.Thread(target=stop.wait, daemon=True)
    scheduler.start()
    readiness.watch_scheduler(scheduler.is_alive)

    reply = get(server, "/healthz")
    assert reply.status_code == 200
    assert reply.json() == {"status": "alive"}

    stop.set()
    scheduler.join()
    reply = get(server, "/healthz")
    assert reply.status_code == 503
    assert reply.json() == {"status": "scheduler thread stopped"}


def test_readyz_follows_restore_broker_and_cycles(
    server: HealthServer, readiness: Readiness, switch: Switch
) -> None:
    wait_until(lambda: switch.calls > 0)  # the probe thread ran once

    starting = get(server, "/readyz")
    assert starting.status_code == 503
    assert starting.json() == {"ready": False, "failing": {"state": "state restore has not started"}}

    readiness.restoring()
    assert get(server, "/readyz").json()["failing"] == {
        "state": "state is being restored from the state topic"
    }

    readiness.restored()
    ready = get(server, "/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True}

    switch.up = False
    readiness.probe_now()
    down = get(server, "/readyz")
    assert down.status_code == 503
    assert down.json()["failing"] == {"broker": "no answer to a metadata request"}

    readiness.cycle_failed("3 window(s) could not be fetched;\n retried next cycle")
    both = get(server, "/readyz").json()["failing"]
    assert both == {
        "broker": "no answer to a metadata request",
        "last_cycle": "3 window(s) could not be fetched; retried next cycle",
    }

    switch.up = True
    readiness.probe_now()
    assert get(server, "/readyz").json()["failing"] == {
        "last_cycle": "3 window(s) could not be fetched; retried next cycle"
    }

    readiness.cycle_succeeded()
    assert get(server, "/readyz").status_code == 200


def test_the_probe_runs_off_the_request_thread_every_interval(registry: CollectorRegistry) -> None:
    switch = Switch(up=False)
    readiness = Readiness(switch, probe_interval=0.02)
    readiness.restored()
    with HealthServer(readiness, registry, host="127.0.0.1", port=0) as server:
        wait_until(lambda: switch.calls > 0)
        assert get(server, "/readyz").json()["failing"] == {"broker": "no answer to a metadata request"}
        seen = switch.calls
        switch.up = True
        wait_until(lambda: switch.calls > seen + 1)
        assert get(server, "/readyz").status_code == 200
    stopped_at = switch.calls
    time.sleep(0.1)
    assert switch.calls == stopped_at, "stop() ends the probe thread"


def test_a_broker_not_yet_probed_and_a_probe_that_raises_count_as_unreachable(
    captured_logs: LogCapture,
) -> None:
    def broken() -> bool:
        raise RuntimeError("boom")

    readiness = Readiness(broken)
    readiness.restored()
    assert readiness.failing() == {"broker": "no answer to a metadata request yet"}
    assert readiness.probe_now() is False
    assert readiness.failing() == {"broker": "no answer to a metadata request"}
    events = [entry["event"] for entry in captured_logs.entries]
    assert events == ["broker_probe_failed", "broker_unreachable"]


def test_without_a_probe_the_broker_is_not_a_condition() -> None:
    readiness = Readiness()
    readiness.restored()
    assert readiness.failing() == {}


def test_metrics_are_served_in_the_prometheus_text_format(server: HealthServer) -> None:
    reply = get(server, "/metrics")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert 'netstream_publisher_events_published_total{topic="readings"} 7.0' in reply.text
    openmetrics = requests.get(
        server.url + "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}, timeout=5
    )
    assert openmetrics.headers["Content-Type"].startswith("application/openmetrics-text")
    assert openmetrics.text.endswith("# EOF\n")


def test_unknown_paths_are_404_and_query_strings_are_ignored(server: HealthServer) -> None:
    reply = get(server, "/status")
    assert reply.status_code == 404
    assert reply.json() == {"error": "no such path /status; use /healthz, /readyz or /metrics"}
    assert get(server, "/healthz?verbose=1").status_code == 200


def test_a_port_in_use_is_a_one_line_config_error(readiness: Readiness, registry: CollectorRegistry) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = HealthServer(readiness, registry, host="127.0.0.1", port=port)
        with pytest.raises(ConfigError) as caught:
            server.start()
    assert f"127.0.0.1:{port}" in caught.value.message
    assert "set PUBLISHER_HTTP_PORT to a free port" in caught.value.message
    assert "\n" not in caught.value.message


def test_port_zero_binds_a_free_port_and_stop_releases_it(
    readiness: Readiness, registry: CollectorRegistry
) -> None:
    server = HealthServer(readiness, registry, host="127.0.0.1", port=0)
    server.start()
    port = server.port
    assert port > 0
    assert get(server, "/healthz").status_code == 200
    server.stop()
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
