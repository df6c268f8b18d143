"""Series state: resident bytes per series at steady state, and restore speed from the state topic.

**Memory.** Steady state is a full horizon: 14 local days of half-hourly readings per series. ``templates``
distinct series are filled through the store's real ``apply`` path (values 0.000-5.000 kWh with three
decimals, flags 256, a few missing readings, a few corrections: one transaction per series). Their state
records (one per series and week) are then loaded, as fresh ``bytes`` objects under ``series`` distinct
usage points, into an empty store with ``load_record`` (what a restart does), and the bytes still allocated
afterwards are measured with tracemalloc (everything the store keeps: blocks, lists, dicts, keys). The
templates themselves are measured the same way after ``apply``, and the store's own ``approx_bytes()``
estimate is reported beside.

**Restore.** The same records are written to a compacted state topic on the broker; the benchmark then times
:meth:`~publisher.pipeline.shard.ShardPublisher.restore` (read every owned partition to its end with a
``read_committed`` consumer and load each record) and reports series per second, best of three rounds.
"""

from __future__ import annotations

import gc
import random
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from confluent_kafka import Consumer, Producer, TopicPartition

from bench.throughput import STATE_PARTITIONS, BenchTopics, Rate, client_config, make_shard
from bench.workload import ZONE
from publisher.kafka.murmur2 import partition_for
from publisher.kafka.state_blocks import block_key, block_start, parse_state_key
from publisher.kafka.statelog import BATCH, POLL_SECONDS, READER_SETTINGS
from publisher.netstream.localtime import local_midnight
from publisher.pipeline.series_store import SeriesStore

READING_TYPE = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
HALF_HOUR = timedelta(minutes=30)
DAYS = 14
#: the horizon ends the day before the shard's clock (see :func:`restore_clock`); a Wednesday, so the 14 days
#: span three weekly records as a horizon does on six days of seven (starting on a Monday they would be two)
FIRST_DAY = date(2025, 2, 19)
GOAL_BYTES = 4096
#: state records (blocks) per series
BLOCKS = len({block_start((FIRST_DAY + timedelta(days=offset)).toordinal()) for offset in range(DAYS)})

Record = tuple[bytes, bytes]


def fill(store: SeriesStore, series: int, seed: int) -> int:
    """Apply 14 days of half-hourly readings for ``series`` usage points; returns readings applied."""
    rng = random.Random(seed)
    applied = 0
    for _ in range(series):
        usage_point = str(uuid.UUID(int=rng.getrandbits(128)))
        store.begin()
        for offset in range(DAYS):
            start = local_midnight(FIRST_DAY + timedelta(days=offset), ZONE)
            for slot in range(48):
                begin = start + slot * HALF_HOUR
                missing = rng.random() < 0.002
                value = None if missing else Decimal(rng.randint(0, 5000)).scaleb(-3)
                args = (usage_point, READING_TYPE, ZONE, begin, begin + HALF_HOUR, HALF_HOUR)
                store.apply(*args, value, 256, (), 0)
                applied += 1
                if rng.random() < 0.005:  # a correction: actual replaces estimate
                    store.apply(*args, Decimal(rng.randint(0, 5000)).scaleb(-3), 256, (), 1)
                    applied += 1
        store.dirty_records()
        store.commit()
    return applied


def state_records(store: SeriesStore) -> list[Record]:
    """Every (series, week) block the store holds, as state-topic records."""
    records = []
    for reading_type, by_point in store._series.items():
        for usage_point, blocks in by_point.items():
            for ordinal, block in zip(blocks[::2], blocks[1::2], strict=True):
                assert isinstance(ordinal, int)
                assert isinstance(block, bytes)
                records.append((block_key(usage_point, reading_type, date.fromordinal(ordinal)), block))
    return records


def scaled_records(templates: list[Record], series: int) -> Iterator[Record]:
    """The template series' records repeated under ``series`` distinct usage points."""
    by_series: dict[str, list[Record]] = {}
    for key, value in templates:
        parsed = parse_state_key(key)
        assert parsed is not None
        by_series.setdefault(parsed[0], []).append((key, value))
    groups = list(by_series.values())
    for index in range(series):
        usage_point = f"6f1c2a10-5b1e-4c2d-{index // 10**12:04d}-{index % 10**12:012d}"
        for key, value in groups[index % len(groups)]:
            parsed = parse_state_key(key)
            assert parsed is not None
            yield block_key(usage_point, parsed[1], date.fromordinal(parsed[2])), value


