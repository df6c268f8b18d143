"""Read published events back by publication time, and write them to another topic (``replay``).

:class:`TopicReplay` selects records by their Kafka timestamp, which for the readings topic is the time
the publisher produced them (``CreateTime``; the broker's append time on a topic set to
``LogAppendTime``). For each partition it captures the end at the start of the replay (the last stable
offset: a ``read_committed`` consumer's watermark query), finds the first offset at or after ``--from``
and, with ``--to``, the first at or after ``--to`` with ``offsets_for_times``, and reads that offset range
with ``isolation.level=read_committed``. A partition is finished at the first record at or past its stop
offset or at a partition EOF at or past it, so a live topic never makes a replay run forever. Values are
decoded with :class:`~publisher.kafka.avro.ReadingDecoder` (both wire formats); a value that cannot be
decoded is yielded as :class:`Undecodable`, never dropped.

:class:`Republisher` writes replayed events to another topic through a
:class:`~publisher.kafka.producer.TransactionalProducer`, one transaction per batch.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from publisher.errors import ConfigError, KafkaFatalError, ParseError, RetryableError, TransactionAbortable
from publisher.kafka.avro import AvroSchema, ReadingDecoder, ValueCodec, schema_from_json
from publisher.kafka.producer import TransactionalProducer
from publisher.logsetup import librdkafka_logger

if TYPE_CHECKING:
    from confluent_kafka.schema_registry import SchemaRegistryClient

log = structlog.get_logger(__name__)

_NOT_FOUND = -1  # offsets_for_times: no record at or after the time
_EOF = KafkaError._PARTITION_EOF  # noqa: SLF001 - librdkafka's local error codes are underscore-named
_TOPIC_GONE = {KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC, KafkaError._UNKNOWN_PARTITION}  # noqa: SLF001 - as above
_DENIED = {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED}
_BATCH_ATTEMPTS = 3

Headers = tuple[tuple[str, bytes], ...]


def released_event_schemas() -> list[AvroSchema]:
    """Every released version of the MeterReading schema (``schemas/released/meter_reading.N.avsc``)."""
    folder = resources.files("publisher") / "schemas" / "released"
    names = sorted(
        entry.name for entry in folder.iterdir() if re.fullmatch(r"meter_reading\.\d+\.avsc", entry.name)
    )
    return [
        schema_from_json((folder / name).read_text(encoding="utf-8"), origin=f"schemas/released/{name}")
        for name in names
    ]


def event_decoder(registry: SchemaRegistryClient | None = None) -> ReadingDecoder:
    """A decoder of events written with the current or any released schema, in either wire format."""
    return ReadingDecoder(writers=released_event_schemas(), registry=registry)


@dataclass(frozen=True, slots=True)
class OffsetRange:
    """The offsets ``[start, stop)`` of one partition that a replay reads."""

    partition: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        """Offsets in the range (an upper bound of its records: transaction markers take offsets too)."""
        return self.stop - self.start


def plan_range(partition: int, end: int, first: int, stop: int) -> OffsetRange | None:
    """The range of one partition, or None when it holds nothing to replay.

    ``end`` is the captured end (exclusive), ``first`` the offset found for ``--from`` and ``stop`` the one
    found for ``--to``; either lookup is ``-1`` when no record is at or after that time.
    """
    if first == _NOT_FOUND:
        return None
    last = end if stop == _NOT_FOUND else min(stop, end)
    if first >= last:
        return None
    return OffsetRange(partition, first, last)


@dataclass(frozen=True, slots=True)
class Replayed:
    """A decoded event that passed the filter, with the record it came from."""

    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    headers: Headers
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A record in the range whose value is not a MeterReading this publisher can read."""

    partition: int
    offset: int
    reason: str

    def describe(self, topic: str) -> str:
        """One line naming the record and the problem."""
        reason = " ".join(self.reason.split())
        return f"undecodable: {topic} partition {self.partition} offset {self.offset}: {reason}"


@dataclass
class ReplayCounts:
    """What a replay read: every record in range, those that matched the filter, those it could not decode."""

    read: int = 0
    matched: int = 0
    undecodable: int = 0


def _headers(message: Message) -> Headers:
    raw = message.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    out: list[tuple[str, bytes]] = []
    for name, value in pairs:
        # a header without a value is kept as an empty one; the publisher never writes either kind
        out.append((name, value.encode() if isinstance(value, str) else value or b""))
    return tuple(out)


