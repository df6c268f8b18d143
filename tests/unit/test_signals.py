"""StopSignals: the first SIGTERM/SIGINT sets the event; the handler never logs and ignores repeats."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import pytest
from structlog.testing import LogCapture

from publisher.signals import StopSignals


@pytest.fixture
def restore_handlers() -> Iterator[None]:
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def test_first_signal_sets_the_event_and_is_remembered(restore_handlers: None) -> None:
    stop = threading.Event()
    signals = StopSignals(stop).install()
    assert signals.received is None
    os.kill(os.getpid(), signal.SIGTERM)
    assert stop.wait(5)
    assert signals.received == "SIGTERM"


def test_back_to_back_signals_keep_the_first_and_log_nothing(
    restore_handlers: None, captured_logs: LogCapture
) -> None:
    stop = threading.Event()
    signals = StopSignals(stop).install()
    os.kill(os.getpid(), signal.SIGINT)
    os.kill(os.getpid(), signal.SIGTERM)
    os.kill(os.getpid(), signal.SIGINT)
    assert stop.wait(5)
    assert signals.received == "SIGINT"
    assert captured_logs.entries == []


def test_wait_returns_when_the_signal_lands_on_another_thread(restore_handlers: None) -> None:
    """The kernel may deliver a process signal to any thread; the waiting main thread must still notice."""
    stop = threading.Event()
    signals = StopSignals(stop).install()
    worker = threading.Thread(target=lambda: signal.pthread_kill(threading.get_ident(), signal.SIGTERM))
    worker.start()
    signals.wait()
    worker.join()
    assert signals.received == "SIGTERM"
