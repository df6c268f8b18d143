"""Results of a run: markdown tables for people, a JSON file for the docs, ``name=value`` lines last.

The ``name=value`` lines are the machine-readable contract of ``make bench``: exactly :data:`NAMES`, in that
order, as the last lines of the output.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.scaling import ScalePoint, slope
from publisher.buildinfo import build_kind

NAMES = (
    "raw_producer_msgs_per_s",
    "pipeline_readings_per_s",
    "ratio_vs_raw_producer",
    "naive_readings_per_s",
    "speedup_vs_naive",
    "state_bytes_per_series",
    "restore_series_per_s",
)
GOALS = {
    "ratio_vs_raw_producer": (">=", 0.25),
    "speedup_vs_naive": (">=", 2.0),
    "state_bytes_per_series": ("<=", 4096.0),
    "restore_series_per_s": (">=", 50000.0),
}


@dataclass
class Results:
    """Everything one run measured (rates per second, bytes, seconds)."""

    size: str
    raw_producer_msgs_per_s: float
    raw_untransactional_msgs_per_s: float
    pipeline_readings_per_s: float
    naive_readings_per_s: float
    readings: int
    pipeline_events: int
    naive_events: int
    event_bytes: float
    state_bytes_per_series: float
    state_bytes_applied: float
    state_bytes_estimate: float
    state_series: int
    state_record_bytes: float
    apply_us: float
    restore_series_per_s: float
    restore_series: int
    restore_records: int
    consumer_records_per_s: float
    scaling: list[ScalePoint] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)
    #: scaling sizes this run did not measure, kept from the results file of an earlier run
    earlier_sizes: list[int] = field(default_factory=list)
    #: pipeline ÷ raw producer of each throughput round, the two measured one after the other: how much
    #: the machine's speed moved during the run (the named ratio divides the best of each)
    round_ratios: list[float] = field(default_factory=list)

    @property
    def ratio_vs_raw_producer(self) -> float:
        return self.pipeline_readings_per_s / self.raw_producer_msgs_per_s

    @property
    def speedup_vs_naive(self) -> float:
        return self.pipeline_readings_per_s / self.naive_readings_per_s

    def values(self) -> dict[str, float]:
        """The named results, in :data:`NAMES` order."""
        return {name: float(getattr(self, name)) for name in NAMES}

    def slopes(self) -> dict[str, float]:
        """Fitted exponents of cycle time and memory against usage points (1.0: linear)."""
        points = [p.points for p in self.scaling]
        return {
            "cold_cycle": slope(points, [p.cold_seconds for p in self.scaling]),
            "steady_cycle": slope(points, [p.steady_seconds for p in self.scaling]),
            "cold_cycle_cpu": slope(points, [p.cold_cpu_seconds for p in self.scaling]),
            "steady_cycle_cpu": slope(points, [p.steady_cpu_seconds for p in self.scaling]),
            "state_bytes": slope(points, [p.state_bytes for p in self.scaling]),
            "peak_rss_growth": slope(points, [max(p.peak_rss - p.rss_before, 1) for p in self.scaling]),
        }


def machine() -> dict[str, Any]:
    """Where and when the numbers were taken; the load average says how busy the machine was."""
    try:
        load = list(os.getloadavg())
    except OSError:  # platforms without a load average
        load = []
    return {
        "when": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load_average": [round(value, 2) for value in load],
        "build": build_kind(),  # compiled (make bench) or interpreted (BENCH_BUILD=interpreted)
    }


def value_lines(results: Results) -> list[str]:
    """``name=value``, one per name of :data:`NAMES`."""
    lines = []
    for name, value in results.values().items():
        text = f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
        lines.append(f"{name}={text}")
    return lines


def _verdict(name: str) -> str:
    return "" if name not in GOALS else f"{GOALS[name][0]} {GOALS[name][1]:g}"


def _met(name: str, value: float) -> str:
    if name not in GOALS:
        return ""
    op, goal = GOALS[name]
    return "yes" if (value >= goal if op == ">=" else value <= goal) else "**no**"


def _round_ratios(ratios: Sequence[float]) -> list[str]:
    if not ratios:
        return []
    label = f"pipeline / raw per round, the pair back to back (min / median / max of {len(ratios)})"
    return [_row(label, f"{min(ratios):.3f} / {statistics.median(ratios):.3f} / {max(ratios):.3f}")]


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def tables(results: Results) -> list[str]:
    """Markdown tables of the run (what the docs show)."""
    info = results.machine
    out = [
        (
            f"Run: size `{results.size}`, {info.get('build', 'interpreted')} build, {info.get('cpus')} CPUs, "
            f"load average {info.get('load_average')}"
        ),
        f"at {info.get('when')}",
        "",
        _row("result", "value", "goal", "met"),
        "|---|---:|---|---|",
    ]
    for name, value in results.values().items():
        shown = f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
        out.append(_row(f"`{name}`", shown, _verdict(name), _met(name, value)))
    per_series = _records_per_series(results)
    out += [
        "",
        _row("throughput detail", "value"),
        "|---|---:|",
        _row("readings per run (recorded responses x 9,600)", f"{results.readings:,}"),
        _row("events by the pipeline", f"{results.pipeline_events:,}"),
        _row("events by the naive publisher", f"{results.naive_events:,}"),
        _row("average encoded event (bytes)", f"{results.event_bytes:,.0f}"),
        _row("raw producer without transactions (msgs/s)", f"{results.raw_untransactional_msgs_per_s:,.0f}"),
        *_round_ratios(results.round_ratios),
        "",
        _row("state detail", "value"),
        "|---|---:|",
        _row("series in the measured store", f"{results.state_series:,}"),
        _row(
            "bytes per series, restored by load_record (tracemalloc)",
            f"{results.state_bytes_per_series:,.0f}",
        ),
        _row("bytes per series, filled by apply (tracemalloc)", f"{results.state_bytes_applied:,.0f}"),
        _row("bytes per series, the store's approx_bytes()", f"{results.state_bytes_estimate:,.0f}"),
        _row("encoded state record, one series-week (bytes)", f"{results.state_record_bytes:,.0f}"),
        _row("apply() (microseconds per reading)", f"{results.apply_us:,.1f}"),
        _row("restore: series / records read", f"{results.restore_series:,} / {results.restore_records:,}"),
        _row("restore (records/s)", f"{results.restore_series_per_s * per_series:,.0f}"),
        _row(
            "bare read_committed consumer, same topic (records/s)", f"{results.consumer_records_per_s:,.0f}"
        ),
    ]
    if results.scaling:
        out += [
            "",
            _row(
                "usage points",
                "cold cycle (s)",
                "publisher CPU (s)",
                "readings",
                "readings/s",
                "steady cycle (s)",
                "publisher CPU (s)",
                "readings",
                "state (MB)",
                "RSS before (MB)",
                "peak RSS (MB)",
            ),
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        out += [
            _row(
                f"{p.points:,}",
                f"{p.cold_seconds:,.2f}",
                f"{p.cold_cpu_seconds:,.2f}",
                f"{p.cold_readings:,}",
                f"{p.cold_readings_per_s:,.0f}",
                f"{p.steady_seconds:,.2f}",
                f"{p.steady_cpu_seconds:,.2f}",
                f"{p.steady_readings:,}",
                f"{p.state_bytes / 1e6:,.1f}",
                f"{p.rss_before / 1e6:,.0f}",
                f"{p.peak_rss / 1e6:,.0f}",
            )
            for p in results.scaling
        ]
        fitted = ", ".join(
            f"{name} {value:.2f}" for name, value in results.slopes().items() if not math.isnan(value)
        )
        out += ["", f"Fitted exponents (time or bytes ~ usage points ^ b; 1.00 is linear): {fitted}"]
        if results.earlier_sizes:
            sizes = ", ".join(f"{size:,}" for size in results.earlier_sizes)
            out.append(f"Scaling sizes measured by an earlier run (BENCH_SIZE=full), not this one: {sizes}")
    return out


def _records_per_series(results: Results) -> float:
    return results.restore_records / results.restore_series if results.restore_series else 0.0


def write_json(results: Results, path: Path) -> None:
    """The results as JSON (the docs' tables and plot are made from it)."""
    document = asdict(results)
    document["values"] = results.values()
    document["slopes"] = {k: (None if math.isnan(v) else v) for k, v in results.slopes().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def read_json(path: Path) -> Results:
    """Results written by :func:`write_json`."""
    document = json.loads(path.read_text(encoding="utf-8"))
    document.pop("values", None)
    document.pop("slopes", None)
    document["scaling"] = [ScalePoint(**point) for point in document.get("scaling", [])]
    return Results(**document)


def merged_scaling(current: Sequence[ScalePoint], previous: Sequence[ScalePoint]) -> list[ScalePoint]:
    """This run's sizes, plus sizes only an earlier run measured (e.g. 100k from a ``full`` run)."""
    measured = {p.points for p in current}
    return sorted([*current, *(p for p in previous if p.points not in measured)], key=lambda p: p.points)