class TopicReplay:
    """One pass over the committed records of ``topic`` published in a time range (a context manager)."""

    def __init__(
        self,
        base_config: Mapping[str, Any],
        topic: str,
        decoder: ReadingDecoder,
        *,
        usage_points: Collection[str] = (),
        timeout: float = 30.0,
        idle_timeout: float = 120.0,
    ) -> None:
        self.topic = topic
        self.counts = ReplayCounts()
        self._decoder = decoder
        self._usage_points = frozenset(usage_points)
        self._timeout = timeout
        self._idle_timeout = idle_timeout
        config = {
            **base_config,
            "group.id": f"netstream-publisher-replay-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "logger": librdkafka_logger(),
        }
        try:
            self._consumer = Consumer(config)
        except KafkaException as exc:
            raise ConfigError(
                f"the Kafka consumer settings are invalid ({_problem(exc)}); check the KAFKA_* settings"
            ) from exc

    def __enter__(self) -> TopicReplay:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the consumer (it commits nothing: a replay leaves no consumer group offsets)."""
        self._consumer.close()

    def partitions(self) -> list[int]:
        """The partitions of the topic; ConfigError when the topic does not exist."""
        try:
            metadata = self._consumer.list_topics(self.topic, timeout=self._timeout)
        except KafkaException as exc:
            raise RetryableError(f"Kafka did not answer a metadata request: {_problem(exc)}") from exc
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None or not topic.partitions:
            raise ConfigError(
                f"topic {self.topic} does not exist; set PUBLISHER_TOPIC to the readings topic to replay"
            )
        return sorted(topic.partitions)

    def plan(
        self, start: datetime, end: datetime | None, partitions: Sequence[int] | None = None
    ) -> list[OffsetRange]:
        """Capture each partition's end now, then find the offsets of ``start`` and ``end`` in it."""
        partitions = self.partitions() if partitions is None else partitions
        ends = {p: self._end_offset(p) for p in partitions}
        firsts = self._offsets_at(partitions, start)
        stops = (
            self._offsets_at(partitions, end) if end is not None else dict.fromkeys(partitions, _NOT_FOUND)
        )
        ranges = [plan_range(p, ends[p], firsts[p], stops[p]) for p in partitions]
        planned = [r for r in ranges if r is not None]
        log.info(
            "replay_planned",
            topic=self.topic,
            partitions=len(partitions),
            partitions_in_range=len(planned),
            offsets=sum(r.size for r in planned),
        )
        return planned

    def _end_offset(self, partition: int) -> int:
        try:
            _low, high = self._consumer.get_watermark_offsets(
                TopicPartition(self.topic, partition), timeout=self._timeout, cached=False
            )
        except KafkaException as exc:
            raise RetryableError(
                f"could not read the end offset of {self.topic} partition {partition}: {_problem(exc)}"
            ) from exc
        return int(high)

    def _offsets_at(self, partitions: Sequence[int], moment: datetime) -> dict[int, int]:
        millis = int(moment.timestamp() * 1000)
        wanted = [TopicPartition(self.topic, p, millis) for p in partitions]
        try:
            found = self._consumer.offsets_for_times(wanted, timeout=self._timeout)
        except KafkaException as exc:
            raise RetryableError(
                f"could not look up offsets by time in {self.topic}: {_problem(exc)}"
            ) from exc
        out: dict[int, int] = {}
        for tp in found:
            if tp.error is not None:
                raise RetryableError(
                    f"could not look up offsets by time in {self.topic} partition {tp.partition}: {tp.error}"
                )
            out[int(tp.partition)] = int(tp.offset) if tp.offset >= 0 else _NOT_FOUND
        return out

    def records(self, ranges: Iterable[OffsetRange]) -> Iterator[Replayed | Undecodable]:
        """Matching events and undecodable records of ``ranges``, in offset order within each partition."""
        ranges = list(ranges)
        stops = {r.partition: r.stop for r in ranges}
        if not stops:
            return
        self._consumer.assign([TopicPartition(self.topic, r.partition, r.start) for r in ranges])
        open_partitions = set(stops)
        quiet_since = time.monotonic()
        while open_partitions:
            messages = self._consume()
            if messages:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > self._idle_timeout:
                raise RetryableError(
                    f"replay of {self.topic} received nothing for {self._idle_timeout:.0f}s with "
                    f"{len(open_partitions)} partition(s) unfinished; check Kafka and run the replay again"
                )
            for message in messages:
                partition, offset = _position(message)
                if partition not in open_partitions:
                    continue
                if offset >= stops[partition]:  # a record or an EOF at or past the stop ends the partition
                    open_partitions.discard(partition)
                    self._consumer.pause([TopicPartition(self.topic, partition)])
                    continue
                if message.error() is not None:
                    continue  # an EOF before the stop: the rest of the range is still being fetched
                item = self._decode(message, partition, offset)
                if item is not None:
                    yield item

    def _consume(self) -> list[Message]:
        try:
            messages = self._consumer.consume(num_messages=500, timeout=0.5)
        except KafkaException as exc:
            raise KafkaFatalError(f"reading {self.topic} failed: {_problem(exc)}") from exc
        for message in messages:
            error = message.error()
            if error is None or _is_eof(message):
                continue
            if error.fatal() or error.code() in _TOPIC_GONE | _DENIED:
                raise KafkaFatalError(
                    f"reading {self.topic} failed: {error.str()}; check the topic and the consumer's ACLs"
                )
            log.warning("replay_consumer_error", topic=self.topic, error=error.str())
        return [m for m in messages if m.error() is None or _is_eof(m)]

    def _decode(self, message: Message, partition: int, offset: int) -> Replayed | Undecodable | None:
        self.counts.read += 1
        value = message.value()
        try:
            if value is None:
                raise ParseError("the record has no value (a tombstone)")  # noqa: TRY301 - one path for both
            event = self._decoder.decode(value)
        except ParseError as exc:
            self.counts.undecodable += 1
            return Undecodable(partition, offset, exc.message)
        if self._usage_points and event.get("usage_point_mrid") not in self._usage_points:
            return None
        self.counts.matched += 1
        return Replayed(
            partition, offset, int(message.timestamp()[1]), message.key(), _headers(message), event
        )


