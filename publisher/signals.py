"""Stop on SIGTERM or SIGINT without doing anything unsafe inside the signal handler.

A Python signal handler runs on the main thread between two bytecodes, possibly while that thread holds a
lock: the log writer's, or the condition lock of the very event the handler is about to set. A handler that
logs, or that sets an event a second time, can then wait forever for a lock its own thread holds. That is
what Ctrl-C in a terminal does to a child process: SIGINT from the terminal and SIGTERM from the parent
arrive back to back. So the handler here only records the first signal and sets the event once; the
caller logs which signal it was after :meth:`StopSignals.wait` returns, outside the handler.

The main thread must not block in a plain ``Event.wait()`` either: the kernel may deliver the signal to
another thread, and then nothing wakes the main thread to run the Python handler. :meth:`StopSignals.wait`
wakes up a few times a second so a pending handler always runs.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
#: seconds between two wake-ups of the waiting main thread
WAKE_EVERY = 0.2


class StopSignals:
    """Turns the first SIGTERM or SIGINT into ``event.set()``; later ones are ignored."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event
        self._received: list[int] = []

    def install(self) -> StopSignals:
        """Install the handler for SIGTERM and SIGINT (main thread only)."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self._received:  # already stopping: no lock, no I/O
            return
        self._received.append(signum)
        self.event.set()

    def wait(self) -> None:
        """Block the main thread until the event is set, by a signal or by any other thread."""
        while not self.event.wait(WAKE_EVERY):
            pass

    @property
    def received(self) -> str | None:
        """Name of the signal that asked to stop (``SIGTERM``), or None if none arrived."""
        return signal.Signals(self._received[0]).name if self._received else None
