"""`netstream-publisher run` as a real process: readiness, metrics, and SIGTERM in the middle of a cycle."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from publisher.cli import main
from publisher.embedded import free_port
from publisher.simulator.clock import SimClock
from publisher.simulator.faults import FaultRule
from publisher.simulator.server import SimulatorServer
from support.kafka import Watermarks
from support.pipeline import fact_of_event, latest, read_events, small_config, truth, wiring, write_registry
from support.service import metric, start_run, wait_for


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    now = datetime.now(UTC).replace(microsecond=0)
    server = SimulatorServer(small_config(4, late_fraction=0.0, revision_fraction=0.0), clock=SimClock(now))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_run_becomes_ready_publishes_serves_metrics_and_stops_on_sigterm(
    sim: SimulatorServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    port = free_port()
    env = wiring(
        sim,
        kafka_bootstrap,
        write_registry(tmp_path / "r.yaml", sim.config),
        PUBLISHER_HTTP_PORT=str(port),
        PUBLISHER_PLANS=json.dumps([{"name": "fast", "interval": 3600, "lookback": "PT6H"}]),
    ).env
    process = start_run(env, tmp_path / "run.log")
    try:
        assert wait_for(f"http://127.0.0.1:{port}/healthz", 200).status_code == 200
        ready = wait_for(f"http://127.0.0.1:{port}/readyz", 200)
        assert ready.status_code == 200
        deadline = time.monotonic() + 60
        while True:  # the first cycle runs at start-up
            text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            if metric(text, 'netstream_publisher_cycles_total{outcome="succeeded"') >= 1:
                break
            assert time.monotonic() < deadline, "no cycle completed within 60 s"
            time.sleep(0.2)
        published = metric(text, "netstream_publisher_events_published_total")
        assert published == len(read_events(kafka_bootstrap, env["PUBLISHER_TOPIC"])) > 0
        assert metric(text, 'netstream_publisher_transactions_total{outcome="committed"') >= 1
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=90)
    log = (tmp_path / "run.log").read_text()
    assert code == 0, log[-2000:]
    assert "Traceback" not in log
    assert '"service_stopped"' in log
    assert 0 < log.index('"heap_frozen"') < log.index('"service_started"')  # start-up's objects, then ready


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigterm_in_the_middle_of_a_cycle_loses_and_duplicates_nothing(
    sim: SimulatorServer,
    kafka_bootstrap: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = wiring(
        sim,
        kafka_bootstrap,
        write_registry(tmp_path / "r.yaml", sim.config),
        PUBLISHER_HTTP_PORT=str(free_port()),
        NETSTREAM_WINDOW="PT12H",
        NETSTREAM_BATCH_SIZE="1",
        NETSTREAM_MAX_IN_FLIGHT="1",
        PUBLISHER_PLANS=json.dumps([{"name": "slow", "interval": 3600, "lookback": "P4D"}]),
    ).env
    sim.faults.add(FaultRule(kind="slow", delay=0.2, times=None))
    process = start_run(env, tmp_path / "run.log")
    marks = Watermarks(kafka_bootstrap, env["PUBLISHER_TOPIC"])
    try:
        deadline = time.monotonic() + 60
        while marks.read()[1] == 0:  # something committed: the cycle is under way
            assert process.poll() is None, (tmp_path / "run.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the cycle committed nothing within 60 s"
            time.sleep(0.05)
    finally:
        marks.close()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=90)
    log = (tmp_path / "run.log").read_text()
    assert code == 0, log[-2000:]
    partial = read_events(kafka_bootstrap, env["PUBLISHER_TOPIC"])
    assert [n for n in Counter(e["event_id"] for e in partial).values() if n > 1] == []

    sim.faults.clear()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    once_start = (datetime.now(UTC) - timedelta(days=4)).replace(minute=0, second=0, microsecond=0)
    assert main(["once"]) == 0, capsys.readouterr().err[-2000:]

    events = read_events(kafka_bootstrap, env["PUBLISHER_TOPIC"])
    assert [n for n in Counter(e["event_id"] for e in events).values() if n > 1] == [], "duplicated"
    assert [n for n in Counter(fact_of_event(e) for e in events).values() if n > 1] == [], "published twice"
    expected = truth(sim, sim.config, once_start, sim.clock.now())
    newest = {fact_of_event(e) for e in latest(events).values()}
    assert expected <= newest, f"lost {len(expected - newest)} facts"
    assert len(partial) < len(events), "the SIGTERM should have interrupted the cycle part-way"
