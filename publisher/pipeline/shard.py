"""One shard's publishing engine: dedup, encode and produce a fetched window in one Kafka transaction.

For each window the Netstream client returns, :meth:`ShardPublisher.publish` opens a transaction and
writes, together:

- a MeterReading event for every reading that is new or revised (identical ones are suppressed);
- a DeadLetter record for every fragment the parser rejected and every reading that cannot be encoded;
- the state records of every (series, week) block the window changed.

Then it commits. If Kafka says the transaction must be aborted, the store rolls back to the last committed
state and the same window is decided and produced again; nothing counts as done until it is committed. A
window is tried at least three times, and for as long as ``retry_for`` (``PUBLISHER_BROKER_OUTAGE_MAX``):
while the broker is unreachable every attempt ends when its records time out (``transaction.timeout.ms``),
and giving up after three of them would fail the cycle and leave the backlog to the next one.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from publisher.errors import ParseError, TransactionAbortable
from publisher.kafka.avro import ValueCodec
from publisher.kafka.murmur2 import partition_for
from publisher.kafka.state_blocks import BLOCK_DAYS, block_start, parse_state_key
from publisher.kafka.state_codec import decode_progress, encode_progress, progress_key
from publisher.kafka.statelog import read_to_end
from publisher.netstream.client import FetchedWindow
from publisher.netstream.localtime import local_date
from publisher.netstream.model import (
    END,
    QUALITY,
    QUALITY_CODES,
    REPORTED_AT,
    START,
    VALUE,
    Reading,
    TargetKind,
)
from publisher.netstream.parser import Rejected
from publisher.netstream.readingtype import ReadingType, parse_reading_type
from publisher.pipeline.events import (
    CANONICAL_FIELDS,
    VARYING_FIELDS,
    Revision,
    Source,
    event_ids,
    message_key,
    meter_reading,
    series_fields,
)
from publisher.pipeline.events_dlq import dead_letter, reading_fragment
from publisher.pipeline.publishing import (
    CycleStats,
    PipelineObserver,
    Progress,
    ShardProducer,
    Topics,
    no_observer,
)
from publisher.pipeline.series_store import Decision, Outcome, SeriesStore

log = structlog.get_logger(__name__)

_ABORT_RETRIES = 3
#: seconds between two attempts at a window once the first three have failed
_RETRY_PAUSE = 1.0
#: default of ``retry_for``: ``PUBLISHER_BROKER_OUTAGE_MAX``'s default
DEFAULT_RETRY_FOR = 600.0
_FIRST_PUBLICATION = Revision(0)  # immutable: one instance for every new reading

#: key of the tombstone that :meth:`ShardPublisher.confirm_ownership` commits to the state topic
OWNERSHIP_KEY = b"ownership-check"


class _Series:
    """What the readings of one series in one window share: looked up once, not per reading.

    A plain class rather than a frozen dataclass: one is built per series and window, and a compiled frozen
    dataclass is initialised through the dataclass machinery's generated (interpreted) ``__init__``."""

    def __init__(
        self,
        *,
        usage_point: str,
        reading_type: str,
        registry_meter: str | None,
        rt: ReadingType,
        interval: timedelta | None,
        zone: ZoneInfo,
        topic: str,
    ) -> None:
        self.usage_point = usage_point
        self.reading_type = reading_type
        self.registry_meter = registry_meter  #: the registry's meter, when the response names none
        self.rt = rt
        self.interval = interval
        self.zone = zone
        self.topic = topic


