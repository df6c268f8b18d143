"""Kafka helpers for integration tests: explicit topics, unique names and a read_committed reader."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def unique_topic(prefix: str = "test") -> str:
    """A topic name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def create_topic(
    admin: AdminClient, name: str, *, partitions: int = 3, compacted: bool = False, timeout: float = 15.0
) -> str:
    """Create a topic explicitly (never rely on auto-creation) and wait until its metadata shows it."""
    config = {"cleanup.policy": "compact" if compacted else "delete"}
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config)]
    )
    for future in futures.values():
        future.result(timeout=timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        topic = admin.list_topics(name, timeout=5).topics.get(name)
        if topic is not None and topic.error is None and len(topic.partitions) == partitions:
            return name
        time.sleep(0.05)
    raise AssertionError(f"topic {name} did not appear within {timeout}s")


@dataclass(frozen=True)
class Record:
    """One consumed record, detached from librdkafka."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int


def read_committed(bootstrap: str, topic: str, *, timeout: float = 30.0) -> list[Record]:
    """Every committed record of every partition of ``topic``, read to partition EOF (read_committed)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        partitions = sorted(metadata.partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        at_eof: set[int] = set()
        records: list[Record] = []
        deadline = time.monotonic() + timeout
        while len(at_eof) < len(partitions):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"did not reach EOF of {topic} within {timeout}s (at EOF: {sorted(at_eof)})"
                )
            message: Message | None = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    at_eof.add(message.partition())
                    continue
                raise AssertionError(f"consumer error: {error}")
            at_eof.discard(message.partition())
            records.append(
                Record(
                    topic=message.topic(),
                    partition=message.partition(),
                    offset=message.offset(),
                    key=message.key(),
                    value=message.value(),
                    headers=tuple(
                        (k, v if isinstance(v, bytes) else b"") for k, v in (message.headers() or [])
                    ),
                    timestamp_ms=message.timestamp()[1],
                )
            )
        return records
    finally:
        consumer.close()


class Watermarks:
    """Sum of the high watermark (read_uncommitted) and last stable offset (read_committed) of a topic.

    ``high > stable`` means some transaction on the topic is open: records produced, not yet committed."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._clients = [
            Consumer({"bootstrap.servers": bootstrap, "group.id": f"wm-{level}", "isolation.level": level})
            for level in ("read_uncommitted", "read_committed")
        ]

    def read(self) -> tuple[int, int]:
        metadata = self._clients[0].list_topics(self.topic, timeout=10).topics.get(self.topic)
        if metadata is None or metadata.error is not None:
            return 0, 0
        high, stable = (
            sum(
                c.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1]
                for p in metadata.partitions
            )
            for c in self._clients
        )
        return high, stable

    def close(self) -> None:
        for client in self._clients:
            client.close()
