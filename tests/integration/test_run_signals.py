"""Ctrl-C in a terminal: SIGINT and SIGTERM arrive back to back, and `run` still stops cleanly with 0."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from publisher.embedded import free_port
from publisher.simulator.clock import SimClock
from publisher.simulator.server import SimulatorServer
from support.pipeline import small_config, wiring, write_registry
from support.service import kill_if_running, start_run, wait_for


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    server = SimulatorServer(small_config(2), clock=SimClock(datetime.now(UTC).replace(microsecond=0)))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_sigint_then_sigterm_stops_with_exit_code_0(
    sim: SimulatorServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    port = free_port()
    env = wiring(
        sim,
        kafka_bootstrap,
        write_registry(tmp_path / "r.yaml", sim.config),
        PUBLISHER_HTTP_PORT=str(port),
        PUBLISHER_LOG_LEVEL="debug",
        PUBLISHER_PLANS=json.dumps([{"name": "fast", "interval": 2, "lookback": "PT6H"}]),
    ).env
    log = tmp_path / "run.log"
    process = start_run({**env, "PYTHONFAULTHANDLER": "1"}, log)
    try:
        wait_for(f"http://127.0.0.1:{port}/readyz", 200)
        for _ in range(20):  # signals in bursts, each burst while the service is logging
            process.send_signal(signal.SIGINT)
            process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)  # faulthandler dumps every thread's stack into the log
            process.wait(timeout=10)
            raise AssertionError("run did not stop:\n" + log.read_text()[-6000:]) from None
    finally:
        kill_if_running(process)
    text = log.read_text()
    assert code == 0, text[-2000:]
    assert text.count('"shutdown_requested"') == 1
    assert '"signal": "SIGINT"' in text
    assert '"service_stopped"' in text
