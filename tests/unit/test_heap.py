"""The garbage collector settings: a higher young threshold for every command, the start-up heap frozen."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import LogCapture

from publisher.cli import main
from publisher.heap import GEN0_THRESHOLD, configure_collector, freeze_heap


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.set_threshold(*threshold)
    gc.unfreeze()


class Node:
    """An object that can be part of a reference cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


def test_the_young_threshold_is_raised_and_the_older_ones_kept() -> None:
    gc.set_threshold(700, 13, 17)
    configure_collector()
    assert gc.get_threshold() == (GEN0_THRESHOLD, 13, 17)


def test_every_command_runs_with_the_collector_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = tmp_path / "registry.yaml"
    registry.write_text("usage_points:\n  - mrid: up-1\n", encoding="utf-8")
    monkeypatch.setenv("PUBLISHER_REGISTRY_FILE", str(registry))
    gc.set_threshold(700, 10, 10)
    assert main(["registry", "list"]) == 0
    assert "up-1" in capsys.readouterr().out
    assert gc.get_threshold() == (GEN0_THRESHOLD, 10, 10)


def test_freezing_collects_garbage_first_then_exempts_what_is_alive(captured_logs: LogCapture) -> None:
    gc.unfreeze()
    garbage, alive = Node(), Node()
    garbage.other, alive.other = Node(), Node()
    garbage.other.other = garbage  # a cycle that nothing refers to any more
    alive.other.other = alive  # a cycle still referred to
    gone, kept = weakref.ref(garbage), weakref.ref(alive)
    del garbage
    frozen = freeze_heap()
    assert gone() is None  # collected, not frozen
    assert kept() is alive
    assert frozen == gc.get_freeze_count() > 0
    tracked = {id(o) for o in gc.get_objects()}  # collections skip frozen objects, and so does this list
    assert id(alive) not in tracked
    assert [e for e in captured_logs.entries if e["event"] == "heap_frozen"] == [
        {"event": "heap_frozen", "objects": frozen, "log_level": "info"}
    ]
