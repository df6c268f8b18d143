"""The session broker is a real Kafka-protocol broker with working transactions."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from confluent_kafka import Producer

from support.kafka import read_committed


def test_read_committed_sees_the_committed_batch_and_not_the_aborted_one(
    kafka_bootstrap: str, make_topic: Callable[..., str]
) -> None:
    topic = make_topic("txn", partitions=3)
    producer = Producer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "transactional.id": f"fixture-{uuid.uuid4().hex}",
            "enable.idempotence": True,
            "acks": "all",
        }
    )
    producer.init_transactions(30)

    producer.begin_transaction()
    for i in range(10):
        producer.produce(topic, key=f"meter-{i}".encode(), value=f"committed-{i}".encode())
    producer.commit_transaction(30)

    producer.begin_transaction()
    for i in range(10):
        producer.produce(topic, key=f"meter-{i}".encode(), value=f"aborted-{i}".encode())
    producer.flush(30)
    producer.abort_transaction(30)

    records = read_committed(kafka_bootstrap, topic)

    assert sorted(r.value for r in records if r.value is not None) == sorted(
        f"committed-{i}".encode() for i in range(10)
    )
    assert len({r.partition for r in records}) > 1, "keys should spread over partitions"
