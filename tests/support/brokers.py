"""A broker of a test's own behind the fault-injecting proxy (safe to cut, blackhole or SIGSTOP)."""

from __future__ import annotations

from dataclasses import dataclass

from publisher.embedded import EmbeddedBroker
from support.tcpproxy import TcpProxy


@dataclass(frozen=True)
class ProxiedBroker:
    """A broker started for one test, and the proxy every publisher connection goes through."""

    broker: EmbeddedBroker
    proxy: TcpProxy

    @property
    def bootstrap(self) -> str:
        """KAFKA_BOOTSTRAP_SERVERS of the publisher: the proxy (which rewrites advertised addresses)."""
        return self.proxy.address

    @property
    def direct(self) -> str:
        """The broker itself, for the test's own reader, which must not suffer the injected faults."""
        return self.broker.bootstrap_servers


def proxied(bootstrap: str) -> TcpProxy:
    """A started Kafka-aware proxy in front of the single broker at ``bootstrap`` (``host:port``)."""
    host, port = bootstrap.rsplit(":", 1)
    return TcpProxy((host, int(port)), kafka=True).start()
