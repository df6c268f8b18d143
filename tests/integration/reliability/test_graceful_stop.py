"""Scenario 2, graceful stop: SIGTERM during a batch; exit 0 within 30 s; after the restart nothing is lost
or duplicated.

``run`` is started again and again and stopped with SIGTERM part-way through its first cycle (after it has
committed at least one window, at a random moment, with the default PUBLISHER_SHUTDOWN_TIMEOUT); a last
start runs a full cycle. An independent read_committed reader then counts every (usage point, reading
type, interval) against the simulator's ground truth.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from publisher.embedded import free_port
from publisher.simulator.faults import FaultRule
from publisher.simulator.server import SimulatorServer
from support.chaos import scale
from support.kafka import Watermarks
from support.ledger import ledger
from support.pipeline import wiring, write_registry
from support.service import SUCCEEDED_CYCLES, scrape, start_run, stop, wait_for_commits, wait_for_cycles

#: the issue's bound: a SIGTERM'd pod is gone within Kubernetes' default grace period
GRACE = 30.0
STOPS = scale(3, 12)


@pytest.mark.slow
@pytest.mark.timeout(scale(240, 1200))
def test_sigterm_during_a_batch_exits_0_within_30s_and_the_restart_loses_and_duplicates_nothing(
    sim: SimulatorServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    port = free_port()
    env = wiring(
        sim,
        kafka_bootstrap,
        write_registry(tmp_path / "r.yaml", sim.config),
        PUBLISHER_HTTP_PORT=str(port),
        NETSTREAM_WINDOW="PT12H",
        NETSTREAM_BATCH_SIZE="1",
        NETSTREAM_MAX_IN_FLIGHT="1",
        PUBLISHER_PLANS=json.dumps([{"name": "slow", "interval": 3600, "lookback": "P4D"}]),
    ).env
    sim.faults.add(FaultRule(kind="slow", delay=0.15, times=None))  # a cycle of many windows, seconds long
    rng = random.Random(20251127)
    marks = Watermarks(kafka_bootstrap, env["PUBLISHER_TOPIC"])
    exits: list[float] = []
    open_transactions = 0
    try:
        for index in range(STOPS):
            log = tmp_path / f"run-{index}.log"
            process = start_run(env, log)
            wait_for_commits(port, 1, process, log)
            time.sleep(rng.uniform(0.0, 1.0))
            assert scrape(port, SUCCEEDED_CYCLES) == 0, "the SIGTERM must land inside the first cycle"
            high, stable = marks.read()
            open_transactions += high > stable
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout=GRACE)
            except subprocess.TimeoutExpired:
                process.kill()
                pytest.fail(f"stop {index}: still running {GRACE:.0f}s after SIGTERM")
            exits.append(time.monotonic() - started)
            text = log.read_text()
            assert code == 0, text[-3000:]
            assert "Traceback" not in text
    finally:
        marks.close()

    sim.faults.clear()
    final_log = tmp_path / "final.log"
    start = (datetime.now(UTC) - timedelta(days=4)).replace(minute=0, second=0, microsecond=0)
    final = start_run(env, final_log)
    try:
        wait_for_cycles(port, 1, final, final_log)
    finally:
        assert stop(final) == 0, final_log.read_text()[-3000:]

    counted = ledger(sim, kafka_bootstrap, env["PUBLISHER_TOPIC"], start, sim.clock.now())
    print(  # the figures of the reliability report
        f"graceful stop: stops={STOPS} open_transaction_at_sigterm={open_transactions} "
        f"exit_seconds_max={max(exits):.2f} exit_seconds_mean={sum(exits) / len(exits):.2f} {counted.line()}"
    )
    counted.assert_exact()
