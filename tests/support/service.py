"""Helpers for tests that run ``netstream-publisher run`` as a real child process and watch its HTTP side."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests


def start_run(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``python -m publisher run`` with ``env`` on top of this environment; stderr goes to ``log``."""
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "publisher", "run"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def wait_for(url: str, status: int, timeout: float = 60) -> requests.Response:
    """Poll ``url`` until it answers ``status``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: requests.Response | None = None
    while time.monotonic() < deadline:
        try:
            last = requests.get(url, timeout=2)
            if last.status_code == status:
                return last
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer {status} within {timeout}s (last: {last and last.text})")


def metric(text: str, name: str) -> float:
    """Sum of every sample whose line starts with ``name`` (a metric name, optionally with labels)."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def scrape(port: int, name: str) -> float:
    """One metric of the service on ``port`` (0 when it does not answer)."""
    try:
        return metric(requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text, name)
    except requests.ConnectionError:
        return 0.0


SUCCEEDED_CYCLES = 'netstream_publisher_cycles_total{outcome="succeeded"'


def wait_for_cycles(
    port: int, at_least: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 120
) -> None:
    """Wait until the service has completed ``at_least`` successful cycles (it must stay alive)."""
    deadline = time.monotonic() + timeout
    while scrape(port, SUCCEEDED_CYCLES) < at_least:
        assert process.poll() is None, log.read_text(encoding="utf-8", errors="replace")[-3000:]
        assert time.monotonic() < deadline, f"fewer than {at_least} cycle(s) succeeded within {timeout}s"
        time.sleep(0.2)


def stop(process: subprocess.Popen[bytes], timeout: float = 60) -> int:
    """SIGTERM the service and return its exit code."""
    if process.poll() is None:
        process.terminate()
    return process.wait(timeout=timeout)


def kill_if_running(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the service if it is still running (a test's clean-up after a failure), and reap it."""
    if process.poll() is None:
        process.kill()
        process.wait()


COMMITTED = 'netstream_publisher_transactions_total{outcome="committed"'


def wait_for_commits(
    port: int, at_least: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 60
) -> None:
    """Wait until the service has committed ``at_least`` window transactions (it must stay alive)."""
    deadline = time.monotonic() + timeout
    while scrape(port, COMMITTED) < at_least:
        assert process.poll() is None, log.read_text(encoding="utf-8", errors="replace")[-3000:]
        assert time.monotonic() < deadline, f"fewer than {at_least} window(s) committed within {timeout}s"
        time.sleep(0.05)


def readiness(port: int) -> int:
    """The status of ``/readyz`` (0 when the service does not answer)."""
    try:
        return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code
    except requests.RequestException:
        return 0
