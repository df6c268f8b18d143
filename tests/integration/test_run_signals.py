"""Ctrl-C in a terminal: SIGINT and SIGTERM arrive back to back, and `run` still stops cleanly with 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from publisher.embedded import free_port
from publisher.simulator.clock import SimClock
from publisher.simulator.server import SimulatorServer
from support.pipeline import small_config, wiring, write_registry


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
    with log.open("ab") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "publisher", "run"],
            env={**os.environ, **env, "PYTHONFAULTHANDLER": "1"},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "not ready within 60 s"
            time.sleep(0.1)
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
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log.read_text()
    assert code == 0, text[-2000:]
    assert text.count('"shutdown_requested"') == 1
    assert '"signal": "SIGINT"' in text
    assert '"service_stopped"' in text
