"""Scenario 4, ambiguous commit: the proxy swallows the broker's answer to a commit (EndTxn) and cuts the
connection, so the publisher cannot know whether its transaction was committed. After the restart:
0 lost, 0 duplicated.

Two forms, each repeated: the answer is lost and the connection comes straight back (librdkafka resends
the commit and the broker confirms it), and the answer is lost and then the broker stays unreachable for a
while (the publisher must resume the same commit, never abort it and redo the window: that would publish
the window twice if the first commit had landed). Then ``run`` is stopped, started again and completes a
cycle, and an independent read_committed reader (straight to the broker) counts every (usage point,
reading type, interval) against the simulator's ground truth.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from publisher.embedded import free_port
from publisher.simulator.faults import FaultRule
from publisher.simulator.server import SimulatorServer
from support.brokers import ProxiedBroker
from support.chaos import scale
from support.ledger import ledger
from support.pipeline import wiring, write_registry
from support.service import kill_if_running, start_run, stop, wait_for_commits, wait_for_cycles
from support.tcpproxy import END_TXN

#: answers swallowed with the connection back at once
QUICK = scale(2, 10)
#: answers swallowed followed by silence
SILENT = scale(2, 3)
#: seconds the broker stays unreachable after a swallowed answer; the full form outlasts three 30 s
#: commit calls of the producer, so the publisher itself sees the commit time out and must resume it
SILENCE = scale(5.0, 100.0)


def swallow_next_commit(
    broker: ProxiedBroker, alive: Callable[[], bool], silence: float = 0.0, timeout: float = 120
) -> float:
    """Swallow the answer to the next EndTxn (then cut the broker off for ``silence`` seconds); return the
    seconds until the publisher had that same transaction confirmed as committed."""
    proxy = broker.proxy
    dropped = len(proxy.stats.dropped)
    proxy.drop_response(END_TXN)
    deadline = time.monotonic() + timeout
    while len(proxy.stats.dropped) == dropped:
        assert alive(), "the publisher died"
        assert time.monotonic() < deadline, "no commit came through the proxy"
        time.sleep(0.002)
    lost = next(c for c in reversed(proxy.stats.transactions) if not c.delivered)
    assert lost.api_key == END_TXN, "the swallowed answer was not an EndTxn's"
    assert lost.committed, "the swallowed answer was not a commit's"
    if silence:
        proxy.set_mode("cut")
        time.sleep(silence)
        proxy.set_mode("pass")
    while True:  # the next delivered EndTxn of the same producer epoch settles the transaction
        settled = [
            c
            for c in proxy.stats.transactions
            if c.api_key == END_TXN and c.delivered and c.answered_at > lost.answered_at
        ]
        if settled:
            assert settled[0].committed_ok, f"the lost commit was settled otherwise: {settled[0]}"
            assert settled[0].producer_epoch == lost.producer_epoch
            return settled[0].answered_at - lost.answered_at
        assert alive(), "the publisher died"
        assert time.monotonic() < deadline, "the lost commit was never settled"
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.timeout(scale(240, 1800))
def test_a_commit_whose_answer_is_lost_is_neither_lost_nor_duplicated_after_the_restart(
    sim: SimulatorServer, proxied_broker: ProxiedBroker, tmp_path: Path
) -> None:
    port = free_port()
    env = wiring(
        sim,
        proxied_broker.bootstrap,
        write_registry(tmp_path / "r.yaml", sim.config),
        PUBLISHER_HTTP_PORT=str(port),
        NETSTREAM_WINDOW="PT6H",
        NETSTREAM_BATCH_SIZE="1",
        NETSTREAM_MAX_IN_FLIGHT="1",
        PUBLISHER_PLANS=json.dumps([{"name": "live", "interval": 5, "lookback": "P4D"}]),
    ).env
    sim.faults.add(FaultRule(kind="slow", delay=0.1, times=None))  # many windows, each its own commit
    start = (datetime.now(UTC) - timedelta(days=4)).replace(minute=0, second=0, microsecond=0)
    log = tmp_path / "run.log"
    process = start_run(env, log)
    try:
        wait_for_commits(port, 1, process, log)
        alive = lambda: process.poll() is None  # noqa: E731 - a one-line predicate
        quick = [swallow_next_commit(proxied_broker, alive) for _ in range(QUICK)]
        silent = [swallow_next_commit(proxied_broker, alive, SILENCE) for _ in range(SILENT)]
        assert process.poll() is None, log.read_text()[-3000:]
        assert stop(process) == 0, log.read_text()[-3000:]
    finally:
        kill_if_running(process)
    swallowed = list(proxied_broker.proxy.stats.dropped)
    calls = list(proxied_broker.proxy.stats.transactions)

    sim.faults.clear()
    restart_log = tmp_path / "restart.log"
    restarted = start_run(env, restart_log)
    try:
        wait_for_cycles(port, 1, restarted, restart_log)
    finally:
        assert stop(restarted) == 0, restart_log.read_text()[-3000:]

    assert len(swallowed) == QUICK + SILENT
    aborts = [c for c in calls if c.api_key == END_TXN and c.committed is False]
    assert aborts == [], "a commit of unknown outcome must be resumed, never aborted"
    counted = ledger(sim, proxied_broker.direct, env["PUBLISHER_TOPIC"], start, sim.clock.now())
    print(  # the figures of the reliability report
        f"ambiguous commit: swallowed_commit_answers={len(swallowed)} silence_s={SILENCE} "
        f"settled_after_s quick={[round(s, 2) for s in quick]} silent={[round(s, 2) for s in silent]} "
        f"aborts_sent={len(aborts)} {counted.line()}"
    )
    counted.assert_exact()