class ShardPublisher:
    """Dedup and publish fetched windows for one shard, exactly once."""

    def __init__(
        self,
        *,
        producer: ShardProducer,
        events: ValueCodec,
        dead_letters: ValueCodec,
        store: SeriesStore,
        topics: Topics,
        owned_partitions: Sequence[int],
        kafka_config: Mapping[str, Any],
        default_zone: ZoneInfo,
        zone_for: Callable[[str], ZoneInfo | None] = lambda _up: None,
        meter_for: Callable[[str], str | None] = lambda _up: None,
        clock: Callable[[], datetime],
        observer: PipelineObserver | None = None,
        retry_for: float = DEFAULT_RETRY_FOR,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._retry_for = retry_for
        self._monotonic = monotonic
        self._sleep = sleep
        self._producer = producer
        self._events = events
        self._dead_letters = dead_letters
        self._store = store
        self._topics = topics
        self._owned = list(owned_partitions)
        self._kafka_config = dict(kafka_config)
        self._default_zone = default_zone
        self._zone_for = zone_for
        self._meter_for = meter_for
        self._clock = clock
        self._observer: PipelineObserver = observer or no_observer
        self._event_headers = events.headers()
        self._dlq_headers = dead_letters.headers()
        self._owner: dict[str, str] = {}
        self._senders: dict[str, Callable[[bytes, bytes | None], None]] = {}  # one per event topic

    # ------------------------------------------------------------------ state

    def zone(self, usage_point: str) -> ZoneInfo:
        """The usage point's zone: its registry entry's, else the configured default."""
        return self._zone_for(usage_point) or self._default_zone

    def restore(self) -> int:
        """Load the recent horizon of this shard's state (call after ``init_transactions``)."""
        started = time.monotonic()
        first = block_start(
            self._store.horizon_start(local_date(self._clock(), self._default_zone)).toordinal()
        )
        count = self._load(lambda block: block >= first)
        self._store.mark_loaded(date.fromordinal(first))
        log.info(
            "state_restored",
            records=count,
            series=self._store.series_count(),
            days=self._store.day_count(),
            seconds=round(time.monotonic() - started, 3),
        )
        return count

    def ensure_loaded(self, start: datetime, end: datetime) -> None:
        """Load the state of every local day of ``[start, end)`` that the horizon does not hold."""
        first = local_date(start, self._default_zone) - timedelta(days=1)
        last = local_date(end, self._default_zone) + timedelta(days=1)
        missing = self._store.unloaded_days(first, last)
        if not missing:
            return
        blocks = {block_start(day.toordinal()) for day in missing}  # a load reads whole blocks
        count = self._load(lambda block: block in blocks)
        self._store.mark_loaded(first, last)
        for block in blocks:
            self._store.mark_loaded(date.fromordinal(block), date.fromordinal(block + BLOCK_DAYS - 1))
        log.info("state_window_loaded", first=first.isoformat(), last=last.isoformat(), records=count)

    def _load(self, wanted: Callable[[int], bool]) -> int:
        """Load the state records of the blocks (by the ordinal of their Monday) that ``wanted`` accepts.

        The cyclic garbage collector pauses meanwhile: a restore creates a list per series and no cycles,
        and collections triggered by those allocations would only scan the growing store again and again.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            return read_to_end(
                self._kafka_config, self._topics.state, self._owned, self._store.loader(wanted)
            )
        finally:
            if collecting:
                gc.enable()

    def evict(self, keep_from: datetime | None = None) -> int:
        """Drop state older than the horizon (bounded memory) — but keep the days from ``keep_from`` on, so a
        backfill walking forward through old windows does not reload days it still needs."""
        cutoff = self._store.horizon_start(local_date(self._clock(), self._default_zone))
        if keep_from is not None:
            cutoff = min(cutoff, local_date(keep_from, self._default_zone) - timedelta(days=1))
        return self._store.evict_before(cutoff)

    def read_progress(self, job_id: str) -> frozenset[int]:
        """The windows a backfill job has committed so far."""
        wanted = progress_key(job_id)
        found: list[bytes | None] = []

        def sink(key: bytes, value: bytes | None) -> None:
            if key == wanted:
                found.append(value)

        read_to_end(self._kafka_config, self._topics.state, [self._progress_partition()], sink)
        if not found or found[-1] is None:
            return frozenset()
        return frozenset(decode_progress(found[-1]).windows_done)

    def _progress_partition(self) -> int:
        return self._owned[0]

    # ------------------------------------------------------------------ publishing

    def commit_progress(self, progress: Progress) -> None:
        """Commit a backfill job's progress record in a transaction of its own."""
        self._producer.begin()
        try:
            self._producer.produce(
                self._topics.state,
                encode_progress(progress.job_id, sorted(progress.done)),
                key=progress_key(progress.job_id),
                partition=self._progress_partition(),
            )
            self._producer.commit()
        except BaseException:
            self._producer.abort()
            raise

    def confirm_ownership(self) -> None:
        """Prove that this process still owns the shard: commit one tombstone under :data:`OWNERSHIP_KEY`.

        A transaction without records never reaches the broker, so a cycle that had nothing to publish
        would never learn that a newer process of the same shard fenced this one. This transaction does:
        a fenced producer fails here (fatal), so the older process stops within one cycle even when idle.
        The record is a tombstone (compaction removes it) whose key no state reader recognises.
        """
        self._producer.begin()
        try:
            self._producer.produce(
                self._topics.state, None, key=OWNERSHIP_KEY, partition=self._progress_partition()
            )
            self._producer.commit()
        except BaseException:
            self._producer.abort()
            raise

    def publish_dead_letter(
        self, rejected: Rejected, start: datetime, end: datetime, *, source: Source
    ) -> CycleStats:
        """Dead-letter a response that could not be read at all, in a transaction of its own.

        Nothing else of the window is published or marked done, so the next cycle fetches it again."""
        stats = CycleStats()
        self._producer.begin()
        try:
            self._dead_letter(rejected, start, end, source, stats, self._clock())
            self._producer.commit()
        except BaseException:
            self._producer.abort()
            raise
        return stats

    def publish(self, window: FetchedWindow, *, source: Source) -> CycleStats:
        """Publish one fetched window in one transaction; retry it after an abortable failure (at least
        three attempts, and more while the first failure is less than ``retry_for`` seconds old)."""
        self._remember_owners(window)
        started = self._monotonic()
        attempt = 0
        while True:
            attempt += 1
            self._store.begin()
            self._producer.begin()
            try:
                stats = self._produce_window(window, source)
                self._producer.commit()
            except TransactionAbortable as exc:
                self._producer.abort()
                self._store.rollback()
                self._observer.transaction_aborted()
                log.warning("transaction_retried", attempt=attempt, error=exc.message)
                if attempt >= _ABORT_RETRIES:
                    if self._monotonic() - started >= self._retry_for:
                        raise
                    self._sleep(_RETRY_PAUSE)
                continue
            except BaseException:
                self._producer.abort()
                self._store.rollback()
                self._observer.transaction_aborted()
                raise
            self._store.commit()
            stats.aborted = attempt - 1
            self._observer.transaction_committed(stats)
            self._observer.window_published(window, self.zone)
            return stats

    def _remember_owners(self, window: FetchedWindow) -> None:
        """Map each usage point of the window to the target it was polled through (its state's home)."""
        targets = window.request.targets
        usage_points = {t.mrid for t in targets if t.kind is TargetKind.USAGE_POINT}
        only = targets[0].mrid if len(targets) == 1 else None
        for reading in window.parsed.readings:
            up = reading.usage_point
            if up in usage_points:
                self._owner[up] = up
            elif only is not None:
                self._owner.setdefault(up, only)
            else:
                self._owner.setdefault(up, up)

    def _produce_window(self, window: FetchedWindow, source: Source) -> CycleStats:
        stats = CycleStats(windows=1)
        polled_at = self._clock()
        request = window.request
        for rejected in window.parsed.rejected:
            self._dead_letter(rejected, request.start, request.end, source, stats, polled_at)
        readings = window.parsed.readings
        stats.fetched += len(readings)
        for run in _series_runs(readings):
            self._publish_run(run, source, polled_at, stats, request.start, request.end)
        self._write_state()
        return stats

    def _series_of(self, reading: Reading) -> _Series:
        """What every reading of the reading's series shares, looked up once per run (zones and routes
        afresh for every window)."""
        meter = reading.meter
        if meter is None:
            meter = self._meter_for(reading.usage_point)  # the registry's, when the response names none
        rt = parse_reading_type(reading.reading_type)
        zone = self.zone(reading.usage_point)
        return _Series(
            usage_point=reading.usage_point,
            reading_type=reading.reading_type,
            registry_meter=meter if reading.meter is None else None,
            rt=rt,
            interval=rt.interval,
            zone=zone,
            topic=self._topics.for_reading(reading),
        )

    def _publish_run(
        self,
        run: Sequence[Reading],
        source: Source,
        polled_at: datetime,
        stats: CycleStats,
        start: datetime,
        end: datetime,
    ) -> None:
        """Dedup, encode and produce the readings of one series (consecutive readings sharing usage point,
        reading type, meter and kind): the series' fields are encoded once, each reading adds its own."""
        series = self._series_of(run[0])
        first = run[0] if series.registry_meter is None else run[0]._replace(meter=series.registry_meter)
        fixed = series_fields(first, series.rt, polled_at=polled_at, source=source, timezone=series.zone.key)
        encode = self._events.bind(VARYING_FIELDS, fixed, canonical=CANONICAL_FIELDS)
        ids = event_ids(series.usage_point, series.reading_type)
        key = message_key(first)
        topic = series.topic
        send = self._senders.get(topic)
        if send is None:
            send = self._senders[topic] = self._producer.sender(topic, self._event_headers)
        new = revised = missing = suppressed = 0

        def emit(reading: Reading, decision: Decision) -> bool:
            nonlocal new, revised, missing, suppressed
            outcome = decision.outcome
            if outcome is Outcome.SUPPRESSED:
                suppressed += 1
                return False
            number = decision.revision
            value = None
            if encode is not None:
                begins, ends = reading[START], reading[END]
                value = encode(
                    ids(begins, ends, number),
                    begins,
                    ends,
                    reading[VALUE],
                    reading[QUALITY],
                    reading[QUALITY_CODES],
                    number,
                    decision.previous_value,
                    reading[REPORTED_AT],
                    decision.previous_flags,
                )
            if value is None:  # the fast path declined: the full record is written or rejected
                value = self._encode_record(reading, series, decision, polled_at, source, stats, start, end)
                if value is None:
                    return False
            send(value, key)
            if outcome is Outcome.NEW:
                new += 1
            else:
                revised += 1
            if reading[VALUE] is None:
                missing += 1
            return True

        self._store.publish_run(
            series.usage_point, series.reading_type, series.zone, series.interval, run, emit
        )
        stats.new += new
        stats.revised += revised
        stats.missing += missing
        stats.suppressed += suppressed
        if new or revised:
            stats.per_topic[topic] = stats.per_topic.get(topic, 0) + new + revised
        if revised:
            stats.revised_per_topic[topic] = stats.revised_per_topic.get(topic, 0) + revised

    def _encode_record(
        self,
        reading: Reading,
        series: _Series,
        decision: Decision,
        polled_at: datetime,
        source: Source,
        stats: CycleStats,
        start: datetime,
        end: datetime,
    ) -> bytes | None:
        """The event of one reading through the codec's full path; dead-lettered (``None``) if it cannot be
        encoded."""
        if series.registry_meter is not None:
            reading = reading._replace(meter=series.registry_meter)
        if decision.outcome is Outcome.NEW:
            revision = _FIRST_PUBLICATION
        else:
            revision = Revision(decision.revision, decision.previous_value, decision.previous_flags)
        record = meter_reading(
            reading, series.rt, revision, polled_at=polled_at, source=source, timezone=series.zone.key
        )
        try:
            return self._events.encode(record)
        except ParseError as exc:
            self._dead_letter(
                Rejected(exc.message, reading_fragment(reading), reading.usage_point, reading.reading_type),
                start,
                end,
                source,
                stats,
                polled_at,
                stage="ENCODE",
            )
            return None

    def _dead_letter(
        self,
        rejected: Rejected,
        start: datetime,
        end: datetime,
        source: Source,
        stats: CycleStats,
        occurred_at: datetime,
        *,
        stage: str = "PARSE",
    ) -> None:
        record = dead_letter(rejected, start, end, source=source, stage=stage, occurred_at=occurred_at)
        key = (rejected.usage_point or "").encode("utf-8") or None
        self._producer.produce(
            self._topics.dlq, self._dead_letters.encode(record), key=key, headers=self._dlq_headers
        )
        stats.dlq += 1

    def _write_state(self) -> None:
        for key, value in self._store.dirty_records():
            parsed = parse_state_key(key)
            assert parsed is not None
            owner = self._owner.get(parsed[0], parsed[0])
            self._producer.produce(
                self._topics.state,
                value,
                key=key,
                partition=partition_for(owner, self._topics.state_partitions),
            )


def _series_runs(readings: Sequence[Reading]) -> Iterator[Sequence[Reading]]:
    """The readings in runs of consecutive readings of one series (usage point, reading type, meter and
    kind); parsers emit a series' readings together, so a window has about one run per series."""
    begin = 0
    count = len(readings)
    while begin < count:
        first = readings[begin]
        up, code, meter, kind = first.usage_point, first.reading_type, first.meter, first.kind
        end = begin + 1
        while end < count:
            reading = readings[end]
            if (
                reading.usage_point != up
                or reading.reading_type != code
                or reading.meter != meter
                or reading.kind is not kind
            ):
                break
            end += 1
        yield readings[begin:end]
        begin = end
