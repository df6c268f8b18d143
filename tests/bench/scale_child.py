"""One scaling measurement in a fresh process: a cold cycle and a steady cycle of N usage points.

``python -m bench.scale_child --points N --base-url URL --bootstrap HOST:PORT``: writes a registry of the
simulator's N usage points, builds the service exactly as ``netstream-publisher run`` does
(:func:`publisher.app.build_service`) on fresh topics, then runs the ``live`` plan's cycle (6 hours of
lookback, both half-hourly reading types):

- **cold**: the first cycle at :data:`bench.workload.NOW`; every reading is new;
- **steady**: both clocks 30 minutes later; one new interval per series, the rest suppressed by dedup.

Prints one JSON object: cycle seconds (wall clock, and CPU seconds of this process: the publisher's own
work, whatever the simulator's speed), readings fetched, events, peak RSS (``VmHWM``), RSS before the
first cycle and the store's own size estimate.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from bench.workload import NOW, READING_TYPES, quiet_logs, usage_point_id
from publisher.app import build_service
from publisher.buildinfo import build_kind
from publisher.config import load_settings
from publisher.heap import configure_collector, freeze_heap
from publisher.pipeline.runner import group_targets

LOOKBACK = timedelta(hours=6)
STEP = timedelta(minutes=30)


def rss_bytes() -> int:
    """Resident set size of this process now."""
    with Path("/proc/self/statm").open(encoding="ascii") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (``VmHWM``; ``ru_maxrss`` would include the parent's
    memory from before ``exec``)."""
    with Path("/proc/self/status").open(encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def write_registry(path: Path, points: int) -> Path:
    lines = ["usage_points:"]
    for index in range(points):
        lines.append(f"  - mrid: {usage_point_id(index)}")
        lines.append(f"    reading_types: [{', '.join(READING_TYPES)}]")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def advance_simulator(base_url: str, seconds: float) -> None:
    request = urllib.request.Request(
        base_url + "/_sim/clock",
        data=json.dumps({"advance_seconds": seconds}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--bootstrap", required=True)
    args = parser.parse_args()
    quiet_logs()
    configure_collector()  # as the command line does for every command
    suffix = uuid.uuid4().hex[:10]
    now = [NOW]

    def clock() -> datetime:
        return now[0]

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as directory:
        registry = write_registry(Path(directory) / "registry.yaml", args.points)
        settings = load_settings(
            None,
            {
                "NETSTREAM_BASE_URL": args.base_url,
                "NETSTREAM_TOKEN": "bench-token",
                "NETSTREAM_RATE_LIMIT": "1000",
                "NETSTREAM_BATCH_SIZE": "100",
                "NETSTREAM_MAX_IN_FLIGHT": "4",
                "KAFKA_BOOTSTRAP_SERVERS": args.bootstrap,
                "PUBLISHER_TOPIC": f"bench-scale-readings-{suffix}",
                "PUBLISHER_DLQ_TOPIC": f"bench-scale-dlq-{suffix}",
                "PUBLISHER_STATE_TOPIC": f"bench-scale-state-{suffix}",
                "PUBLISHER_TOPIC_PARTITIONS": "6",
                "PUBLISHER_STATE_PARTITIONS": "4",
                "PUBLISHER_REPLICATION_FACTOR": "1",
                "PUBLISHER_TRANSACTIONAL_ID_PREFIX": f"bench-scale-{suffix}",
                "PUBLISHER_REGISTRY_FILE": str(registry),
            },
        )
        service = build_service(settings, clock=clock)
        try:
            service.start()
            groups = group_targets(service.registry, READING_TYPES)
            freeze_heap()  # as ``run`` does once started
            rss_before = rss_bytes()
            results = {}
            for name in ("cold", "steady"):
                if name == "steady":
                    now[0] += STEP
                    advance_simulator(args.base_url, STEP.total_seconds())
                started, cpu = time.perf_counter(), time.process_time()
                stats = service.runner.cycle("live", groups, LOOKBACK)
                results[name] = {
                    "seconds": time.perf_counter() - started,
                    "cpu_seconds": time.process_time() - cpu,
                    "fetched": stats.fetched,
                    "events": stats.new + stats.revised,
                    "failed_windows": stats.failed_windows,
                }
            state_bytes = service.store.approx_bytes()
            series = service.store.series_count()
        finally:
            service.close()
    peak = peak_rss_bytes()
    sys.stdout.write(
        json.dumps(
            {
                "points": args.points,
                "build": build_kind(),
                **results,
                "rss_before": rss_before,
                "peak_rss": peak,
                "state_bytes": state_bytes,
                "series": series,
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
