"""What a shard publisher is given and what it reports: the producer it needs, its topics, the counts of a
cycle, backfill progress, and the observer hooks the metrics implement (the pipeline itself knows nothing of
Prometheus)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

from publisher.netstream.client import FetchedWindow
from publisher.netstream.model import Reading


class ShardProducer(Protocol):
    """What a shard needs of its transactional producer: one transaction at a time, records queued into it,
    delivery errors raised on the caller's thread. The service's is
    :class:`~publisher.kafka.producer.TransactionalProducer`."""

    def begin(self) -> None: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...

    def produce(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None,
        headers: Sequence[tuple[str, bytes]] = (),
        partition: int | None = None,
    ) -> None: ...

    def sender(
        self, topic: str, headers: Sequence[tuple[str, bytes]] = ()
    ) -> Callable[[bytes, bytes | None], None]: ...


@dataclass
class CycleStats:
    """Counts of one cycle (or one window); the fields of the ``cycle_completed`` log line."""

    fetched: int = 0
    new: int = 0
    revised: int = 0
    suppressed: int = 0
    missing: int = 0
    dlq: int = 0
    windows: int = 0
    failed_windows: int = 0
    aborted: int = 0
    per_topic: dict[str, int] = field(default_factory=dict)
    revised_per_topic: dict[str, int] = field(default_factory=dict)

    def add(self, other: CycleStats) -> None:
        """Accumulate another window's counts."""
        for name in (
            "fetched",
            "new",
            "revised",
            "suppressed",
            "missing",
            "dlq",
            "windows",
            "failed_windows",
            "aborted",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for topic, count in other.per_topic.items():
            self.per_topic[topic] = self.per_topic.get(topic, 0) + count
        for topic, count in other.revised_per_topic.items():
            self.revised_per_topic[topic] = self.revised_per_topic.get(topic, 0) + count

    def fields(self) -> dict[str, int]:
        """Counts for a log line."""
        return {
            "fetched": self.fetched,
            "new": self.new,
            "revised": self.revised,
            "suppressed": self.suppressed,
            "missing": self.missing,
            "dlq": self.dlq,
            "windows": self.windows,
            "failed_windows": self.failed_windows,
            "aborted": self.aborted,
        }


@dataclass(frozen=True)
class Topics:
    """Where records go: readings (with optional routes by kind or reading type), dead letters, state."""

    readings: str
    dlq: str
    state: str
    state_partitions: int
    routes: Mapping[str, str] = field(default_factory=dict)

    def for_reading(self, reading: Reading) -> str:
        """A route for the reading type wins over one for the kind, which wins over the default topic."""
        return self.routes.get(reading.reading_type) or self.routes.get(reading.kind.value) or self.readings


@dataclass(frozen=True)
class Progress:
    """A backfill job's progress, committed with the window that completes it."""

    job_id: str
    done: frozenset[int]


class PipelineObserver(Protocol):
    """Hooks for metrics; the pipeline itself knows nothing of Prometheus."""

    def transaction_committed(self, stats: CycleStats) -> None: ...
    def transaction_aborted(self) -> None: ...
    def window_published(self, window: FetchedWindow, zone_of: Callable[[str], ZoneInfo]) -> None: ...


class _NoObserver:
    """Observes nothing: the default when no metrics are wanted."""

    def transaction_committed(self, stats: CycleStats) -> None:
        """Ignore."""

    def transaction_aborted(self) -> None:
        """Ignore."""

    def window_published(self, window: FetchedWindow, zone_of: Callable[[str], ZoneInfo]) -> None:
        """Ignore."""


no_observer: PipelineObserver = _NoObserver()
