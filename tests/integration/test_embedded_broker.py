"""The embedded broker: ready means metadata answers; clear errors when it cannot run; clean stop."""

from __future__ import annotations

import os
import socket
import sys

import pytest

from publisher.embedded import EmbeddedBroker, broker_binary, metadata_ready
from publisher.errors import BrokerStartError


def test_start_waits_for_metadata_and_stop_ends_the_process() -> None:
    broker = EmbeddedBroker()
    broker.start()
    pid = broker.pid
    assert pid is not None
    try:
        assert metadata_ready(broker.bootstrap_servers)
    finally:
        broker.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not metadata_ready(broker.bootstrap_servers, timeout=0.5)


def test_a_port_in_use_is_a_clear_start_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        broker = EmbeddedBroker(port=port)
        with pytest.raises(BrokerStartError, match=f"port {port}"):
            broker.start(timeout=10)
        assert broker.pid is None


def test_missing_noida_db_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "noida_db", None)
    with pytest.raises(BrokerStartError, match=r"netstream-publisher\[embedded\]"):
        broker_binary()
