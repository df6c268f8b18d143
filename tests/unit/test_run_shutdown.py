"""`run`'s stop path: the default shutdown timeout fits Kubernetes' default 30 s grace period, and a cycle
that outlives it leaves with the right exit code (0 after SIGTERM, the fatal error's code otherwise)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from publisher.commands import run as run_command
from publisher.config import load_settings


class StuckScheduler:
    """A scheduler whose running cycle never ends."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def shutdown(self, *, wait: bool = True) -> None:
        del wait
        self.release.wait(10)


def test_the_default_shutdown_timeout_leaves_room_in_the_default_grace_period() -> None:
    assert load_settings(None, {}).publisher_shutdown_timeout <= 25.0


@pytest.mark.parametrize("code", [0, 4])
def test_a_cycle_that_outlives_the_shutdown_timeout_exits_with_the_stop_reason(
    monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    exits: list[int] = []

    def fake_exit(status: int) -> Any:
        exits.append(status)

    monkeypatch.setattr(run_command.os, "_exit", fake_exit)
    scheduler = StuckScheduler()
    run_command._shutdown(scheduler, 0.05, lambda: code)  # type: ignore[arg-type]
    scheduler.release.set()
    assert exits == [code]
