"""Throughput: the real pipeline, the raw producer (the physical limit) and a naive pipeline, one broker.

- **raw producer**: the pipeline's own encoded events (same keys, values, headers), produced with the very
  producer settings of the pipeline (:func:`~publisher.kafka.producer.producer_config`: idempotent,
  ``acks=all``, zstd, ``linger.ms``, transactional), one transaction per response's worth of events;
- **pipeline**: recorded response bytes → :func:`~publisher.netstream.parser.parse_response` →
  :meth:`~publisher.pipeline.shard.ShardPublisher.publish` (dedup, encode, produce events and state records,
  commit), one transaction per response, exactly as a poll cycle does it, with the heap frozen after the
  set-up as the service freezes it after start-up (:mod:`publisher.heap`);
- **naive**: :mod:`bench.naive`.

Every rate counts readings (or messages) per second of wall-clock time, from the first response in hand
to the last commit.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from bench.workload import ZONE, Recorded, polled_at
from publisher.embedded import EmbeddedBroker
from publisher.heap import freeze_heap
from publisher.kafka.avro import SingleObjectCodec, load_schema
from publisher.kafka.producer import TransactionalProducer, producer_config
from publisher.kafka.topics import TopicSpec, ensure_topics
from publisher.netstream.client import FetchedWindow
from publisher.netstream.model import WireFormat
from publisher.netstream.parser import parse_response
from publisher.pipeline.events import Source
from publisher.pipeline.publishing import Topics
from publisher.pipeline.series_store import SeriesStore
from publisher.pipeline.shard import ShardPublisher

READING_PARTITIONS = 6
STATE_PARTITIONS = 4


@contextmanager
def broker() -> Iterator[str]:
    """Bootstrap servers: ``KAFKA_BOOTSTRAP_SERVERS`` if set, else an embedded broker for the run."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    embedded = EmbeddedBroker()
    embedded.start()
    try:
        yield embedded.bootstrap_servers
    finally:
        embedded.stop()


#: The embedded broker answers a fetch with everything it has, whatever ``fetch.max.bytes`` asks for, so a
#: consumer reading a large state topic from the start must accept large responses (Apache Kafka honours the
#: limit; this setting then changes nothing).
RECEIVE_MAX_BYTES = 2_000_000_000


def client_config(bootstrap: str) -> dict[str, Any]:
    """Settings every benchmark client shares."""
    return {"bootstrap.servers": bootstrap, "receive.message.max.bytes": RECEIVE_MAX_BYTES}


@dataclass(frozen=True)
class BenchTopics:
    """A fresh set of topics for one measurement."""

    readings: str
    dlq: str
    state: str

    @classmethod
    def create(cls, bootstrap: str, prefix: str) -> BenchTopics:
        suffix = uuid.uuid4().hex[:10]
        topics = cls(f"{prefix}-readings-{suffix}", f"{prefix}-dlq-{suffix}", f"{prefix}-state-{suffix}")
        ensure_topics(
            AdminClient({"bootstrap.servers": bootstrap}),
            [
                TopicSpec(topics.readings, READING_PARTITIONS, replication_factor=1),
                TopicSpec(topics.dlq, 1, replication_factor=1),
                TopicSpec(topics.state, STATE_PARTITIONS, compacted=True, replication_factor=1),
            ],
        )
        return topics


@dataclass(frozen=True)
class Rate:
    """``count`` things in ``seconds``."""

    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class PipelineRun:
    """What the pipeline measurement produced."""

    rate: Rate  #: readings per second
    events: int  #: events published
    state_records: int  #: state records written with them
    topics: BenchTopics


