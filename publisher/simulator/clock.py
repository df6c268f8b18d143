"""The simulator's notion of "now": a manual clock for deterministic tests, or real time with an offset.

Everything time-dependent in the simulator (which intervals have ended, which late intervals have arrived,
whether a reading is still estimated, token expiry) asks :meth:`SimClock.now`, so a test can move time
forward instead of waiting for it.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from publisher.errors import ConfigError


def _require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ConfigError(
            f"simulator clock time {moment.isoformat()} has no UTC offset; pass an aware datetime "
            "such as datetime(..., tzinfo=UTC)"
        )
    return moment.astimezone(UTC)


class SimClock:
    """A clock that moves only when told (``SimClock(start)``) or follows real time (``SimClock.system()``).

    ``set`` and ``advance`` work on both: on the system clock they shift it by an offset that stays in
    effect while real time keeps running.
    """

    def __init__(self, start: datetime) -> None:
        self._lock = threading.Lock()
        self._manual: datetime | None = _require_aware(start)
        self._offset = timedelta()

    @classmethod
    def system(cls) -> SimClock:
        """A clock that follows real time (plus any offset set later)."""
        clock = cls(datetime.now(UTC))
        with clock._lock:
            clock._manual = None
        return clock

    @property
    def is_manual(self) -> bool:
        """True when the clock moves only when told."""
        with self._lock:
            return self._manual is not None

    def now(self) -> datetime:
        """The current simulated time, timezone-aware UTC."""
        with self._lock:
            if self._manual is not None:
                return self._manual
            return datetime.now(UTC) + self._offset

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (aware). On the system clock this sets the offset from real time."""
        target = _require_aware(moment)
        with self._lock:
            if self._manual is not None:
                self._manual = target
            else:
                self._offset = target - datetime.now(UTC)

    def advance(self, delta: timedelta) -> None:
        """Move the clock by ``delta`` (may be negative)."""
        with self._lock:
            if self._manual is not None:
                self._manual += delta
            else:
                self._offset += delta
