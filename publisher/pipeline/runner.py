"""Cycles and backfills: plan targets, reading types and windows, fetch them, publish each window.

A scheduled cycle covers ``[now - lookback, now)`` for every target of the shard. A backfill covers a
fixed range in windows; after each window it commits the window's index as the job's progress, so a
restarted backfill skips what is done (and dedup makes any window that is redone publish nothing twice).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from publisher.errors import NetstreamUnavailable, ParseError
from publisher.netstream.client import FailedWindow, NetstreamClient, plan_windows
from publisher.netstream.model import Target, TargetKind
from publisher.netstream.parser import Rejected
from publisher.pipeline.events import Source
from publisher.pipeline.publishing import CycleStats, Progress
from publisher.pipeline.shard import ShardPublisher
from publisher.registry import Entry

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Group:
    """Targets polled together because they ask for the same reading types."""

    targets: tuple[Target, ...]
    reading_types: tuple[str, ...]


def group_targets(entries: Iterable[Entry], default_types: Sequence[str]) -> list[Group]:
    """Group targets by their reading types (an entry's own, else the plan's), keeping file order."""
    groups: dict[tuple[str, ...], list[Target]] = {}
    for entry in entries:
        types = tuple(entry.reading_types) or tuple(default_types)
        groups.setdefault(types, []).append(entry.target)
    return [Group(tuple(targets), types) for types, targets in groups.items()]


def _requests(groups: Sequence[Group]) -> list[tuple[tuple[Target, ...], tuple[str, ...]]]:
    """What to fetch: a group's usage points together (the client batches them), every group or meter
    target on its own, so each series that comes back is owned by exactly one target and its state
    lives in that target's shard partition."""
    out: list[tuple[tuple[Target, ...], tuple[str, ...]]] = []
    for group in groups:
        usage_points = tuple(t for t in group.targets if t.kind is TargetKind.USAGE_POINT)
        if usage_points:
            out.append((usage_points, group.reading_types))
        out.extend(((t,), group.reading_types) for t in group.targets if t.kind is not TargetKind.USAGE_POINT)
    return out


def backfill_job_id(groups: Sequence[Group], start: datetime, end: datetime, window: timedelta) -> str:
    """A stable id for a backfill: the same command line resumes the same job."""
    digest = hashlib.sha256()
    for group in groups:
        digest.update("|".join(group.reading_types).encode())
        for target in group.targets:
            digest.update(f"{target.kind.value}:{target.mrid};".encode())
    digest.update(f"{start.isoformat()}|{end.isoformat()}|{window.total_seconds()}".encode())
    return digest.hexdigest()[:24]


class Runner:
    """Drive the client and the shard publisher for cycles and backfills."""

    def __init__(
        self,
        client: NetstreamClient,
        shard: ShardPublisher,
        *,
        clock: Callable[[], datetime],
        stop: threading.Event | None = None,
    ) -> None:
        self._client = client
        self._shard = shard
        self._clock = clock
        #: set by a signal handler: finish the window in hand, start no other
        self.stop = stop or threading.Event()

    def _publish_range(
        self, groups: Sequence[Group], start: datetime, end: datetime, source: Source
    ) -> CycleStats:
        """Publish every window of ``[start, end)``; a window that cannot be fetched or read is counted
        (and an unreadable one dead-lettered) while the others go on, unless Netstream is down altogether,
        which ends the group's fetch (the client's circuit breaker); the next cycle fetches them again."""
        stats = CycleStats()
        self._shard.ensure_loaded(start, end)
        for targets, reading_types in _requests(groups):
            if self.stop.is_set():
                break
            try:
                windows = self._client.fetch_each(targets, reading_types, start, end)
                for window in windows:
                    if isinstance(window, FailedWindow):
                        request = window.request
                        self._failed(stats, window.error, request.start, request.end, request.targets, source)
                        continue
                    stats.add(self._shard.publish(window, source=source))
                    if self.stop.is_set():
                        windows.close()  # cancels requests not yet answered
                        break
            except (NetstreamUnavailable, ParseError) as exc:
                self._failed(stats, exc, start, end, targets, source)
        return stats

    def _failed(
        self,
        stats: CycleStats,
        exc: NetstreamUnavailable | ParseError,
        start: datetime,
        end: datetime,
        targets: Sequence[Target],
        source: Source,
    ) -> None:
        stats.failed_windows += 1
        log.warning(
            "window_failed",
            start=start.isoformat(),
            end=end.isoformat(),
            targets=len(targets),
            error=exc.message,
        )
        if isinstance(exc, ParseError):  # unreadable even after retries: keep the body and reason
            rejected = Rejected(exc.message, exc.fragment)
            stats.add(self._shard.publish_dead_letter(rejected, start, end, source=source))

    def cycle(self, plan_name: str, groups: Sequence[Group], lookback: timedelta) -> CycleStats:
        """One scheduled cycle: ``[now - lookback, now)`` with the start floored to the hour."""
        started = time.monotonic()
        now = self._clock()
        start = (now - lookback).replace(minute=0, second=0, microsecond=0)
        stats = self._publish_range(groups, start, now, Source.SCHEDULED)
        if not self.stop.is_set() and stats.new + stats.revised + stats.dlq == 0:
            self._shard.confirm_ownership()  # nothing was committed: still check for a newer process
        self._shard.evict()
        log.info(
            "cycle_completed",
            plan=plan_name,
            start=start.isoformat(),
            end=now.isoformat(),
            duration=round(time.monotonic() - started, 3),
            **stats.fields(),
        )
        return stats

    def backfill(
        self,
        groups: Sequence[Group],
        start: datetime,
        end: datetime,
        window: timedelta,
        *,
        on_window: Callable[[int, int, CycleStats], None] | None = None,
    ) -> CycleStats:
        """Publish ``[start, end)`` window by window, resuming a job that stopped part-way."""
        started = time.monotonic()
        windows = plan_windows(start, end, window)
        job_id = backfill_job_id(groups, start, end, window)
        done = set(self._shard.read_progress(job_id))
        log.info("backfill_started", job=job_id, windows_total=len(windows), already_done=len(done))
        total = CycleStats()
        for index, (window_start, window_end) in enumerate(windows):
            if self.stop.is_set():
                log.info("backfill_interrupted", job=job_id, windows_done=len(done))
                break
            if index in done:
                continue
            stats = self._publish_range(groups, window_start, window_end, Source.BACKFILL)
            if stats.failed_windows == 0 and not self.stop.is_set():
                done.add(index)
                self._shard.commit_progress(Progress(job_id, frozenset(done)))
            total.add(stats)
            self._shard.evict(keep_from=window_end)
            if on_window is not None:
                on_window(len(done), len(windows), total)
        log.info(
            "backfill_completed",
            job=job_id,
            windows_done=len(done),
            windows_total=len(windows),
            duration=round(time.monotonic() - started, 3),
            **total.fields(),
        )
        return total
