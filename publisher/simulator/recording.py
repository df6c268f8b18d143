"""A record of every API and token request the simulator received, for retry-count assertions."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    """One request and what the simulator did with it.

    ``status`` is ``None`` when the connection was dropped or hung without an answer; ``fault`` names the
    fault kind applied, if any; ``at`` is ``time.monotonic()`` when the request arrived and ``answered`` when
    its answer was ready to send (for a dropped or hung connection: when the simulator chose not to answer),
    so a client's wait after an answer is ``next.at - answered``. ``headers`` keeps the
    header names as sent (they may include credentials: never log them).
    """

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int | None
    fault: str | None
    at: float
    answered: float | None = None

    def summary(self) -> dict[str, Any]:
        """A credential-free summary (what the admin API returns)."""
        return {
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "fault": self.fault,
            "at": self.at,
            "answered": self.answered,
        }


class RequestLog:
    """The thread-safe list of recorded requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[RecordedRequest] = []

    def append(self, item: RecordedRequest) -> None:
        """Record one request."""
        with self._lock:
            self._items.append(item)

    def snapshot(self) -> list[RecordedRequest]:
        """A copy of the records so far, oldest first."""
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._items.clear()
