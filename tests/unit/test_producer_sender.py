"""The producer's sender: a full queue is waited for, records are counted, errors come out classified."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from publisher.errors import TransactionAbortable
from publisher.kafka.producer import TransactionalProducer


class QueueFullOnce:
    """librdkafka's produce as the sender calls it: the first call finds the queue full."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.sent: list[tuple[Any, ...]] = []
        self.polls = 0
        self.full = True
        self.failure = failure

    def produce(self, topic: str, *args: Any, **kwargs: Any) -> None:
        if self.failure is not None:
            raise self.failure
        if self.full:
            self.full = False
            raise BufferError("Local: Queue full")
        value, key = args or (kwargs["value"], kwargs["key"])
        self.sent.append((topic, value, key, tuple(kwargs["headers"])))

    def poll(self, _timeout: float) -> int:
        self.polls += 1
        return 0


def make(fake: QueueFullOnce) -> TransactionalProducer:
    return TransactionalProducer({}, "np-0", factory=lambda _config: fake)  # type: ignore[arg-type,return-value]


def test_a_full_queue_is_waited_for_and_the_record_sent_once() -> None:
    fake = QueueFullOnce()
    p = make(fake)
    send = p.sender("t", [("event_type", b"e")])
    send(b"v1", b"k")
    send(b"v2", b"k")
    assert fake.sent == [
        ("t", b"v1", b"k", (("event_type", b"e"),)),
        ("t", b"v2", b"k", (("event_type", b"e"),)),
    ]
    assert fake.polls >= 1  # it let deliveries drain before trying again
    assert p.produced_in_transaction == 2


def test_a_librdkafka_error_comes_out_classified() -> None:
    error = KafkaError(KafkaError._STATE, "must abort", txn_requires_abort=True)
    send = make(QueueFullOnce(KafkaException(error))).sender("t")
    with pytest.raises(TransactionAbortable, match="must abort"):
        send(b"v", b"k")
