"""The performance plot (matplotlib, PNG): the scaling curve and the ratios against their goals.

``python -m bench.plot [RESULTS_JSON] [PNG]`` redraws it from a results file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.report import GOALS, Results, read_json

DEFAULT_JSON = Path("docs/bench-results.json")
DEFAULT_PNG = Path("docs/img/performance.png")


def draw(results: Results, path: Path) -> None:
    """Three panels: cycle time against usage points (log-log), memory against usage points, the ratios."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    figure, (time_axis, memory_axis, ratio_axis) = plt.subplots(1, 3, figsize=(15, 4.5))
    points = [p.points for p in results.scaling]
    if points:
        time_axis.loglog(
            points, [p.cold_seconds for p in results.scaling], "o-", label="cold cycle (all new)"
        )
        time_axis.loglog(points, [p.steady_seconds for p in results.scaling], "s-", label="steady cycle")
        cpu = [p.cold_cpu_seconds for p in results.scaling]
        time_axis.loglog(points, cpu, "^--", label="cold cycle, publisher CPU")
        first = results.scaling[0]
        linear = [first.cold_seconds * n / first.points for n in points]
        time_axis.loglog(points, linear, ":", color="grey", label="linear from the smallest size")
        slopes = results.slopes()
        time_axis.set_title(
            f"cycle time (slope cold {slopes['cold_cycle']:.2f}, steady {slopes['steady_cycle']:.2f})"
        )
        time_axis.set_xlabel("usage points (x 2 half-hourly series, 6 h lookback)")
        time_axis.set_ylabel("seconds")
        time_axis.legend()
        time_axis.grid(visible=True, which="both", alpha=0.3)

        memory_axis.loglog(points, [p.state_bytes / 1e6 for p in results.scaling], "o-", label="series state")
        memory_axis.loglog(points, [p.peak_rss / 1e6 for p in results.scaling], "s-", label="peak RSS")
        memory_axis.loglog(
            points,
            [max(p.peak_rss - p.rss_before, 1) / 1e6 for p in results.scaling],
            "^-",
            label="RSS growth",
        )
        memory_axis.set_title(f"memory (state slope {slopes['state_bytes']:.2f})")
        memory_axis.set_xlabel("usage points")
        memory_axis.set_ylabel("MB")
        memory_axis.legend()
        memory_axis.grid(visible=True, which="both", alpha=0.3)

    values = results.values()
    names = [name for name in GOALS if name in values]
    achieved = [values[name] / GOALS[name][1] for name in names]
    # "at most" goals are met below 1.0; show them inverted so that every bar is met at or above 1.0
    achieved = [
        (1 / value if value and GOALS[name][0] == "<=" else value)
        for name, value in zip(names, achieved, strict=True)
    ]
    colours = ["tab:green" if value >= 1 else "tab:red" for value in achieved]
    ratio_axis.barh(names, achieved, color=colours)
    ratio_axis.axvline(1.0, color="black", linestyle="--", label="goal")
    for index, name in enumerate(names):
        shown = f"{values[name]:,.0f}" if values[name] >= 100 else f"{values[name]:.3g}"
        ratio_axis.text(achieved[index], index, f"  {shown}", va="center")
    ratio_axis.set_title("results against their goals (1.0 = goal)")
    ratio_axis.set_xlabel("fraction of the goal (met at >= 1)")
    ratio_axis.set_xlim(0, max([*achieved, 1.0]) * 1.5)
    ratio_axis.legend(loc="lower right")
    figure.suptitle(
        f"netstream-publisher benchmarks ({results.machine.get('cpus')} CPUs, "
        f"load average {results.machine.get('load_average')}, {results.machine.get('when')})"
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_JSON
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_PNG
    draw(read_json(source), target)


if __name__ == "__main__":
    main()
