"""Exactly once under crashes: kill -9 a backfill again and again, and fence a duplicate shard.

The publisher runs as a real child process (``python -m publisher backfill``) against the simulator in
this process and the session broker; it is killed with SIGKILL, never the broker.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from publisher.simulator.clock import SimClock
from publisher.simulator.faults import FaultRule
from publisher.simulator.server import SimulatorServer
from support.kafka import Watermarks
from support.pipeline import fact_of_event, latest, read_events, small_config, truth, wiring, write_registry

NOW = datetime(2025, 4, 10, 0, 0, tzinfo=UTC)
START, END = "2025-03-25", "2025-04-09"  # crosses the NZ and Sydney DST end on 2025-04-06


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    server = SimulatorServer(small_config(12, late_fraction=0.0, revision_fraction=0.0), clock=SimClock(NOW))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def backfill(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``netstream-publisher backfill`` as a child process; its stderr goes to ``log``."""
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "publisher", "backfill", "--start", START, "--end", END, "--no-progress"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def finish(process: subprocess.Popen[bytes], log: Path, timeout: float = 300) -> str:
    """Wait for the child; return its stderr text."""
    process.wait(timeout=timeout)
    return log.read_text(encoding="utf-8", errors="replace")


def assert_exactly_the_truth(sim: SimulatorServer, bootstrap: str, topic: str) -> None:
    events = read_events(bootstrap, topic)
    ids = Counter(e["event_id"] for e in events)
    assert [i for i, n in ids.items() if n > 1] == [], "duplicated events"
    facts = Counter(fact_of_event(e) for e in events)
    assert [f for f, n in facts.items() if n > 1] == [], "the same fact published twice"
    start = datetime(2025, 3, 24, 11, 0, tzinfo=UTC)  # local midnight 2025-03-25 in Auckland (NZDT)
    end = datetime(2025, 4, 8, 12, 0, tzinfo=UTC)  # local midnight 2025-04-09 in Auckland (NZST)
    expected = truth(sim, sim.config, start, end)
    newest = {fact_of_event(e) for e in latest(events).values()}
    assert expected <= newest, f"lost: {len(expected - newest)} facts"
    assert len(expected) > 1000


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_kill_minus_nine_in_a_loop_then_resume_loses_and_duplicates_nothing(
    sim: SimulatorServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = wiring(
        sim,
        kafka_bootstrap,
        write_registry(tmp_path / "r.yaml", sim.config),
        NETSTREAM_WINDOW="PT3H",
        NETSTREAM_MIN_WINDOW="PT1H",
        NETSTREAM_BATCH_SIZE="2",
        PUBLISHER_LOG_LEVEL="warning",
    ).env
    topic = env["PUBLISHER_TOPIC"]
    sim.faults.add(FaultRule(kind="slow", delay=0.3, times=None))  # so that 20 kills land before the end
    rng = random.Random(20251126)
    marks = Watermarks(kafka_bootstrap, topic)
    kills = inside_transaction = 0
    try:
        while kills < 20:
            process = backfill(env, tmp_path / f"run-{kills}.log")
            before, _ = marks.read()
            deadline = time.monotonic() + 60
            while marks.read()[0] == before:  # wait until this run produces
                assert process.poll() is None, "the backfill ended before it could be killed"
                assert time.monotonic() < deadline, "the backfill produced nothing within 60 s"
                time.sleep(0.01)
            if kills % 2:
                time.sleep(rng.uniform(0.0, 1.5))  # a random moment
            else:
                # freeze it at random moments until it is frozen inside an open transaction (high
                # watermark above the last stable offset); transactions last milliseconds, so polling the
                # watermarks of a running process rarely catches one
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    os.kill(process.pid, signal.SIGSTOP)
                    high, stable = marks.read()
                    if high > stable:
                        break
                    os.kill(process.pid, signal.SIGCONT)
                    time.sleep(rng.uniform(0.0, 0.05))
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            kills += 1
            high, stable = marks.read()
            inside_transaction += high > stable
    finally:
        marks.close()

    sim.faults.clear()
    log = tmp_path / "final.log"
    final = backfill(env, log)
    stderr = finish(final, log)
    assert final.returncode == 0, stderr[-2000:]

    assert_exactly_the_truth(sim, kafka_bootstrap, topic)
    assert inside_transaction >= 1, "no kill landed inside an open transaction"


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_second_process_of_the_same_shard_fences_the_first(
    sim: SimulatorServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = wiring(
        sim,
        kafka_bootstrap,
        write_registry(tmp_path / "r.yaml", sim.config),
        NETSTREAM_WINDOW="P1D",
        PUBLISHER_LOG_LEVEL="warning",
    ).env
    topic = env["PUBLISHER_TOPIC"]
    sim.faults.add(FaultRule(kind="slow", delay=0.4, times=None))
    older_log, newer_log = tmp_path / "older.log", tmp_path / "newer.log"
    older = backfill(env, older_log)
    deadline = time.monotonic() + 60
    marks = Watermarks(kafka_bootstrap, topic)
    try:
        while marks.read()[1] == 0:
            assert time.monotonic() < deadline, "the first process never committed"
            assert older.poll() is None, older_log.read_text()
            time.sleep(0.1)
    finally:
        marks.close()
    newer = backfill(env, newer_log)

    older_err = finish(older, older_log, 120)
    assert older.returncode == 4, older_err[-2000:]
    assert "fenced" in older_err
    assert "Traceback" not in older_err

    sim.faults.clear()
    newer_err = finish(newer, newer_log)
    assert newer.returncode == 0, newer_err[-2000:]
    assert_exactly_the_truth(sim, kafka_bootstrap, topic)
