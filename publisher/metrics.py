"""Prometheus metrics of the publisher and the observers that feed them.

:class:`Metrics` implements the hooks of both sides without either side knowing Prometheus: the Netstream
client's :class:`~publisher.netstream.client.ClientObserver` (one call per HTTP attempt, retry and
rate-limit wait) and the pipeline's :class:`~publisher.pipeline.shard.PipelineObserver` (one call per
committed or aborted transaction, and one per committed window for freshness and completeness). The
service calls :meth:`Metrics.cycle_completed` after each poll cycle and :meth:`Metrics.state_restored`
after the restore. Every metric lives in the :class:`~prometheus_client.CollectorRegistry` passed in (never
the process-global one) and every name starts with ``netstream_publisher_``; docs/operations.md lists them.

Freshness and completeness come from :class:`Coverage`: O(1) work per reading and no object kept per
reading.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from publisher.config import Settings
from publisher.errors import ParseError
from publisher.netstream.client import FetchedWindow
from publisher.netstream.localtime import expected_interval_count, local_date, local_midnight
from publisher.netstream.model import ReadingKind, TargetKind
from publisher.netstream.readingtype import parse_reading_type
from publisher.pipeline.publishing import CycleStats

PREFIX = "netstream_publisher_"

#: one Netstream HTTP attempt: fast answers to the read timeout's order of magnitude
API_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
#: one poll cycle: seconds for a handful of usage points to most of an hour for a large shard
CYCLE_SECONDS_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)

_ONE_DAY = timedelta(days=1)
#: accumulations of register (dial) readings, whose series have no intervals to count
_REGISTER_ACCUMULATIONS = frozenset({1, 3})  # bulkQuantity, cumulative


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


@functools.lru_cache(maxsize=4096)
def is_interval_type(code: str) -> bool:
    """True for reading types whose series have a known number of intervals per local day.

    Fixed-length intervals (5/15/30/60 minutes ...) and calendar-day values, except register
    accumulations (bulkQuantity, cumulative): a daily register reading is a dial, not an interval.
    """
    try:
        reading_type = parse_reading_type(code)
    except ParseError:
        return False
    if reading_type.accumulation in _REGISTER_ACCUMULATIONS:
        return False
    return reading_type.interval is not None or reading_type.calendar_period == "day"


# ------------------------------------------------------------------------------------------------ coverage


#: earlier than any reading's end
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class _Day:
    """The last complete local day of one zone, as a half-open UTC range."""

    day: date
    start: datetime
    end: datetime


_SeriesType = tuple[str, str]  # (reading type code, zone key)


@dataclass
class _Known:
    """Interval series a plan has polled: hashes for distinctness, counts per (reading type, zone)."""

    keys: set[int] = field(default_factory=set)
    per_type: dict[_SeriesType, int] = field(default_factory=dict)
    #: how far back the plan's last observed cycle reached (its lookback, as seen)
    reach: timedelta | None = None

    def merge(self, seen: Mapping[_SeriesType, set[int]]) -> None:
        for series_type, keys in seen.items():
            new = keys - self.keys
            if new:
                self.keys |= new
                self.per_type[series_type] = self.per_type.get(series_type, 0) + len(new)


@dataclass
class _Tally:
    """What one cycle saw: its span, the series it polled and the intervals of the last complete day."""

    now: datetime
    first: datetime | None = None
    last: datetime | None = None
    received: int = 0
    series: dict[_SeriesType, set[int]] = field(default_factory=dict)
    days: dict[str, _Day] = field(default_factory=dict)

    def day(self, zone: ZoneInfo) -> _Day:
        found = self.days.get(zone.key)
        if found is None:
            day = local_date(self.now, zone) - _ONE_DAY
            found = _Day(day, local_midnight(day, zone), local_midnight(day + _ONE_DAY, zone))
            self.days[zone.key] = found
        return found

    def polled(self, usage_point: str, code: str, zone: ZoneInfo) -> None:
        self.series.setdefault((code, zone.key), set()).add(hash((usage_point, code)))

    def span(self, start: datetime, end: datetime) -> None:
        self.first = start if self.first is None else min(self.first, start)
        self.last = end if self.last is None else max(self.last, end)

    def covers(self, day: _Day) -> bool:
        return (
            self.first is not None
            and self.last is not None
            and self.first <= day.start < day.end <= self.last
        )


class Coverage:
    """Freshness and completeness of the data a shard sees, kept cheaply.

    **Freshness**: the newest ``end`` (interval end, or register reading time) of any reading with a value
    in a committed window. **Completeness** of a cycle, for each series' last complete local day ``D`` (the
    day before the cycle's first window, in the series' zone)::

        received = interval readings with a value whose start lies in D, over this cycle's windows
        expected = sum over the plan's interval series of expected_interval_count(D, reading type, zone)
        ratio    = min(1, received / expected)

    The plan's series are every (usage point, interval reading type) it has polled since start: usage
    point targets times the requested reading types, plus every series group and meter targets returned.
    So a window that fails, or a series that stops answering, lowers the ratio. A cycle whose windows do
    not span all of D (a short lookback) yields no ratio. Memory: one hash per series and plan; nothing
    per reading.
    """

    def __init__(self, clock: Callable[[], datetime] = utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._newest: float | None = None
        self._tally: _Tally | None = None
        self._plans: dict[str, _Known] = {}

    @property
    def newest_end(self) -> float | None:
        """POSIX time of the newest reading end seen with a value; None before the first."""
        return self._newest

    def freshness(self) -> float:
        """Seconds from the newest reading end seen to now (NaN before the first reading)."""
        newest = self._newest
        return math.nan if newest is None else self._clock().timestamp() - newest

    def observe(self, window: FetchedWindow, zone_of: Callable[[str], ZoneInfo]) -> None:
        """Account one committed window: O(1) per reading, a few look-ups per series."""
        with self._lock:
            tally = self._tally
            if tally is None:
                tally = self._tally = _Tally(self._clock())
            request = window.request
            tally.span(request.start, request.end)
            for target in request.targets:
                if target.kind is TargetKind.USAGE_POINT:
                    zone = zone_of(target.mrid)
                    for code in request.reading_types:
                        if is_interval_type(code):
                            tally.polled(target.mrid, code, zone)
            newest = _NEVER  # the newest end with a value in this window
            last_up: str | None = None
            last_code: str | None = None
            counting = False
            day = _Day(date.min, datetime.min.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC))
            for reading in window.parsed.readings:
                up, code = reading.usage_point, reading.reading_type
                if up != last_up or code != last_code:  # readings arrive grouped by series
                    last_up, last_code = up, code
                    counting = reading.kind is ReadingKind.INTERVAL and is_interval_type(code)
                    if counting:
                        zone = zone_of(up)
                        tally.polled(up, code, zone)
                        day = tally.day(zone)
                if reading.value is None:
                    continue
                end = reading.end
                if end > newest:  # noqa: PLR1730 - cheaper than a max() call per reading; converted once below
                    newest = end
                start = reading.start
                if counting and start is not None and day.start <= start < day.end:
                    tally.received += 1
            if newest is not _NEVER:
                stamp = newest.timestamp()
                self._newest = stamp if self._newest is None else max(self._newest, stamp)

    def close_cycle(self, plan: str) -> float | None:
        """End the current cycle of ``plan``; its completeness ratio, or None when it cannot tell."""
        with self._lock:
            tally, self._tally = self._tally, None
            known = self._plans.setdefault(plan, _Known())
            if tally is None:  # no window committed: nothing arrived over the plan's usual reach
                if known.reach is None:
                    return None
                now = self._clock()
                tally = _Tally(now, first=now - known.reach, last=now)
            elif tally.first is not None:
                known.reach = tally.now - tally.first
            known.merge(tally.series)
            expected = 0
            for (code, zone_key), series in known.per_type.items():
                zone = ZoneInfo(zone_key)
                day = tally.day(zone)
                if not tally.covers(day):
                    return None
                expected += series * expected_interval_count(day.day, parse_reading_type(code), zone)
            if expected == 0:
                return None
            return min(1.0, tally.received / expected)


# ------------------------------------------------------------------------------------------------ metrics


class Metrics:
    """Every metric of one publisher process, registered in ``registry``; the observer of both sides.

    Thread-safe: the client reports from its fetch threads, the pipeline from the cycle's thread, and the
    HTTP server reads the registry from its own.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        shard: int = 0,
        dlq_topic: str,
        topics: Iterable[str] = (),
        plans: Iterable[str] = (),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.registry = registry
        self._shard = str(shard)
        self._clock = clock
        self._dlq_topic = dlq_topic
        self.coverage = Coverage(clock)
        self._freshness_exposed = False

        def counter(name: str, doc: str, labels: Iterable[str] = ()) -> Counter:
            return Counter(PREFIX + name, doc, labelnames=tuple(labels), registry=registry)

        def gauge(name: str, doc: str, labels: Iterable[str] = ()) -> Gauge:
            return Gauge(PREFIX + name, doc, labelnames=tuple(labels), registry=registry)

        # events
        self.events_published = counter(
            "events_published", "MeterReading events committed to Kafka (new and revised)", ["topic"]
        )
        self.events_suppressed = counter(
            "events_suppressed", "readings identical to what was already published, so not published again"
        )
        self.events_revised = counter(
            "events_revised", "revision events committed (a published value or quality changed)", ["topic"]
        )
        self.events_dead_lettered = counter(
            "events_dead_lettered", "records committed to the dead-letter topic", ["topic"]
        )
        # Netstream API
        self.api_requests = counter(
            "api_requests", "Netstream HTTP attempts by status ('error': no response)", ["status"]
        )
        self.api_request_seconds = Histogram(
            PREFIX + "api_request_seconds",
            "duration of one Netstream HTTP attempt",
            buckets=API_SECONDS_BUCKETS,
            registry=registry,
        )
        self.api_retries = counter("api_retries", "Netstream attempts retried, by reason", ["reason"])
        self.api_rate_limit_wait = counter(
            "api_rate_limit_wait_seconds", "seconds requests waited for the client-side rate limiter"
        )
        # Kafka transactions
        self.transactions = counter("transactions", "Kafka transactions by outcome", ["outcome"])
        # state
        self.state_restore_seconds = gauge("state_restore_seconds", "duration of the last state restore")
        self.state_series = gauge("state_series", "series (usage point, reading type) held in memory")
        self.state_days = gauge("state_days", "(series, local day) state blocks held in memory")
        # data
        self.data_freshness = gauge(
            "data_freshness_seconds", "now minus the newest reading end seen with a value", ["shard"]
        )
        self.data_completeness = gauge(
            "data_completeness_ratio",
            "intervals received with a value / intervals expected, over the last complete local day",
            ["shard"],
        )
        # cycles
        self.cycles = counter("cycles", "poll cycles by plan and outcome", ["plan", "outcome"])
        self.cycle_seconds = Histogram(
            PREFIX + "cycle_duration_seconds",
            "duration of one poll cycle",
            ["plan"],
            buckets=CYCLE_SECONDS_BUCKETS,
            registry=registry,
        )
        self.last_cycle_success = gauge(
            "last_cycle_success_timestamp_seconds", "POSIX time the plan's last cycle succeeded", ["plan"]
        )
        # process: memory, CPU, open files and start time (Linux), named netstream_publisher_process_*
        ProcessCollector(namespace=PREFIX.rstrip("_"), registry=registry)
        self._initialise(topics, plans)

    def _initialise(self, topics: Iterable[str], plans: Iterable[str]) -> None:
        """Create the label sets known up front, so rates and alerts see zeros instead of nothing."""
        for topic in topics:
            self.events_published.labels(topic=topic)
            self.events_revised.labels(topic=topic)
        self.events_dead_lettered.labels(topic=self._dlq_topic)
        for outcome in ("committed", "aborted"):
            self.transactions.labels(outcome=outcome)
        for plan in plans:
            for outcome in ("succeeded", "failed"):
                self.cycles.labels(plan=plan, outcome=outcome)
            self.cycle_seconds.labels(plan=plan)

    # ------------------------------------------------------------------ ClientObserver

    def request_completed(self, status: int | None, seconds: float) -> None:
        """One HTTP attempt ended; ``status`` is None when no response arrived."""
        self.api_requests.labels(status="error" if status is None else str(status)).inc()
        self.api_request_seconds.observe(seconds)

    def request_retried(self, reason: str, wait: float) -> None:
        """An attempt failed transiently and is retried after ``wait`` seconds."""
        del wait
        self.api_retries.labels(reason=reason).inc()

    def rate_limited(self, wait: float) -> None:
        """The client-side rate limiter held a request back for ``wait`` seconds."""
        self.api_rate_limit_wait.inc(wait)

    # ------------------------------------------------------------------ PipelineObserver

    def transaction_committed(self, stats: CycleStats) -> None:
        """A window's transaction committed: count what it published."""
        self.transactions.labels(outcome="committed").inc()
        for topic, count in stats.per_topic.items():
            self.events_published.labels(topic=topic).inc(count)
        for topic, count in revisions_by_topic(stats).items():
            self.events_revised.labels(topic=topic).inc(count)
        if stats.suppressed:
            self.events_suppressed.inc(stats.suppressed)
        if stats.dlq:
            self.events_dead_lettered.labels(topic=self._dlq_topic).inc(stats.dlq)

    def transaction_aborted(self) -> None:
        """A transaction was aborted (its window is redone or the error propagates)."""
        self.transactions.labels(outcome="aborted").inc()

    def window_published(self, window: FetchedWindow, zone_of: Callable[[str], ZoneInfo]) -> None:
        """A window's transaction committed: account its readings for freshness and completeness."""
        self.coverage.observe(window, zone_of)
        if not self._freshness_exposed and self.coverage.newest_end is not None:
            self.data_freshness.labels(shard=self._shard).set_function(self.coverage.freshness)
            self._freshness_exposed = True

    # ------------------------------------------------------------------ service

    def cycle_completed(self, plan: str, stats: CycleStats, seconds: float, ok: bool) -> None:
        """A poll cycle of ``plan`` ended (``ok``: no failed window and no error)."""
        del stats  # its counts were taken per committed window
        self.cycles.labels(plan=plan, outcome="succeeded" if ok else "failed").inc()
        self.cycle_seconds.labels(plan=plan).observe(seconds)
        if ok:
            self.last_cycle_success.labels(plan=plan).set(self._clock().timestamp())
        ratio = self.coverage.close_cycle(plan)
        if ratio is not None:
            self.data_completeness.labels(shard=self._shard).set(ratio)

    def state_restored(self, seconds: float, series: int, days: int) -> None:
        """The state horizon was restored from the state topic."""
        self.state_restore_seconds.set(seconds)
        self.state_size(series, days)

    def state_size(self, series: int, days: int) -> None:
        """The state held in memory now (after a cycle's eviction, say)."""
        self.state_series.set(series)
        self.state_days.set(days)


def build_metrics(
    settings: Settings, registry: CollectorRegistry, *, clock: Callable[[], datetime] = utc_now
) -> Metrics:
    """The metrics of this shard, with the configured topics and plans created up front."""
    return Metrics(
        registry,
        shard=settings.publisher_shard_index,
        dlq_topic=settings.publisher_dlq_topic,
        topics=sorted({settings.publisher_topic, *settings.publisher_topics.values()}),
        plans=[plan.name for plan in settings.publisher_plans],
        clock=clock,
    )


def revisions_by_topic(stats: CycleStats) -> Mapping[str, int]:
    """Revision events per topic of a committed window."""
    return stats.revised_per_topic