def make_shard(
    bootstrap: str,
    topics: BenchTopics,
    transactional_id: str,
    *,
    clock: Callable[[], datetime] = polled_at,
) -> ShardPublisher:
    """A shard publisher wired as :func:`publisher.app.build_service` wires one (single-object encoding)."""
    base = client_config(bootstrap)
    producer = TransactionalProducer(base, transactional_id)
    producer.init()
    return ShardPublisher(
        producer=producer,
        events=SingleObjectCodec(load_schema("meter_reading.avsc")),
        dead_letters=SingleObjectCodec(load_schema("dead_letter.avsc")),
        store=SeriesStore(horizon_days=14),
        topics=Topics(
            readings=topics.readings, dlq=topics.dlq, state=topics.state, state_partitions=STATE_PARTITIONS
        ),
        owned_partitions=range(STATE_PARTITIONS),
        kafka_config=base,
        default_zone=ZONE,
        clock=clock,
    )


def run_pipeline(bootstrap: str, recorded: Sequence[Recorded]) -> PipelineRun:
    """Parse, dedup, encode and publish every recorded response, one transaction each."""
    topics = BenchTopics.create(bootstrap, "bench-pipeline")
    shard = make_shard(bootstrap, topics, f"bench-pipeline-{uuid.uuid4().hex[:8]}")
    producer = shard._producer
    freeze_heap()  # as ``run`` does once its start-up is done
    readings = events = state_records = 0
    started = time.perf_counter()
    try:
        for item in recorded:
            parsed = parse_response(item.body, WireFormat.JSON, default_zone=ZONE)
            stats = shard.publish(
                FetchedWindow(item.request, parsed, WireFormat.JSON), source=Source.SCHEDULED
            )
            readings += stats.fetched
            events += stats.new + stats.revised
            state_records += producer.produced_in_transaction - stats.new - stats.revised - stats.dlq
        seconds = time.perf_counter() - started
    finally:
        producer.close()
    return PipelineRun(Rate(readings, seconds), events, state_records, topics)


@dataclass(frozen=True)
class Message:
    """One pre-encoded record."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def encoded_events(recorded: Sequence[Recorded]) -> list[list[Message]]:
    """The pipeline's events for every response, encoded once (not timed): the raw producer's input."""
    codec = SingleObjectCodec(load_schema("meter_reading.avsc"))
    headers = codec.headers()
    from publisher.netstream.readingtype import parse_reading_type
    from publisher.pipeline.events import Revision, message_key, meter_reading

    batches = []
    for item in recorded:
        parsed = parse_response(item.body, WireFormat.JSON, default_zone=ZONE)
        batch = []
        for reading in parsed.readings:
            rt = parse_reading_type(reading.reading_type)
            record = meter_reading(
                reading, rt, Revision(0), polled_at=polled_at(), source=Source.SCHEDULED, timezone=ZONE.key
            )
            batch.append(Message(message_key(reading), codec.encode(record), headers))
        batches.append(batch)
    return batches


def raw_config(bootstrap: str, *, transactional: bool) -> dict[str, Any]:
    """The pipeline producer's settings; without the transactional id when ``transactional`` is false."""
    config = producer_config(
        {"bootstrap.servers": bootstrap},
        f"bench-raw-{uuid.uuid4().hex[:8]}",
        transaction_timeout_ms=60_000,
    )
    config.pop("logger")
    if not transactional:
        config.pop("transactional.id")
        config.pop("transaction.timeout.ms")
    return config


def run_raw(bootstrap: str, batches: Sequence[Sequence[Message]], *, transactional: bool = True) -> Rate:
    """Produce the pre-encoded messages as fast as librdkafka takes them; a transaction per batch."""
    topic = BenchTopics.create(bootstrap, "bench-raw").readings
    producer = Producer(raw_config(bootstrap, transactional=transactional))
    if transactional:
        producer.init_transactions(30)
    count = 0
    started = time.perf_counter()
    for batch in batches:
        if transactional:
            producer.begin_transaction()
        for message in batch:
            while True:
                try:
                    producer.produce(topic, message.value, message.key, headers=message.headers)
                    break
                except BufferError:
                    producer.poll(0.05)
            producer.poll(0)
        if transactional:
            producer.commit_transaction(30)
        count += len(batch)
    producer.flush(30)
    seconds = time.perf_counter() - started
    return Rate(count, seconds)
