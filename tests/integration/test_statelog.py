"""Reading the state topic back to partition EOF: own partitions only, committed records only."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient

from publisher.kafka.producer import TransactionalProducer
from publisher.kafka.statelog import read_to_end, shard_partitions


def test_shard_partitions_split_the_topic_without_overlap() -> None:
    owned = [shard_partitions(12, shard, 3) for shard in range(3)]
    assert owned[0] == [0, 3, 6, 9]
    assert sorted(p for parts in owned for p in parts) == list(range(12))


def test_reads_committed_records_of_the_given_partitions_to_eof(
    kafka_bootstrap: str, make_topic: Callable[..., str]
) -> None:
    topic = make_topic("state", partitions=4, compacted=True)
    producer = TransactionalProducer({"bootstrap.servers": kafka_bootstrap}, f"t-{uuid.uuid4().hex}")
    producer.init()
    producer.begin()
    for partition in range(3):  # partition 3 stays empty: EOF must still be reached
        producer.produce(topic, f"v{partition}".encode(), key=f"k{partition}".encode(), partition=partition)
    producer.produce(topic, None, key=b"gone", partition=0)
    producer.commit()
    producer.begin()
    producer.produce(topic, b"aborted", key=b"k0", partition=0)
    producer.abort()

    seen: list[tuple[bytes, bytes | None]] = []
    count = read_to_end(
        {"bootstrap.servers": kafka_bootstrap}, topic, [0, 2, 3], lambda k, v: seen.append((k, v))
    )

    assert count == 3
    assert sorted(seen, key=lambda kv: kv[0]) == [(b"gone", None), (b"k0", b"v0"), (b"k2", b"v2")]


def test_no_partitions_reads_nothing(kafka_bootstrap: str) -> None:
    seen: list[bytes] = []
    assert (
        read_to_end({"bootstrap.servers": kafka_bootstrap}, "unused", [], lambda k, _v: seen.append(k)) == 0
    )
    assert seen == []


def test_reads_from_the_log_start_when_the_first_records_are_gone(
    kafka_bootstrap: str, make_topic: Callable[..., str]
) -> None:
    """The reader starts at offset 0 (no offset query); a log that no longer starts there resets to its
    earliest record instead of failing or waiting. (Brokers refuse to delete records of a compacted topic,
    whose log keeps starting at 0, so a topic with the delete policy stands in.)"""
    topic = make_topic("state", partitions=1, compacted=False)
    producer = TransactionalProducer({"bootstrap.servers": kafka_bootstrap}, f"t-{uuid.uuid4().hex}")
    producer.init()
    producer.begin()
    for index in range(5):
        producer.produce(topic, b"v", key=f"k{index}".encode(), partition=0)
    producer.commit()
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.delete_records([TopicPartition(topic, 0, 3)]).values():
        future.result(timeout=30)

    seen: list[bytes] = []
    count = read_to_end({"bootstrap.servers": kafka_bootstrap}, topic, [0], lambda k, _v: seen.append(k))

    assert count == 2
    assert seen == [b"k3", b"k4"]
