"""The state reader's consumer: how it asks librdkafka to prefetch, and how it decides it reached the end.

The broker side is covered by ``tests/integration/test_statelog.py``; here a recording consumer stands in
for librdkafka, so the settings it is built with and the end-of-partition bookkeeping are checked alone.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from confluent_kafka import KafkaError, TopicPartition

from publisher.kafka import statelog

LIBRDKAFKA_QUEUE_BACKOFF_MS = 1000  # librdkafka's default fetch.queue.backoff.ms
LIBRDKAFKA_QUEUED_MIN_MESSAGES = 100_000  # librdkafka's default queued.min.messages


class _Message:
    def __init__(self, partition: int, key: bytes | None = None, value: bytes | None = None) -> None:
        self._partition = partition
        self._key = key
        self._value = value

    def error(self) -> KafkaError | None:
        return KafkaError(KafkaError._PARTITION_EOF) if self._key is None else None

    def partition(self) -> int:
        return self._partition

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value


class RecordingConsumer:
    """Hands out one record per assigned partition, then each partition's EOF; keeps its settings."""

    built: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, config: dict[str, Any]) -> None:
        RecordingConsumer.built.append(config)
        self._batches: list[list[_Message]] = []
        self.closed = False

    def assign(self, partitions: list[TopicPartition]) -> None:
        self._batches = [
            [_Message(tp.partition, f"k{tp.partition}".encode(), b"v") for tp in partitions],
            [_Message(tp.partition) for tp in partitions],
        ]

    def consume(self, num_messages: int, timeout: float) -> list[_Message]:
        assert num_messages == statelog.BATCH
        assert timeout == statelog.POLL_SECONDS
        return self._batches.pop(0) if self._batches else []

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    RecordingConsumer.built = []
    monkeypatch.setattr(statelog, "Consumer", RecordingConsumer)
    return RecordingConsumer.built


def test_the_reader_refetches_as_soon_as_its_queue_has_room(built: list[dict[str, Any]]) -> None:
    """librdkafka's default postpones a partition's next fetch by a second once its queue is over the
    prefetch threshold; the reader drains that queue far sooner and must not then sit idle."""
    seen: list[bytes] = []
    count = statelog.read_to_end(
        {"bootstrap.servers": "b:9092"}, "state", [2, 0], lambda k, _v: seen.append(k)
    )

    assert count == 2
    assert seen == [b"k0", b"k2"]
    (config,) = built
    assert config["fetch.queue.backoff.ms"] == statelog.READER_SETTINGS["fetch.queue.backoff.ms"]
    assert config["fetch.queue.backoff.ms"] <= LIBRDKAFKA_QUEUE_BACKOFF_MS // 50
    assert config["queued.min.messages"] < LIBRDKAFKA_QUEUED_MIN_MESSAGES
    assert config["isolation.level"] == "read_committed"
    assert config["enable.partition.eof"] is True


def test_settings_given_by_the_operator_win_over_the_readers(built: list[dict[str, Any]]) -> None:
    base = {"bootstrap.servers": "b:9092", "fetch.queue.backoff.ms": 250, "queued.min.messages": 5000}

    statelog.read_to_end(base, "state", [0], lambda _k, _v: None)

    assert built[0]["fetch.queue.backoff.ms"] == 250
    assert built[0]["queued.min.messages"] == 5000
