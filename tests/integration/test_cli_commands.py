"""The commands end to end: fetch, simulate, once and backfill as a user runs them."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from publisher.cli import main
from publisher.simulator.clock import SimClock
from publisher.simulator.faults import FaultRule
from publisher.simulator.server import SimulatorServer
from support.pipeline import FORWARD, REGISTER, REVERSE, read_events, small_config, wiring, write_registry

NOW = datetime(2025, 4, 8, 3, 0, tzinfo=UTC)


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    server = SimulatorServer(small_config(3), clock=SimClock(NOW))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def env(
    sim: SimulatorServer, kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    values = wiring(sim, kafka_bootstrap, write_registry(tmp_path / "r.yaml", sim.config)).env
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def fetch_lines(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, object]], str]:
    code = main(["fetch", *args])
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    "fault",
    [
        None,
        FaultRule(kind="status", status=429, retry_after="1"),
        FaultRule(kind="status", status=503),
        FaultRule(kind="drop"),
        FaultRule(kind="truncate"),
        FaultRule(kind="malformed"),
        FaultRule(kind="extra_fields", times=None),
    ],
    ids=["clean", "429", "503", "drop", "truncate", "malformed", "extra-fields"],
)
def test_fetch_prints_exactly_the_truth_across_dst_and_faults(
    sim: SimulatorServer,
    env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    fmt: str,
    fault: FaultRule | None,
) -> None:
    if fault is not None:
        sim.faults.add(fault)
    start, end = "2025-04-05T00:00:00", "2025-04-07T00:00:00"  # Auckland's DST end on 2025-04-06
    code, lines, err = fetch_lines(
        capsys,
        "--usage-point", "up-000", "--usage-point", "up-001",
        "--reading-type", FORWARD, "--reading-type", REVERSE, "--reading-type", REGISTER,
        "--start", start, "--end", end, "--format", fmt,
    )  # fmt: skip
    assert code == 0, err
    utc_start, utc_end = datetime(2025, 4, 4, 11, 0, tzinfo=UTC), datetime(2025, 4, 6, 12, 0, tzinfo=UTC)
    expected = [
        r.to_json()
        for up in ("up-000", "up-001")
        for rt in (FORWARD, REVERSE, REGISTER)
        for r in sim.truth(up, rt, utc_start, utc_end)
    ]

    def key(line: dict[str, object]) -> tuple[str, ...]:
        return (str(line["usage_point"]), str(line["reading_type"]), str(line["end"]))

    assert sorted(lines, key=key) == sorted(expected, key=key)
    auckland_forward = [x for x in lines if x["usage_point"] == "up-000" and x["reading_type"] == FORWARD]
    assert len([x for x in auckland_forward if str(x["start"]).startswith("2025-04-05T1")]) > 0
    assert len(auckland_forward) == 48 + 50  # 5 April and the 25-hour 6 April
    assert all(str(x["end"]).endswith("Z") for x in lines)


def test_fetch_with_a_bad_time_is_one_line_exit_2(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["fetch", "--usage-point", "u", "--reading-type", FORWARD, "--start", "yesterday", "--end", "x"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "--start 'yesterday' is not a time" in err


def test_fetch_with_a_forbidden_token_exits_with_the_auth_code(
    sim: SimulatorServer, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    sim.faults.add(FaultRule(kind="status", status=403, times=None))
    code, lines, err = fetch_lines(
        capsys,
        "--usage-point",
        "up-000",
        "--reading-type",
        FORWARD,
        "--start",
        "2025-04-07",
        "--end",
        "2025-04-08",
    )
    assert (code, lines) == (3, [])
    assert err.splitlines()[-1].startswith("netstream-publisher: error: ")
    assert "Traceback" not in err
    assert "test-token" not in err


def test_once_publishes_then_publishes_nothing_more(
    sim: SimulatorServer, env: dict[str, str], capsys: pytest.CaptureFixture[str], kafka_bootstrap: str
) -> None:
    # `once` uses the wall clock; the simulator serves up to its own clock, so the 48 h window is empty of
    # new data unless the simulator's clock is now: move it there.
    sim.clock.set(datetime.now(UTC))
    assert main(["once"]) == 0
    first = read_events(kafka_bootstrap, env["PUBLISHER_TOPIC"])
    assert len(first) > 3 * 2 * 90
    assert main(["once"]) == 0
    assert len(read_events(kafka_bootstrap, env["PUBLISHER_TOPIC"])) == len(first)


def test_once_with_netstream_down_fails_with_one_line(
    sim: SimulatorServer,
    env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NETSTREAM_MAX_RETRIES", "1")
    sim.faults.add(FaultRule(kind="status", status=503, times=None))
    code = main(["once"])
    err = capsys.readouterr().err
    assert code == 1
    last = err.splitlines()[-1]  # log lines (JSON) come first on stderr, the one-line error last
    assert last.startswith("netstream-publisher: error: ")
    assert "could not be fetched" in last
    assert "Traceback" not in err


def test_once_without_a_registry_names_the_setting(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PUBLISHER_REGISTRY_FILE")
    assert main(["once"]) == 2
    assert "PUBLISHER_REGISTRY_FILE is not set" in capsys.readouterr().err


def test_backfill_publishes_with_its_start_up_heap_frozen(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    gc.unfreeze()
    try:
        code = main(["backfill", "--start", "2025-04-01", "--end", "2025-04-02", "--no-progress"])
        frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()
    assert code == 0, capsys.readouterr().err[-2000:]
    assert frozen > 0
    assert read_events(env["KAFKA_BOOTSTRAP_SERVERS"], env["PUBLISHER_TOPIC"])


def test_backfill_of_a_usage_point_of_another_shard_is_refused(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBLISHER_SHARD_COUNT", "4")
    monkeypatch.setenv("PUBLISHER_STATE_PARTITIONS", "4")
    from publisher.registry import shard_of

    other = next(f"up-{i:03d}" for i in range(3) if shard_of(f"up-{i:03d}", 4) != 0)
    code = main(["backfill", "--start", "2025-04-01", "--end", "2025-04-02", "--usage-point", other])
    assert code == 2
    assert f"usage point {other} belongs to shard" in capsys.readouterr().err


def test_simulate_serves_until_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "publisher", "simulate", "--port", "0", "--usage-points", "2", "--token", "t"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PUBLISHER_LOG_LEVEL": "warning"},
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        base = first.strip().rsplit(" ", 1)[-1]
        assert base.startswith("http://127.0.0.1:")
        answer = requests.post(
            f"{base}/api/cim17/9/MeterReadings2/get",
            data=b"{}",
            headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
            timeout=10,
        )
        assert answer.status_code == 400  # a real service: an empty request is a ProblemDetails 400
        assert answer.headers["Content-Type"].startswith("application/problem+json")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        if process.stdout is not None:
            process.stdout.close()
