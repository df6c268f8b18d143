"""The sub-commands of ``netstream-publisher`` (DESIGN §4). Each module registers one command."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from publisher.commands import backfill, check, fetch, once, registry, replay, run, simulate

AddCommon = Callable[[argparse.ArgumentParser], None]


def register_all(commands: Any, add_common: AddCommon) -> None:
    """Add every implemented command to the ``commands`` sub-parser action."""
    for module in (run, once, backfill, replay, fetch, simulate, registry, check):
        module.register(commands, add_common)