def _problem(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else exc
    return error.str() if isinstance(error, KafkaError) else str(error)


def _position(message: Message) -> tuple[int, int]:
    partition, offset = message.partition(), message.offset()
    assert partition is not None  # consumed records and EOF events carry both
    assert offset is not None
    return partition, offset


def _is_eof(message: Message) -> bool:
    error = message.error()
    return error is not None and error.code() == _EOF


def merge_headers(original: Headers, codec_headers: Sequence[tuple[str, bytes]]) -> Headers:
    """The original headers in order, with those the codec writes set to describe the re-encoded value."""
    ours = dict(codec_headers)
    merged = [(name, ours.get(name, value)) for name, value in original]
    present = {name for name, _ in original}
    merged.extend((name, value) for name, value in codec_headers if name not in present)
    return tuple(merged)


class Republisher:
    """Writes replayed events to ``topic``: same key, same headers, ``source`` REPLAY, same ``event_id``.

    Events are encoded as they are added and produced in one transaction per ``batch_size`` records; a
    batch whose transaction must be aborted is produced again, up to three times. ``start`` runs
    ``init_transactions``, which fences any earlier replay into the same topic.
    """

    def __init__(
        self, producer: TransactionalProducer, codec: ValueCodec, topic: str, *, batch_size: int = 1000
    ) -> None:
        self.topic = topic
        self.written = 0
        self._producer = producer
        self._codec = codec
        self._batch_size = batch_size
        self._batch: list[tuple[bytes | None, bytes, Headers]] = []

    def start(self) -> None:
        """Fence older producers of this replay target."""
        self._producer.init()

    def add(self, item: Replayed) -> None:
        """Encode one event for the target; ParseError if it no longer fits the schema."""
        value = self._codec.encode({**item.event, "source": "REPLAY"})
        self._batch.append((item.key, value, merge_headers(item.headers, self._codec.headers())))
        if len(self._batch) >= self._batch_size:
            self.flush()

    def flush(self) -> None:
        """Produce and commit the pending batch."""
        if not self._batch:
            return
        for attempt in range(1, _BATCH_ATTEMPTS + 1):
            try:
                self._producer.begin()
                for key, value, headers in self._batch:
                    self._producer.produce(self.topic, value, key=key, headers=headers)
                self._producer.commit()
            except TransactionAbortable as exc:
                self._producer.abort()
                if attempt == _BATCH_ATTEMPTS:
                    raise
                log.warning("replay_batch_retried", topic=self.topic, attempt=attempt, error=exc.message)
                continue
            break
        self.written += len(self._batch)
        log.debug("replay_batch_committed", topic=self.topic, records=len(self._batch), written=self.written)
        self._batch.clear()

    def finish(self) -> None:
        """Commit what is still pending; call once after the last :meth:`add`."""
        self.flush()

    def close(self) -> None:
        """Abort anything uncommitted and release the producer."""
        self._producer.close()
