"""The transactional producer against a real broker: commit, abort, latched delivery errors, fencing."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka.admin import AdminClient

from publisher.embedded import EmbeddedBroker
from publisher.errors import KafkaFatalError, TransactionAbortable
from publisher.kafka.producer import TransactionalProducer
from publisher.kafka.topics import TopicSpec, ensure_topics
from support.kafka import read_committed, unique_topic


def producer(bootstrap: str, txn_id: str | None = None) -> TransactionalProducer:
    p = TransactionalProducer(
        {"bootstrap.servers": bootstrap}, txn_id or f"test-{uuid.uuid4().hex}", timeout=15
    )
    p.init()
    return p


@contextlib.contextmanager
def own_broker_producer(name: str) -> Iterator[tuple[EmbeddedBroker, TransactionalProducer, str]]:
    """A broker of the test's own (safe to pause), a topic on it, and an initialised producer whose
    records time out after a second."""
    with EmbeddedBroker() as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        topic = unique_topic(name)
        ensure_topics(admin, [TopicSpec(topic, 1, replication_factor=1)])
        p = TransactionalProducer(
            {"bootstrap.servers": broker.bootstrap_servers, "message.timeout.ms": 1000},
            f"test-{uuid.uuid4().hex}",
            timeout=15,
        )
        p.init()
        yield broker, p, topic


def test_committed_records_are_visible_and_aborted_ones_are_not(
    kafka_bootstrap: str, make_topic: Callable[..., str]
) -> None:
    topic = make_topic("prod")
    p = producer(kafka_bootstrap)
    p.begin()
    p.produce(topic, b"kept", key=b"m1", headers=[("event_type", b"t")])
    p.commit()
    p.begin()
    p.produce(topic, b"dropped", key=b"m1")
    p.abort()
    assert not p.in_transaction
    records = read_committed(kafka_bootstrap, topic)
    assert [(r.key, r.value, r.headers) for r in records] == [(b"m1", b"kept", (("event_type", b"t"),))]


def test_explicit_partition_is_honoured(kafka_bootstrap: str, make_topic: Callable[..., str]) -> None:
    topic = make_topic("part", partitions=4)
    p = producer(kafka_bootstrap)
    p.begin()
    for partition in range(4):
        p.produce(topic, f"v{partition}".encode(), key=b"same-key", partition=partition)
    p.commit()
    records = read_committed(kafka_bootstrap, topic)
    assert sorted((r.partition, r.value) for r in records) == [(i, f"v{i}".encode()) for i in range(4)]


def test_a_delivery_failure_surfaces_on_the_caller_thread_and_aborts_the_batch() -> None:
    """A record that times out while the broker is unreachable fails in librdkafka's background; commit()
    raises it here, aborts, and the next transaction works."""
    with own_broker_producer("outage") as (broker, p, topic):
        p.begin()
        p.produce(topic, b"first", key=b"k")
        broker.pause()
        try:
            p.produce(topic, b"lost", key=b"k")
            time.sleep(2.0)  # longer than message.timeout.ms: librdkafka fails the record in the background
        finally:
            broker.resume()
        with pytest.raises(TransactionAbortable, match="not delivered"):
            p.commit()
        assert not p.in_transaction
        assert read_committed(broker.bootstrap_servers, topic) == []
        p.begin()
        p.produce(topic, b"after", key=b"k")
        p.commit()
        assert [r.value for r in read_committed(broker.bootstrap_servers, topic)] == [b"after"]


def test_a_second_producer_with_the_same_id_fences_the_first(
    kafka_bootstrap: str, make_topic: Callable[..., str]
) -> None:
    topic = make_topic("fence")
    txn_id = f"shard-{uuid.uuid4().hex}"
    old = producer(kafka_bootstrap, txn_id)
    new = producer(kafka_bootstrap, txn_id)
    old.begin()
    old.produce(topic, b"zombie", key=b"k")
    with pytest.raises(KafkaFatalError, match=r"fenced"):
        old.commit()
    new.begin()
    new.produce(topic, b"live", key=b"k")
    new.commit()
    assert [r.value for r in read_committed(kafka_bootstrap, topic)] == [b"live"]


def test_ensure_topics_creates_and_validates(kafka_admin: AdminClient) -> None:
    state = unique_topic("state")
    specs = [TopicSpec(state, 4, compacted=True, exact_partitions=True, replication_factor=1)]
    ensure_topics(kafka_admin, specs)
    ensure_topics(kafka_admin, specs)  # idempotent
    with pytest.raises(KafkaFatalError, match="has 4 partitions but 6"):
        ensure_topics(kafka_admin, [TopicSpec(state, 6, compacted=True, exact_partitions=True)])
    plain = unique_topic("plain")
    ensure_topics(kafka_admin, [TopicSpec(plain, 2, replication_factor=1)])
    with pytest.raises(KafkaFatalError, match=r"must have cleanup\.policy=compact"):
        ensure_topics(kafka_admin, [TopicSpec(plain, 2, compacted=True)])


def test_a_sender_produces_like_produce_in_the_open_transaction(
    kafka_bootstrap: str, make_topic: Callable[..., str]
) -> None:
    topic = make_topic("sender")
    p = producer(kafka_bootstrap)
    send = p.sender(topic, [("event_type", b"t")])
    p.begin()
    for n in range(150):  # past the poll interval
        send(f"v{n}".encode(), b"m1")
    assert p.produced_in_transaction == 150
    p.commit()
    p.begin()
    send(b"dropped", b"m1")
    p.abort()
    records = read_committed(kafka_bootstrap, topic)
    assert [r.value for r in records] == [f"v{n}".encode() for n in range(150)]
    assert {(r.key, r.headers) for r in records} == {(b"m1", (("event_type", b"t"),))}


def test_a_sender_raises_a_latched_delivery_failure_before_sending_more() -> None:
    with own_broker_producer("sender-outage") as (broker, p, topic):
        send = p.sender(topic)
        p.begin()
        broker.pause()
        try:
            send(b"lost", b"k")
            time.sleep(2.0)  # longer than message.timeout.ms: the record fails in the background
            p._producer.poll(0)  # serve the delivery report (the sender polls every 64 records)
            with pytest.raises(TransactionAbortable, match="not delivered"):
                send(b"next", b"k")
        finally:
            broker.resume()
        p.abort()
        p.begin()
        send(b"after", b"k")
        p.commit()
        assert [r.value for r in read_committed(broker.bootstrap_servers, topic)] == [b"after"]
