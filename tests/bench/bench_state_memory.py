"""Resident memory of the series state: bytes per series for 14 days of 30-minute data.

Run ``python tests/bench/bench_state_memory.py [--series N]``. It fills a :class:`SeriesStore` through
its real ``apply`` path (typical values 0.000-5.000 kWh with 3 decimals, flags 256, a few missing
readings and revisions, one transaction per series), and reports the resident bytes per series:

- tracemalloc: bytes allocated and still alive after building the store (everything the store keeps),
  once filled by ``apply`` and once restored from its state records by ``load_record`` (a restart);
- a ``sys.getsizeof`` walk of every object reachable from the store (each object counted once);
- the store's own O(1) estimate, ``approx_bytes()``.

The goal is at most 4 KiB per series (672 intervals). Not a pytest test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import FunctionType, ModuleType
from zoneinfo import ZoneInfo

from publisher.kafka.state_codec import state_key
from publisher.pipeline.series_store import SeriesStore

ZONE = ZoneInfo("Pacific/Auckland")
READING_TYPE = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
HALF_HOUR = timedelta(minutes=30)
FIRST_DAY = date(2025, 3, 3)
DAYS = 14
GOAL = 4096


def fill(store: SeriesStore, series: int, seed: int) -> int:
    """Apply 14 days of half-hourly readings for ``series`` usage points; returns readings applied."""
    rng = random.Random(seed)
    applied = 0
    for _ in range(series):
        usage_point = str(uuid.UUID(int=rng.getrandbits(128)))
        store.begin()
        for offset in range(DAYS):
            day = FIRST_DAY + timedelta(days=offset)
            start = datetime(day.year, day.month, day.day, tzinfo=ZONE).astimezone(UTC)
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


def walk_size(root: object) -> int:
    """Sum of ``sys.getsizeof`` over every object reachable from ``root``, each counted once."""
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type | ModuleType | FunctionType):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


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


def report(label: str, store: SeriesStore, total: int) -> None:
    per_series = total / store.series_count()
    verdict = "within" if per_series <= GOAL else "OVER"
    print(f"{label:>34}: {per_series:6.0f} bytes per series ({verdict} the {GOAL}-byte goal)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=300, help="usage points to simulate (default 300)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    # untraced first: speed of the apply path, and the state records a restart would read back
    plain = SeriesStore(horizon_days=DAYS)
    began = time.perf_counter()
    applied = fill(plain, args.series, args.seed)
    elapsed = time.perf_counter() - began
    records = _records(plain)
    del plain

    applied_store, applied_bytes = traced(lambda: _filled(args.series, args.seed))
    restored_store, restored_bytes = traced(lambda: _restored(records))
    days = applied_store.day_count()
    print(f"series: {applied_store.series_count()}  days: {days}  intervals per series: {DAYS * 48}")
    print(f"readings applied: {applied} at {elapsed / applied * 1e6:.1f} us each")
    print(f"encoded day record: {sum(len(value) for _, value in records) / days:.0f} bytes on average")
    report("tracemalloc, filled by apply()", applied_store, applied_bytes)
    report("tracemalloc, restored by load_record()", restored_store, restored_bytes)
    report("getsizeof walk of the store", applied_store, walk_size(applied_store))
    report("approx_bytes()", applied_store, applied_store.approx_bytes())


def _filled(series: int, seed: int) -> SeriesStore:
    store = SeriesStore(horizon_days=DAYS)
    fill(store, series, seed)
    return store


def _restored(records: list[tuple[bytes, bytes]]) -> SeriesStore:
    store = SeriesStore(horizon_days=DAYS)
    for key, value in records:
        store.load_record(key, bytes(bytearray(value)))  # a fresh object, as a consumer delivers it
    return store


def _records(store: SeriesStore) -> list[tuple[bytes, bytes]]:
    """Every day the store holds as a state record, as the state topic would have it."""
    records = []
    for reading_type, by_point in store._series.items():
        for usage_point, days in by_point.items():
            for ordinal, block in zip(days[::2], days[1::2], strict=True):
                assert isinstance(ordinal, int)
                assert isinstance(block, bytes)
                records.append((state_key(usage_point, reading_type, date.fromordinal(ordinal)), block))
    return records


if __name__ == "__main__":
    main()
