"""Scenario 5, broker outage: cut the broker's traffic (20 s, 2 min, longer than transaction.timeout.ms),
blackhole it, freeze it with SIGSTOP. No crash loop; readiness goes false, then true again; the backlog
drains; 0 lost and 0 duplicated. An outage beyond PUBLISHER_BROKER_OUTAGE_MAX exits non-zero.

Every test runs its own broker behind the fault-injecting proxy (the SIGSTOP freezes that broker, never the
session's). The outage starts in the middle of a cycle, after its first committed window, so a transaction
is under way. An independent read_committed reader, connected to the broker directly, counts every (usage
point, reading type, interval) against the simulator's ground truth.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field
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
from support.service import (
    kill_if_running,
    readiness,
    start_run,
    stop,
    wait_for,
    wait_for_commits,
    wait_for_cycles,
)


@dataclass(frozen=True)
class Outage:
    """One way of losing the broker, for ``seconds``."""

    kind: str  # "cut", "blackhole" or "sigstop"
    seconds: float
    env: dict[str, str] = field(default_factory=dict)


OUTAGES = {
    "cut-20s": Outage("cut", scale(10.0, 20.0)),
    "cut-2min": Outage("cut", scale(16.0, 120.0)),
    # the transaction under way times out while the broker cannot be reached (the short form: three
    # times over, more than the three attempts a window used to get)
    "cut-past-transaction-timeout": Outage(
        "cut", scale(16.0, 75.0), {"KAFKA_TRANSACTION_TIMEOUT_MS": scale("5000", "60000")}
    ),
    "blackhole": Outage("blackhole", scale(10.0, 60.0)),
    "sigstop-20s": Outage("sigstop", scale(10.0, 20.0)),
}
#: PUBLISHER_BROKER_OUTAGE_MAX of the test that outlasts it
LIMIT = scale(10, 60)


def service_env(
    sim: SimulatorServer, broker: ProxiedBroker, tmp_path: Path, port: int, **extra: str
) -> dict[str, str]:
    return wiring(
        sim,
        broker.bootstrap,
        write_registry(tmp_path / "r.yaml", sim.config),
        PUBLISHER_HTTP_PORT=str(port),
        NETSTREAM_WINDOW="PT6H",
        NETSTREAM_BATCH_SIZE="1",
        NETSTREAM_MAX_IN_FLIGHT="1",
        PUBLISHER_PLANS=json.dumps([{"name": "live", "interval": 3600, "lookback": "P4D"}]),
        **extra,
    ).env


def begin(outage: Outage, broker: ProxiedBroker) -> None:
    if outage.kind == "sigstop":
        broker.broker.pause()
    else:
        broker.proxy.set_mode("cut" if outage.kind == "cut" else "blackhole")


def end(outage: Outage, broker: ProxiedBroker) -> None:
    if outage.kind == "sigstop":
        broker.broker.resume()
    else:
        broker.proxy.set_mode("pass")


def lookback_start() -> datetime:
    return (datetime.now(UTC) - timedelta(days=4)).replace(minute=0, second=0, microsecond=0)


@pytest.mark.slow
@pytest.mark.timeout(scale(120, 900))
@pytest.mark.parametrize("name", list(OUTAGES))
def test_an_outage_under_the_limit_is_ridden_out_and_the_backlog_drains(
    name: str, sim: SimulatorServer, proxied_broker: ProxiedBroker, tmp_path: Path
) -> None:
    outage = OUTAGES[name]
    port = free_port()
    env = service_env(sim, proxied_broker, tmp_path, port, **outage.env)
    sim.faults.add(FaultRule(kind="slow", delay=0.1, times=None))  # a cycle of many windows, seconds long
    start = lookback_start()
    log = tmp_path / "run.log"
    process = start_run(env, log)
    try:
        wait_for(f"http://127.0.0.1:{port}/readyz", 200)
        wait_for_commits(port, 1, process, log)
        begin(outage, proxied_broker)
        began = time.monotonic()
        unready_after: float | None = None
        try:
            while time.monotonic() - began < outage.seconds:
                assert process.poll() is None, (
                    f"the publisher exited during the outage: {log.read_text()[-3000:]}"
                )
                if unready_after is None and readiness(port) == 503:
                    unready_after = time.monotonic() - began
                time.sleep(0.2)
        finally:
            end(outage, proxied_broker)
        ended = time.monotonic()
        assert unready_after is not None, "/readyz never reported the outage"
        wait_for(f"http://127.0.0.1:{port}/readyz", 200, timeout=120)
        ready_after = time.monotonic() - ended
        wait_for_cycles(port, 1, process, log, timeout=300)  # the cycle the outage interrupted completes
        drained_after = time.monotonic() - ended
        assert stop(process) == 0, log.read_text()[-3000:]
    finally:
        kill_if_running(process)
    text = log.read_text()
    assert "Traceback" not in text
    counted = ledger(sim, proxied_broker.direct, env["PUBLISHER_TOPIC"], start, sim.clock.now())
    print(  # the figures of the reliability report
        f"broker outage {name}: seconds={outage.seconds} same_process=yes "
        f"unready_after_s={unready_after:.1f} "
        f"ready_again_after_s={ready_after:.1f} drained_after_s={drained_after:.1f} {counted.line()}"
    )
    counted.assert_exact()


def exit_under_outage(
    process: subprocess.Popen[bytes], proxied_broker: ProxiedBroker, timeout: float, doing: str
) -> tuple[int, float]:
    """Wait for ``process`` to exit while the broker is cut: its exit code and the seconds waited. Either way
    the broker is let through again and the process is ended."""
    began = time.monotonic()
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still {doing} {timeout}s into an outage limited to {LIMIT}s")
    finally:
        proxied_broker.proxy.set_mode("pass")
        kill_if_running(process)
    return code, time.monotonic() - began


@pytest.mark.slow
@pytest.mark.timeout(scale(180, 600))
def test_an_outage_past_the_limit_exits_non_zero_and_the_restart_catches_up(
    sim: SimulatorServer, proxied_broker: ProxiedBroker, tmp_path: Path
) -> None:
    port = free_port()
    env = service_env(sim, proxied_broker, tmp_path, port, PUBLISHER_BROKER_OUTAGE_MAX=f"PT{LIMIT}S")
    sim.faults.add(FaultRule(kind="slow", delay=0.1, times=None))
    start = lookback_start()
    log = tmp_path / "run.log"
    process = start_run(env, log)
    try:
        wait_for(f"http://127.0.0.1:{port}/readyz", 200)
        wait_for_commits(port, 1, process, log)
        proxied_broker.proxy.set_mode("cut")  # for good, until the process gives up
        code, exited_after = exit_under_outage(process, proxied_broker, LIMIT + 60, "running")
    finally:
        kill_if_running(process)
    text = log.read_text()
    assert code == 4, text[-3000:]
    assert "PUBLISHER_BROKER_OUTAGE_MAX" in text
    assert "Traceback" not in text

    sim.faults.clear()
    restart_log = tmp_path / "restart.log"
    restarted = start_run(env, restart_log)
    try:
        wait_for_cycles(port, 1, restarted, restart_log)
    finally:
        assert stop(restarted) == 0, restart_log.read_text()[-3000:]
    counted = ledger(sim, proxied_broker.direct, env["PUBLISHER_TOPIC"], start, sim.clock.now())
    print(  # the figures of the reliability report
        f"broker outage past the limit: limit_s={LIMIT} exit_code={code} exited_after_s={exited_after:.1f} "
        f"{counted.line()}"
    )
    counted.assert_exact()


#: how long the broker is unreachable when the service starts: longer than one attempt at start-up's Kafka
#: calls (30 s each), so the service really waits and tries again
START_OUTAGE = scale(40.0, 120.0)


@pytest.mark.slow
@pytest.mark.timeout(scale(240, 900))
def test_a_broker_down_at_start_up_is_waited_for_then_the_backlog_is_published(
    sim: SimulatorServer, proxied_broker: ProxiedBroker, tmp_path: Path
) -> None:
    port = free_port()
    env = service_env(sim, proxied_broker, tmp_path, port)
    start = lookback_start()
    log = tmp_path / "run.log"
    proxied_broker.proxy.set_mode("cut")
    process = start_run(env, log)
    try:
        began = time.monotonic()
        alive = unready = False
        try:
            while time.monotonic() - began < START_OUTAGE:
                assert process.poll() is None, (
                    f"the publisher exited while the broker was down at start-up: {log.read_text()[-3000:]}"
                )
                alive = alive or wait_for(f"http://127.0.0.1:{port}/healthz", 200, timeout=5).ok
                unready = unready or readiness(port) == 503
                time.sleep(0.5)
        finally:
            proxied_broker.proxy.set_mode("pass")
        ended = time.monotonic()
        assert alive, "/healthz did not answer while the service waited for the broker"
        assert unready, "/readyz did not report the service as not ready while it waited for the broker"
        assert "start_retried" in log.read_text()
        wait_for(f"http://127.0.0.1:{port}/readyz", 200, timeout=120)
        ready_after = time.monotonic() - ended
        wait_for_cycles(port, 1, process, log, timeout=300)
        assert stop(process) == 0, log.read_text()[-3000:]
    finally:
        kill_if_running(process)
    text = log.read_text()
    assert "Traceback" not in text
    counted = ledger(sim, proxied_broker.direct, env["PUBLISHER_TOPIC"], start, sim.clock.now())
    retries = text.count("start_retried")
    print(  # the figures of the reliability report
        f"broker down at start-up: seconds={START_OUTAGE} same_process=yes retries={retries} "
        f"ready_after_s={ready_after:.1f} {counted.line()}"
    )
    counted.assert_exact()


@pytest.mark.slow
@pytest.mark.timeout(scale(180, 600))
def test_a_broker_down_at_start_up_past_the_limit_exits_4_with_one_line(
    sim: SimulatorServer, proxied_broker: ProxiedBroker, tmp_path: Path
) -> None:
    port = free_port()
    env = service_env(sim, proxied_broker, tmp_path, port, PUBLISHER_BROKER_OUTAGE_MAX=f"PT{LIMIT}S")
    log = tmp_path / "run.log"
    proxied_broker.proxy.set_mode("cut")
    process = start_run(env, log)
    # one start-up attempt (30 s) may outlast the limit
    code, _ = exit_under_outage(process, proxied_broker, LIMIT + 120, "starting")
    text = log.read_text()
    assert code == 4, text[-3000:]
    assert "could not start" in text
    assert "PUBLISHER_BROKER_OUTAGE_MAX" in text
    assert "Traceback" not in text