def traced(build: Callable[[], SeriesStore]) -> tuple[SeriesStore, int]:
    """Build a store under tracemalloc; returns it and the bytes still allocated afterwards."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    store = build()
    gc.collect()
    allocated = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return store, allocated


@dataclass(frozen=True)
class MemoryResult:
    """Bytes per series, three ways, and what the store held."""

    series: int
    days: int
    applied_per_series: float  #: tracemalloc, template series filled by apply()
    restored_per_series: float  #: tracemalloc, ``series`` series restored by load_record()
    estimate_per_series: float  #: the store's approx_bytes()
    record_bytes: float  #: average state record (one series and week)
    apply_us: float  #: microseconds per apply() call (untraced)


def measure_memory(series: int, templates: int = 200, seed: int = 7) -> tuple[MemoryResult, list[Record]]:
    """Steady-state memory per series; also returns the template records (input of the restore bench)."""
    plain = SeriesStore(horizon_days=DAYS)
    began = time.perf_counter()
    applied = fill(plain, templates, seed)
    apply_us = (time.perf_counter() - began) / applied * 1e6
    records = state_records(plain)
    del plain

    def filled() -> SeriesStore:
        store = SeriesStore(horizon_days=DAYS)
        fill(store, templates, seed)
        return store

    scaled = list(scaled_records(records, series))  # built before tracing: only the store is measured

    def restored() -> SeriesStore:
        store = SeriesStore(horizon_days=DAYS)
        for key, value in scaled:
            store.load_record(key, bytes(bytearray(value)))  # a fresh object, as a consumer delivers it
        return store

    applied_store, applied_bytes = traced(filled)
    applied_series = applied_store.series_count()
    del applied_store
    big, restored_bytes = traced(restored)
    scaled.clear()
    result = MemoryResult(
        series=big.series_count(),
        days=big.day_count(),
        applied_per_series=applied_bytes / applied_series,
        restored_per_series=restored_bytes / big.series_count(),
        estimate_per_series=big.approx_bytes() / big.series_count(),
        record_bytes=sum(len(value) for _, value in records) / len(records),
        apply_us=apply_us,
    )
    return result, records


def restore_clock() -> datetime:
    """The shard's clock: the day after the last state day, so the horizon holds all 14 days."""
    return local_midnight(FIRST_DAY + timedelta(days=DAYS), ZONE).astimezone(UTC) + timedelta(hours=1)


def write_state_topic(bootstrap: str, topic: str, records: Iterator[Record]) -> int:
    """Write records to the state topic on their shard partitions (by usage point), committed."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "compression.type": "zstd",
            "linger.ms": 20,
            "delivery.report.only.error": True,
        }
    )
    count = 0
    for key, value in records:
        parsed = parse_state_key(key)
        assert parsed is not None
        partition = partition_for(parsed[0], STATE_PARTITIONS)
        while True:
            try:
                producer.produce(topic, value, key, partition=partition)
                break
            except BufferError:
                producer.poll(0.05)
        count += 1
    if producer.flush(60):
        raise RuntimeError("state records were not all delivered within 60 s")
    return count


@dataclass(frozen=True)
class RestoreResult:
    """Series restored per second."""

    series: int
    records: int
    rate: Rate  #: series per second
    bare: Rate  #: records per second of a consumer that does nothing else


def measure_restore(bootstrap: str, templates: list[Record], series: int, rounds: int = 3) -> RestoreResult:
    """Write ``series`` series of state to a fresh topic, then time ``rounds`` restores of it by a fresh
    shard each, each followed by a bare read; the best of each counts, as in the throughput rounds: a busy
    machine (or a broker still busy with the records just written) slows some rounds, never speeds one up.
    """
    topics = BenchTopics.create(bootstrap, "bench-restore")
    written = write_state_topic(bootstrap, topics.state, scaled_records(templates, series))
    best: Rate | None = None
    bare: Rate | None = None
    for _ in range(rounds):
        shard = make_shard(bootstrap, topics, f"bench-restore-{uuid.uuid4().hex[:8]}", clock=restore_clock)
        try:
            started = time.perf_counter()
            records = shard.restore()
            seconds = time.perf_counter() - started
            restored = shard._store.series_count()
        finally:
            shard._producer.close()
        if records != written:
            raise RuntimeError(f"restore read {records} records, {written} were written")
        rate = Rate(restored, seconds)
        best = rate if best is None or rate.per_second > best.per_second else best
        read = bare_consume(bootstrap, topics.state)
        bare = read if bare is None or read.per_second > bare.per_second else bare
    assert best is not None
    assert bare is not None  # at least one round
    return RestoreResult(best.count, written, best, bare)


def bare_consume(bootstrap: str, topic: str) -> Rate:
    """Records per second of a read_committed consumer that only reads the topic to its end (the bound).

    It starts and polls as :func:`~publisher.kafka.statelog.read_to_end` does (offset 0, the reader's
    prefetch settings, short polls)."""
    consumer = Consumer(
        {
            **READER_SETTINGS,
            **client_config(bootstrap),
            "group.id": f"bench-bare-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    count = 0
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(STATE_PARTITIONS)])
        done: set[int] = set()
        started = time.perf_counter()
        while len(done) < STATE_PARTITIONS:
            for message in consumer.consume(num_messages=BATCH, timeout=POLL_SECONDS):
                if message.error() is not None:
                    done.add(int(message.partition() or 0))
                    continue
                message.key()
                message.value()
                count += 1
        seconds = time.perf_counter() - started
    finally:
        consumer.close()
    return Rate(count, seconds)
