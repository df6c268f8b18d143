"""Scenario 3, fencing: two ``run`` processes with the same shard index. The older one is fenced within one
cycle, exits non-zero, and commits 0 records after being fenced.

Each process talks to the broker through a proxy of its own, which records every transactional call on
the wire: the newer process's InitProducerId answer is the moment of fencing (and carries the new producer
epoch); every EndTxn the older process sends after it must be refused. Fresh readings keep arriving (the
simulator's clock moves on), so every cycle has something to commit. The chain repeats: each newcomer
fences the process before it. At the end an independent read_committed reader counts every (usage point,
reading type, interval) against the simulator's ground truth.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from publisher.embedded import free_port
from publisher.simulator.clock import SimClock
from publisher.simulator.server import SimulatorServer
from support.brokers import proxied
from support.chaos import scale
from support.ledger import ledger
from support.pipeline import small_config, wiring, write_registry
from support.service import SUCCEEDED_CYCLES, scrape, start_run, stop, wait_for_cycles
from support.tcpproxy import END_TXN, INIT_PRODUCER_ID, TcpProxy, TxnCall

#: seconds between two cycles of the plan: "fenced within one cycle" is measured against it
INTERVAL = scale(4, 10)
FENCES = scale(2, 8)


@dataclass
class MovingSim:
    """A simulator whose clock runs 30 minutes ahead every second (from 12 hours ago), so every cycle has
    new readings to commit, until :meth:`freeze`."""

    server: SimulatorServer
    done: threading.Event
    ticker: threading.Thread

    def freeze(self) -> None:
        self.done.set()
        self.ticker.join()


@pytest.fixture
def moving() -> Iterator[MovingSim]:
    now = datetime.now(UTC).replace(microsecond=0)
    clock = SimClock(now - timedelta(hours=12))
    server = SimulatorServer(small_config(4, late_fraction=0.0, revision_fraction=0.0), clock=clock)
    server.start()
    done = threading.Event()

    def advance() -> None:
        while not done.wait(1.0):
            if clock.now() < now:
                clock.advance(timedelta(minutes=30))

    ticker = threading.Thread(target=advance, daemon=True)
    ticker.start()
    try:
        yield MovingSim(server, done, ticker)
    finally:
        done.set()
        ticker.join()
        server.stop()


@dataclass
class Pod:
    """One ``run`` process and the proxy in front of its Kafka connections."""

    process: subprocess.Popen[bytes]
    proxy: TcpProxy
    port: int
    log: Path

    def granted(self, timeout: float = 60) -> TxnCall:
        """The broker's answer to this process's InitProducerId: the moment it fenced its predecessor."""
        deadline = time.monotonic() + timeout
        while True:
            calls = [c for c in self.proxy.stats.transactions if c.api_key == INIT_PRODUCER_ID]
            ok = [c for c in calls if c.error_code == 0]
            if ok:
                return ok[0]
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, "no producer id granted within 60 s"
            time.sleep(0.01)

    def commits(self) -> list[TxnCall]:
        """Every commit the broker accepted from this process."""
        return [c for c in self.proxy.stats.transactions if c.committed_ok]


@pytest.mark.slow
@pytest.mark.timeout(scale(240, 1200))
def test_the_older_process_of_a_shard_is_fenced_within_one_cycle_and_commits_nothing_after(
    moving: MovingSim, kafka_bootstrap: str, tmp_path: Path
) -> None:
    sim = moving.server
    env = wiring(
        sim,
        kafka_bootstrap,
        write_registry(tmp_path / "r.yaml", sim.config),
        NETSTREAM_WINDOW="P1D",
        PUBLISHER_PLANS=json.dumps([{"name": "live", "interval": INTERVAL, "lookback": "P2D"}]),
    ).env
    start = (datetime.now(UTC) - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    pods: list[Pod] = []

    def launch(index: int) -> Pod:
        proxy = proxied(kafka_bootstrap)
        http = free_port()
        log = tmp_path / f"pod-{index}.log"
        own = {**env, "KAFKA_BOOTSTRAP_SERVERS": proxy.address, "PUBLISHER_HTTP_PORT": str(http)}
        pod = Pod(start_run(own, log), proxy, http, log)
        pods.append(pod)
        return pod

    fenced_after: list[float] = []
    try:
        older = launch(0)
        wait_for_cycles(older.port, 2, older.process, older.log)
        for index in range(1, FENCES + 1):
            newer = launch(index)
            fence = newer.granted()
            try:
                code = older.process.wait(timeout=INTERVAL + 60)
            except subprocess.TimeoutExpired:
                pytest.fail(f"the older process was not fenced within {INTERVAL + 60}s")
            fenced_after.append(time.monotonic() - fence.answered_at)
            text = older.log.read_text()
            assert code == 4, text[-3000:]
            assert "fenced" in text
            assert "Traceback" not in text
            before = older.commits()
            assert before, "the older process committed nothing at all: no proof either way"
            assert [c for c in before if c.answered_at > fence.answered_at] == [], "committed after fencing"
            assert fence.producer_epoch is not None
            assert all((c.producer_epoch or 0) < fence.producer_epoch for c in before)
            refused = [
                c
                for c in older.proxy.stats.transactions
                if c.api_key == END_TXN and c.committed and c.error_code != 0
            ]
            print(  # the figures of the reliability report
                f"fence {index}: older commits={len(before)} refused_commits_after_fence={len(refused)} "
                f"exit_after_fence_s={fenced_after[-1]:.2f} epoch {before[-1].producer_epoch}->"
                f"{fence.producer_epoch}"
            )
            wait_for_cycles(newer.port, 2, newer.process, newer.log)
            older = newer
        moving.freeze()  # no new readings from now on: one more cycle publishes everything there is
        done = scrape(older.port, SUCCEEDED_CYCLES)
        wait_for_cycles(older.port, int(done) + 2, older.process, older.log)
        assert stop(older.process) == 0, older.log.read_text()[-3000:]
    finally:
        for pod in pods:
            if pod.process.poll() is None:
                pod.process.kill()
                pod.process.wait()
            pod.proxy.stop()

    counted = ledger(sim, kafka_bootstrap, env["PUBLISHER_TOPIC"], start, sim.clock.now())
    print(
        f"fencing: fences={FENCES} interval={INTERVAL}s max_exit_after_fence_s={max(fenced_after):.2f} "
        f"{counted.line()}"
    )
    counted.assert_exact()


@pytest.mark.slow
@pytest.mark.timeout(scale(120, 300))
def test_an_older_process_with_nothing_to_publish_is_fenced_within_one_cycle_too(
    sim: SimulatorServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The simulator's clock stands still: after the first cycle there is nothing new, so without a
    transaction of its own each cycle would never reach the broker and never learn it was fenced."""
    env = wiring(
        sim,
        kafka_bootstrap,
        write_registry(tmp_path / "r.yaml", sim.config),
        NETSTREAM_WINDOW="P1D",
        PUBLISHER_PLANS=json.dumps([{"name": "live", "interval": INTERVAL, "lookback": "P1D"}]),
    ).env
    ports = free_port(), free_port()
    logs = tmp_path / "older.log", tmp_path / "newer.log"
    older = start_run({**env, "PUBLISHER_HTTP_PORT": str(ports[0])}, logs[0])
    newer: subprocess.Popen[bytes] | None = None
    try:
        wait_for_cycles(ports[0], 2, older, logs[0])  # the second cycle publishes nothing new
        newer = start_run({**env, "PUBLISHER_HTTP_PORT": str(ports[1])}, logs[1])
        wait_for_cycles(ports[1], 1, newer, logs[1])
        started = time.monotonic()
        try:
            code = older.wait(timeout=INTERVAL + 30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the idle older process was not fenced within {INTERVAL + 30}s")
        print(f"idle fencing: exit {time.monotonic() - started:.2f}s after the newer process's first cycle")
        text = logs[0].read_text()
        assert code == 4, text[-3000:]
        assert "fenced" in text
        assert stop(newer) == 0, logs[1].read_text()[-3000:]
    finally:
        for process in (older, newer):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
