"""Integration fixtures: one real Kafka-protocol broker for the whole session.

With ``KAFKA_BOOTSTRAP_SERVERS`` set, the tests use that cluster instead of starting the embedded broker.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka.admin import AdminClient

from publisher.embedded import EmbeddedBroker
from support.kafka import create_topic, unique_topic


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration is an integration test."""
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of the session's broker."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    broker = EmbeddedBroker()
    broker.start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str) -> AdminClient:
    """An admin client on the session's broker.

    It lives until the interpreter exits, after the broker stopped; its librdkafka log goes to a silent
    logger so the "connection refused" of that moment does not end the test output.
    """
    quiet = logging.getLogger("tests.librdkafka")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    return AdminClient({"bootstrap.servers": kafka_bootstrap, "logger": quiet})


@pytest.fixture
def make_topic(kafka_admin: AdminClient) -> Callable[..., str]:
    """Create a uniquely named topic for this test: ``make_topic(partitions=3, compacted=False)``."""

    def make(prefix: str = "test", *, partitions: int = 3, compacted: bool = False) -> str:
        return create_topic(kafka_admin, unique_topic(prefix), partitions=partitions, compacted=compacted)

    return make
