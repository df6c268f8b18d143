"""Scaling: cycle time and memory for 1k, 10k and 100k usage points against the simulator.

For each size a simulator process (:mod:`bench.simulator_child`) and a publisher process
(:mod:`bench.scale_child`) are started; the publisher runs a cold and a steady cycle of the ``live`` plan over
real HTTP and the broker and reports its own numbers. Separate processes keep the sizes independent (a
Python process does not hand freed memory back) and keep the simulator's CPU out of the publisher's RSS.

The simulator answers from one Python process at roughly 200 microseconds per reading, so the wall-clock
cycle time is mostly the simulator's; the CPU seconds of the publisher process are its own cost.

The slope is the exponent ``b`` of ``time = a * points ** b`` fitted through the measured sizes by least
squares on the logarithms: 1.0 is linear.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from publisher.buildinfo import build_kind

_TESTS = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ScalePoint:
    """One size's measurements."""

    points: int
    cold_seconds: float
    cold_cpu_seconds: float
    cold_readings: int
    steady_seconds: float
    steady_cpu_seconds: float
    steady_readings: int
    events: int
    rss_before: int
    peak_rss: int
    state_bytes: int
    failed_windows: int

    @property
    def cold_readings_per_s(self) -> float:
        return self.cold_readings / self.cold_seconds if self.cold_seconds else 0.0

    @classmethod
    def of(cls, data: dict[str, Any]) -> ScalePoint:
        return cls(
            points=data["points"],
            cold_seconds=data["cold"]["seconds"],
            cold_cpu_seconds=data["cold"]["cpu_seconds"],
            cold_readings=data["cold"]["fetched"],
            steady_seconds=data["steady"]["seconds"],
            steady_cpu_seconds=data["steady"]["cpu_seconds"],
            steady_readings=data["steady"]["fetched"],
            events=data["cold"]["events"] + data["steady"]["events"],
            rss_before=data["rss_before"],
            peak_rss=data["peak_rss"],
            state_bytes=data["state_bytes"],
            failed_windows=data["cold"]["failed_windows"] + data["steady"]["failed_windows"],
        )


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_TESTS), env.get("PYTHONPATH", "")) if p)
    return env


def measure(points: int, bootstrap: str, *, timeout: float = 3600.0) -> ScalePoint:
    """Start a simulator of ``points`` usage points and a publisher process; return its measurements."""
    simulator = subprocess.Popen(
        [sys.executable, "-m", "bench.simulator_child", "--points", str(points)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=_env(),
        text=True,
    )
    try:
        assert simulator.stdout is not None
        base_url = simulator.stdout.readline().strip()
        if not base_url.startswith("http"):
            raise RuntimeError(f"the simulator did not start (it printed {base_url!r})")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.scale_child",
                "--points",
                str(points),
                "--base-url",
                base_url,
                "--bootstrap",
                bootstrap,
            ],
            capture_output=True,
            env=_env(),
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        assert simulator.stdin is not None
        assert simulator.stdout is not None
        simulator.stdin.close()  # the simulator stops when its stdin closes
        simulator.wait(timeout=30)
        simulator.stdout.close()
    if done.returncode != 0:
        raise RuntimeError(f"scaling run of {points} usage points failed: {done.stderr.strip()[-2000:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    if data["build"] != build_kind():  # the publisher process must run the build this process measures
        raise RuntimeError(
            f"the scaling publisher ran the {data['build']} build, this run the {build_kind()}"
        )
    return ScalePoint.of(data)


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares exponent ``b`` of ``y = a * x ** b`` (1.0: linear); NaN with fewer than two sizes."""
    pairs = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(pairs) < 2:
        return math.nan
    mean_x = sum(x for x, _ in pairs) / len(pairs)
    mean_y = sum(y for _, y in pairs) / len(pairs)
    spread = sum((x - mean_x) ** 2 for x, _ in pairs)
    return sum((x - mean_x) * (y - mean_y) for x, y in pairs) / spread
