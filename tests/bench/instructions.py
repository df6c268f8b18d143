"""Instructions per reading of parse and publish, counted by callgrind: what the machine's speed cannot move.

``make instructions`` (``python -m bench.instructions`` with the compiled build first on the path) runs
this module twice under ``valgrind --tool=callgrind``: each child parses and publishes one recorded
response to warm up (writers, memos, boundaries), then ``MEASURED`` more, or none. Callgrind counts only
inside the calls of parse and publish (``TOGGLES``), so the difference of the two counts divided by the
measured readings is what parse and publish cost per reading, without Kafka: the shard's producer is a stub
that takes the records and does nothing. It needs valgrind, which ``make`` does not install.

Instructions are not time (cache misses and mispredicted branches are not in them), but they are the same
for the same code in every run, so a change of one percent shows; docs/performance.md (round 4) has the
table this measured.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

from bench import workload
from publisher.heap import configure_collector, freeze_heap
from publisher.kafka.avro import SingleObjectCodec, load_schema
from publisher.netstream.client import FetchedWindow
from publisher.netstream.model import WireFormat
from publisher.netstream.parser import parse_response
from publisher.pipeline.events import Source
from publisher.pipeline.publishing import Topics
from publisher.pipeline.series_store import SeriesStore
from publisher.pipeline.shard import ShardPublisher

#: responses measured after the warm-up one (9,600 readings each)
MEASURED = 2
#: the compiled build's entry points of parse and publish: callgrind counts only while inside one of them
TOGGLES = (
    "CPyPy_shard___ShardPublisher____produce_window",
    "CPyPy_series_store___SeriesStore___commit",
    "CPyPy_parse_extract___Extractor___run",
    "scanner_call",  # the JSON decoder
)
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


class StubProducer:
    """Takes every record and does nothing with it: the Kafka side is not counted."""

    produced_in_transaction = 0

    def produce(self, topic: str, value: bytes | None, *, key: bytes | None, **_: Any) -> None:
        """Drop the record."""

    def sender(
        self, _topic: str, _headers: Sequence[tuple[str, bytes]]
    ) -> Callable[[bytes, bytes | None], None]:
        """A sender that drops every record."""
        return lambda _value, _key: None


def publisher() -> ShardPublisher:
    """A shard wired as the throughput benchmark wires one, with the stub producer."""
    return ShardPublisher(
        producer=StubProducer(),
        events=SingleObjectCodec(load_schema("meter_reading.avsc")),
        dead_letters=SingleObjectCodec(load_schema("dead_letter.avsc")),
        store=SeriesStore(horizon_days=14),
        topics=Topics("readings", "dlq", "state", 4),
        owned_partitions=range(4),
        kafka_config={},
        default_zone=workload.ZONE,
        clock=workload.polled_at,
    )


def parse_and_publish(shard: ShardPublisher, item: workload.Recorded) -> int:
    """Parse one recorded response and publish its window as a poll cycle does (no commit to Kafka)."""
    parsed = parse_response(item.body, WireFormat.JSON, default_zone=workload.ZONE)
    shard._produce_window(
        FetchedWindow(item.request, parsed, WireFormat.JSON), Source.SCHEDULED
    )  # the publish step, no transaction
    shard._store.commit()  # as a commit leaves the store
    return len(parsed.readings)


def child(measured: int) -> None:
    """The process callgrind runs: a warm-up response, then ``measured`` more."""
    workload.quiet_logs()
    configure_collector()
    recorded = workload.record(1 + measured)
    shard = publisher()
    parse_and_publish(shard, recorded[0])
    freeze_heap()
    for item in recorded[1:]:
        parse_and_publish(shard, item)


def count(measured: int) -> int:
    """Instructions callgrind counted inside parse and publish in a child measuring ``measured`` responses."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        *(f"--toggle-collect={name}" for name in TOGGLES),
        sys.executable,
        "-m",
        "bench.instructions",
        "--child",
        str(measured),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind reported no count:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["--child"]:
        child(int(argv[1]))
        return 0
    readings = MEASURED * sum(item.readings for item in workload.record(1))
    per_reading = (count(MEASURED) - count(0)) / readings
    sys.stdout.write(f"instructions per reading (parse and publish): {per_reading:,.0f}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
