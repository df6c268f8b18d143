"""``once``: one poll cycle of every plan for this shard's targets, then exit."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import structlog

from publisher.app import build_service
from publisher.config import Settings
from publisher.errors import NetstreamUnavailable
from publisher.pipeline.runner import group_targets

log = structlog.get_logger(__name__)


def register(commands: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``once`` to the command line."""
    parser = commands.add_parser("once", help="run one poll cycle of every plan, then exit (0 = success)")
    add_common(parser)
    parser.set_defaults(handler=run)


def run(settings: Settings, _args: argparse.Namespace) -> int:
    """Start the shard (fence, restore), run each plan once; non-zero if any window failed."""
    service = build_service(settings)
    try:
        service.start()
        failed = 0
        for plan in settings.publisher_plans:
            groups = group_targets(service.registry, plan.reading_types)
            failed += service.runner.cycle(plan.name, groups, plan.lookback).failed_windows
    finally:
        service.close()
    if failed:
        raise NetstreamUnavailable(
            f"{failed} window(s) could not be fetched; what was fetched is published, the rest is retried "
            "by the next cycle"
        )
    return 0
