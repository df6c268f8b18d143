"""``make bench``: every benchmark in one run, then the results.

Size knob: ``BENCH_SIZE`` = ``quick`` (a smoke run), ``default`` or ``full`` (more responses, 100k usage
points in the scaling run). ``BENCH_RESULTS`` names the JSON results file (default
``docs/bench-results.json``) and ``BENCH_PLOT`` the PNG (default ``docs/img/performance.png``); the plot is
skipped when matplotlib is not installed. ``KAFKA_BOOTSTRAP_SERVERS`` runs against that cluster instead of an
embedded broker.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import naive, report, scaling, state, throughput, workload
from publisher.heap import configure_collector


@dataclass(frozen=True)
class Size:
    """How much each benchmark does."""

    responses: int  #: recorded responses of 9,600 readings each
    state_series: int  #: series in the memory and restore measurements
    templates: int  #: distinct series filled through apply()
    scaling: tuple[int, ...]  #: usage points of the scaling runs


#: throughput measurements are repeated this many times, interleaved, and the best of each is reported (the
#: same work was seen to take up to 1.6 times as long from one half-minute to the next on a shared machine)
ROUNDS = 5

SIZES = {
    "quick": Size(responses=2, state_series=2_000, templates=20, scaling=(100, 300)),
    "default": Size(responses=12, state_series=100_000, templates=200, scaling=(1_000, 10_000)),
    "full": Size(responses=30, state_series=200_000, templates=500, scaling=(1_000, 10_000, 100_000)),
}


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main() -> int:
    name = os.environ.get("BENCH_SIZE", "default")
    if name not in SIZES:
        sys.stderr.write(f"error: BENCH_SIZE={name!r} is not one of {', '.join(SIZES)}\n")
        return 2
    size = SIZES[name]
    results_path = Path(os.environ.get("BENCH_RESULTS", "docs/bench-results.json"))
    plot_path = Path(os.environ.get("BENCH_PLOT", "docs/img/performance.png"))
    workload.quiet_logs()
    configure_collector()  # as every command of the service does: all measurements run under it
    # SIGTERM unwinds like Ctrl-C, so the embedded broker and the simulator are stopped on the way out
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    began = time.perf_counter()

    say(f"recording {size.responses} responses of 100 usage points x 2 reading types x 1 day ...")
    recorded = workload.record(size.responses)
    readings = sum(item.readings for item in recorded)
    batches = throughput.encoded_events(recorded)
    event_bytes = sum(len(m.value) for batch in batches for m in batch) / max(1, sum(map(len, batches)))

    say(f"state memory over {size.state_series:,} series ...")
    memory, templates = state.measure_memory(size.state_series, templates=size.templates)

    with throughput.broker() as bootstrap:
        raws, plains, pipelines, naives = [], [], [], []
        for round_ in range(1, ROUNDS + 1):
            # interleaved rounds, best of each: a busy machine slows some rounds, never speeds one up
            say(f"round {round_}/{ROUNDS}: raw producer, pipeline, naive publisher ({readings:,} readings)")
            raws.append(throughput.run_raw(bootstrap, batches))
            pipelines.append(throughput.run_pipeline(bootstrap, recorded))  # right after: a pair per round
            plains.append(throughput.run_raw(bootstrap, batches, transactional=False))
            naives.append(naive.run_naive(bootstrap, recorded))
        raw = max(raws, key=lambda rate: rate.per_second)
        raw_plain = max(plains, key=lambda rate: rate.per_second)
        pipeline = max(pipelines, key=lambda run: run.rate.per_second)
        naive_rate, naive_events = max(naives, key=lambda run: run[0].per_second)
        say(f"restore of {size.state_series:,} series from the state topic ...")
        restored = state.measure_restore(bootstrap, templates, size.state_series)
        points = []
        for count in size.scaling:
            say(f"scaling: {count:,} usage points against the simulator ...")
            points.append(scaling.measure(count, bootstrap))

    previous = report.read_json(results_path).scaling if results_path.exists() else []
    results = report.Results(
        size=name,
        raw_producer_msgs_per_s=raw.per_second,
        raw_untransactional_msgs_per_s=raw_plain.per_second,
        pipeline_readings_per_s=pipeline.rate.per_second,
        naive_readings_per_s=naive_rate.per_second,
        readings=readings,
        pipeline_events=pipeline.events,
        naive_events=naive_events,
        event_bytes=event_bytes,
        state_bytes_per_series=memory.restored_per_series,
        state_bytes_applied=memory.applied_per_series,
        state_bytes_estimate=memory.estimate_per_series,
        state_series=memory.series,
        state_record_bytes=memory.record_bytes,
        apply_us=memory.apply_us,
        restore_series_per_s=restored.rate.per_second,
        restore_series=restored.series,
        restore_records=restored.records,
        consumer_records_per_s=restored.bare.per_second,
        scaling=report.merged_scaling(points, previous if name != "quick" else []),
        machine=report.machine(),
        earlier_sizes=sorted({p.points for p in previous} - set(size.scaling)) if name != "quick" else [],
        round_ratios=[
            run.rate.per_second / rate.per_second for rate, run in zip(raws, pipelines, strict=True)
        ],
    )
    if name != "quick":
        report.write_json(results, results_path)
        try:
            from bench.plot import draw

            draw(results, plot_path)
            say(f"plot written to {plot_path}")
        except ImportError:
            say("matplotlib is not installed: no plot (make bench installs it)")
        say(f"results written to {results_path}")
    say(f"benchmarks took {time.perf_counter() - began:.0f} s")
    say("")
    for line in report.tables(results):
        say(line)
    say("")
    for line in report.value_lines(results):
        say(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
