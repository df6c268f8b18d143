"""``backfill``: publish history window by window through the same dedup path; resumable."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from tqdm import tqdm

from publisher.app import build_service
from publisher.commands.timeargs import parse_window
from publisher.config import Settings
from publisher.errors import ConfigError, NetstreamUnavailable
from publisher.heap import freeze_heap
from publisher.pipeline.publishing import CycleStats
from publisher.pipeline.runner import Group, group_targets
from publisher.registry import Registry, shard_of


def register(commands: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``backfill`` to the command line."""
    parser = commands.add_parser(
        "backfill", help="fetch history in windows and publish it through the dedup path (resumable)"
    )
    add_common(parser)
    parser.add_argument(
        "--start", required=True, metavar="T", help="ISO 8601; no offset = Netstream local time"
    )
    parser.add_argument("--end", required=True, metavar="T", help="ISO 8601, exclusive")
    parser.add_argument(
        "--usage-point", action="append", default=[], metavar="ID", help="only these (repeatable)"
    )
    parser.add_argument(
        "--reading-type", action="append", default=[], metavar="RT", help="only these (repeatable)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def select(
    registry: Registry, settings: Settings, usage_points: list[str], reading_types: list[str]
) -> list[Group]:
    """The groups to backfill: this shard's targets, optionally narrowed to usage points and reading types."""
    for mrid in usage_points:
        shard = shard_of(mrid, settings.publisher_shard_count)
        if shard != settings.publisher_shard_index:
            raise ConfigError(
                f"usage point {mrid} belongs to shard {shard}; "
                f"run the backfill with PUBLISHER_SHARD_INDEX={shard}"
            )
    entries = [e for e in registry if not usage_points or e.mrid in usage_points]
    missing = set(usage_points) - {e.mrid for e in entries}
    if missing:
        raise ConfigError(f"usage point(s) {sorted(missing)} are not in the registry; add them first")
    if reading_types:
        return [Group(tuple(e.target for e in entries), tuple(reading_types))]
    return group_targets(entries, settings.publisher_plans[0].reading_types)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run (or resume) the backfill with a progress bar of windows done out of total."""
    start, end = parse_window(args.start, args.end, settings.zone)
    service = build_service(settings, rate_share=settings.publisher_backfill_rate_share)
    bar: tqdm[Any] | None = None
    started = time.monotonic()

    def on_window(done: int, total: int, stats: CycleStats) -> None:
        nonlocal bar
        if args.no_progress:
            return
        if bar is None:
            bar = tqdm(total=total, unit="window", desc="backfill", initial=done - 1)
        bar.update(done - bar.n)
        rate = stats.fetched / max(time.monotonic() - started, 1e-6)
        bar.set_postfix(readings=stats.fetched, new=stats.new, revised=stats.revised, per_s=f"{rate:.0f}")

    try:
        service.start()
        groups = select(service.registry, settings, args.usage_point, args.reading_type)
        freeze_heap()  # the registry and the restored state stay for the whole backfill
        stats = service.runner.backfill(groups, start, end, settings.netstream_window, on_window=on_window)
    finally:
        if bar is not None:
            bar.close()
        service.close()
    if stats.failed_windows:
        raise NetstreamUnavailable(
            f"{stats.failed_windows} window(s) could not be fetched; run the same backfill again to resume"
        )
    return 0
