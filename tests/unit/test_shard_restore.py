"""A shard's restore and on-demand loads select whole weekly blocks of the state topic."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from publisher.kafka.avro import SingleObjectCodec, load_schema
from publisher.kafka.state_blocks import block_key, day_key, day_value
from publisher.kafka.statelog import Sink
from publisher.pipeline import shard as shard_module
from publisher.pipeline.publishing import Topics
from publisher.pipeline.series_store import SeriesStore
from publisher.pipeline.shard import ShardPublisher

NZ = ZoneInfo("Pacific/Auckland")
RT = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
HALF = timedelta(minutes=30)
TODAY = date(2025, 3, 20)  # a Thursday; the 14-day horizon starts on Thursday 6 March


def topic_records() -> list[tuple[bytes, bytes | None]]:
    """Weekly blocks of one series from 17 February to 20 March, and a day record of the old layout."""
    store = SeriesStore(horizon_days=60)
    for offset in range(32):
        day = date(2025, 2, 17) + timedelta(days=offset)
        start = datetime(day.year, day.month, day.day, 10, tzinfo=NZ).astimezone(UTC)
        store.apply("up", RT, NZ, start, start + HALF, HALF, Decimal(offset), 256, (), 0)
    records = store.dirty_records()
    old_block = dict(records)[block_key("up", RT, date(2025, 2, 24))]
    assert old_block is not None
    old_day = day_value(old_block, 2)
    return [*records, (day_key("legacy", RT, date(2025, 2, 26)), old_day)]


class FakeReader:
    """Stands in for ``read_to_end``: feeds the records to the sink and notes whether GC ran meanwhile."""

    def __init__(self, records: list[tuple[bytes, bytes | None]]) -> None:
        self.records = records
        self.collecting: list[bool] = []

    def __call__(
        self, _config: Mapping[str, Any], _topic: str, _partitions: Iterable[int], sink: Sink
    ) -> int:
        self.collecting.append(gc.isenabled())
        for key, value in self.records:
            sink(key, value)
        return len(self.records)


@pytest.fixture
def reader(monkeypatch: pytest.MonkeyPatch) -> FakeReader:
    fake = FakeReader(topic_records())
    monkeypatch.setattr(shard_module, "read_to_end", fake)
    return fake


def make_shard(store: SeriesStore) -> ShardPublisher:
    return ShardPublisher(
        producer=None,  # type: ignore[arg-type]  # restore and loads never produce
        events=SingleObjectCodec(load_schema("meter_reading.avsc")),
        dead_letters=SingleObjectCodec(load_schema("dead_letter.avsc")),
        store=store,
        topics=Topics(readings="r", dlq="d", state="s", state_partitions=1),
        owned_partitions=[0],
        kafka_config={},
        default_zone=NZ,
        clock=lambda: datetime(2025, 3, 20, 1, tzinfo=UTC),
    )


def test_restore_loads_the_weeks_of_the_horizon_whole_with_gc_paused(reader: FakeReader) -> None:
    store = SeriesStore(horizon_days=14)
    assert make_shard(store).restore() == len(reader.records)
    assert reader.collecting == [False]
    assert gc.isenabled()
    # the week of 3 March holds the horizon's first day: loaded whole, so from Monday 3 March on
    assert store.day_count() == 7 + 7 + 4
    assert store.has_day("up", RT, date(2025, 3, 3))
    assert not store.has_day("up", RT, date(2025, 3, 2))
    assert store.unloaded_days(date(2025, 3, 1), date(2025, 3, 4)) == [date(2025, 3, 1), date(2025, 3, 2)]


def test_a_load_of_older_days_reads_their_weeks_whole(reader: FakeReader) -> None:
    store = SeriesStore(horizon_days=14)
    shard = make_shard(store)
    shard.restore()
    start = datetime(2025, 2, 25, 11, tzinfo=UTC)  # 26 February in Auckland
    shard.ensure_loaded(start, start + timedelta(hours=1))  # 25-27 February with the margin days
    assert store.has_day("up", RT, date(2025, 2, 24))
    assert store.has_day("legacy", RT, date(2025, 2, 26))  # the old layout's record of that week
    assert store.unloaded_days(date(2025, 2, 17), date(2025, 3, 5)) == [
        date(2025, 2, 17) + timedelta(days=k) for k in range(7)
    ]
    assert len(reader.collecting) == 2
    shard.ensure_loaded(start, start + timedelta(hours=1))
    assert len(reader.collecting) == 2  # nothing left to load


def test_restore_leaves_a_paused_collector_paused(reader: FakeReader) -> None:
    gc.disable()
    try:
        make_shard(SeriesStore(horizon_days=14)).restore()
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert reader.collecting == [False]
