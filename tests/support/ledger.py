"""The independent count behind every "0 lost / 0 duplicated": a read_committed reader against the
simulator's ground truth, per (usage point, reading type, interval).

The reader is the test's own consumer (``isolation.level=read_committed``, every partition to EOF), never the
publisher's metrics or logs. An interval is *lost* when its newest published revision does not carry the
value and quality the simulator serves now; a revision is *duplicated* when it was published more than once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from publisher.simulator.server import SimulatorServer
from support.pipeline import fact_of_event, latest, read_events, truth


@dataclass(frozen=True)
class Ledger:
    """What the reader found, against what the simulator serves."""

    expected: int
    published: int
    intervals: int
    lost: int
    duplicated: int

    def line(self) -> str:
        """One line for the test output and the reliability report."""
        return (
            f"expected={self.expected} published={self.published} intervals={self.intervals} "
            f"lost={self.lost} duplicated={self.duplicated}"
        )

    def assert_exact(self, *, more_than: int = 500) -> None:
        """More than ``more_than`` intervals were expected, and none was lost or duplicated."""
        assert self.expected > more_than, self.line()
        assert (self.lost, self.duplicated) == (0, 0), self.line()


def interval_of(event: dict[str, Any]) -> tuple[str, str, datetime | None, datetime]:
    """(usage point, reading type, interval start, interval end) of a decoded event."""
    return (
        event["usage_point_mrid"],
        event["reading_type"]["mrid"],
        event["interval_start"],
        event["interval_end"],
    )


def ledger(sim: SimulatorServer, bootstrap: str, topic: str, start: datetime, end: datetime) -> Ledger:
    """Count the readings topic against the simulator's truth for ``[start, end)``."""
    events = read_events(bootstrap, topic)
    per_revision = Counter((*interval_of(e), e["revision"]) for e in events)
    newest = {fact_of_event(e) for e in latest(events).values()}
    expected = truth(sim, sim.config, start, end)
    return Ledger(
        expected=len(expected),
        published=len(events),
        intervals=len(latest(events)),
        lost=len(expected - newest),
        duplicated=sum(n - 1 for n in per_revision.values()),
    )
