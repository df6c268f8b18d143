"""Fixtures of the reliability scenarios: a simulator on a fixed clock, and a broker of the test's own
behind the fault-injecting proxy (so a test may cut, blackhole or SIGSTOP it without touching the broker
that the rest of the session shares)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from publisher.embedded import EmbeddedBroker
from publisher.simulator.clock import SimClock
from publisher.simulator.server import SimulatorServer
from support.brokers import ProxiedBroker, proxied
from support.pipeline import small_config


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    """Four usage points, no late data and no revisions, on a clock fixed at the start of the test."""
    now = datetime.now(UTC).replace(microsecond=0)
    server = SimulatorServer(small_config(4, late_fraction=0.0, revision_fraction=0.0), clock=SimClock(now))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def proxied_broker() -> Iterator[ProxiedBroker]:
    """A dedicated broker (safe to SIGSTOP) behind a proxy."""
    with EmbeddedBroker() as broker:
        proxy = proxied(broker.bootstrap_servers)
        try:
            yield ProxiedBroker(broker, proxy)
        finally:
            broker.resume()  # never leave it stopped for the teardown
            proxy.stop()
