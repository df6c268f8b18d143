"""``replay``: re-emit already published events from Kafka by publication time, for reprocessing.

Reads the readings topic (``PUBLISHER_TOPIC``) from ``--from`` to ``--to`` (or to its end when the replay
starts), committed records only, and either prints each event as one JSON line (``--output jsonl``) or
writes it to another topic with ``source`` REPLAY (``--to-topic NAME``). See docs/replay.md.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

import structlog
from confluent_kafka.admin import AdminClient
from tqdm import tqdm

from publisher.app import EVENT_SCHEMA, kafka_config
from publisher.commands.timeargs import parse_cli_time
from publisher.config import Settings
from publisher.errors import ConfigError, ParseError
from publisher.kafka.avro import ConfluentCodec, SingleObjectCodec, ValueCodec, load_schema, subject_for
from publisher.kafka.producer import TransactionalProducer
from publisher.kafka.replay import (
    OffsetRange,
    Replayed,
    Republisher,
    TopicReplay,
    Undecodable,
    event_decoder,
)
from publisher.kafka.topics import TopicSpec, ensure_topics

if TYPE_CHECKING:
    from confluent_kafka.schema_registry import SchemaRegistryClient

log = structlog.get_logger(__name__)

_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


def register(commands: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``replay`` to the command line."""
    parser = commands.add_parser(
        "replay",
        help="re-emit published events from Kafka by publication time (to a topic or as JSON lines)",
        description="Selects records of PUBLISHER_TOPIC by their Kafka timestamp, i.e. when they were "
        "published, not by the readings' own times. See docs/replay.md.",
    )
    add_common(parser)
    parser.add_argument(
        "--from",
        dest="start",
        required=True,
        metavar="T",
        help="first publication time, ISO 8601; no offset = Netstream local time",
    )
    parser.add_argument(
        "--to", dest="end", metavar="T", help="publication time to stop at (exclusive); default: the end now"
    )
    parser.add_argument(
        "--usage-point",
        action="append",
        default=[],
        metavar="ID",
        help="only events whose usage_point_mrid is ID (repeatable)",
    )
    parser.add_argument(
        "--to-topic", metavar="NAME", help="write the events to this topic with source REPLAY"
    )
    parser.add_argument(
        "--output", choices=["jsonl"], help="print the events to stdout, one JSON object a line"
    )
    parser.add_argument(
        "--commit-every",
        type=int,
        default=1000,
        metavar="N",
        help="with --to-topic: records per transaction (default 1000)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


# ------------------------------------------------------------------------------------------ request


@dataclass(frozen=True)
class ReplayRequest:
    """The validated flags of one replay."""

    start: datetime
    end: datetime | None
    usage_points: frozenset[str]
    to_topic: str | None
    commit_every: int


def parse_request(args: argparse.Namespace, settings: Settings) -> ReplayRequest:
    """Validate the flags; ConfigError with a one-line fix for anything wrong."""
    if (args.to_topic is None) == (args.output is None):
        raise ConfigError("give exactly one of --to-topic NAME or --output jsonl")
    start = parse_cli_time(args.start, "--from", settings.zone)
    end = parse_cli_time(args.end, "--to", settings.zone) if args.end is not None else None
    if end is not None and start >= end:
        raise ConfigError(f"--from {args.start} must be before --to {args.end}")
    usage_points = frozenset(mrid.strip() for mrid in args.usage_point)
    if "" in usage_points:
        raise ConfigError("--usage-point needs a usage point mRID; remove the empty one")
    if args.commit_every < 1:
        raise ConfigError(f"--commit-every {args.commit_every} must be at least 1")
    to_topic = args.to_topic
    if to_topic is not None:
        if not _TOPIC_NAME.match(to_topic):
            raise ConfigError(
                f"--to-topic {to_topic!r} is not a valid Kafka topic name; use letters, digits, '.', '_', '-'"
            )
        own = {
            settings.publisher_topic,
            settings.publisher_dlq_topic,
            settings.publisher_state_topic,
            *settings.publisher_topics.values(),
        }
        if to_topic in own:
            raise ConfigError(
                f"--to-topic {to_topic} is a topic the publisher itself writes; replay into a separate topic"
            )
    return ReplayRequest(start, end, usage_points, to_topic, args.commit_every)


# ------------------------------------------------------------------------------------------ JSON lines


def utc_text(moment: datetime) -> str:
    """UTC ISO 8601 with microseconds and ``Z``: fixed width, so text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


#: how each non-JSON type of a decoded event is written (the current schema has no plain bytes fields)
_SCALARS: tuple[tuple[type, Callable[[Any], Any]], ...] = (
    (Decimal, lambda value: format(value, "f")),
    (datetime, utc_text),
    (UUID, str),
    (bytes, _base64),
)


def json_value(value: Any) -> Any:
    """An event value as JSON: decimals as exact strings, timestamps as :func:`utc_text`, uuids as text."""
    if isinstance(value, dict):
        return {name: json_value(inner) for name, inner in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(inner) for inner in value]
    for kind, render in _SCALARS:
        if isinstance(value, kind):
            return render(value)
    return value


def json_line(event: dict[str, Any]) -> str:
    """One event as one line of JSON, fields in schema order."""
    return json.dumps(json_value(event), ensure_ascii=False, separators=(",", ":"))


# ------------------------------------------------------------------------------------------ sinks


class Sink(Protocol):
    """Where replayed events go."""

    written: int

    def add(self, item: Replayed) -> None: ...

    def finish(self) -> None: ...

    def close(self) -> None: ...


class JsonLinesSink:
    """Prints each event to stdout as one JSON line."""

    def __init__(self) -> None:
        self.written = 0

    def add(self, item: Replayed) -> None:
        sys.stdout.write(json_line(item.event) + "\n")
        self.written += 1

    def finish(self) -> None:
        sys.stdout.flush()

    def close(self) -> None:
        """Nothing to release; stdout belongs to the process."""


def _registry(settings: Settings) -> SchemaRegistryClient | None:
    if not settings.schema_registry_url:
        return None
    from confluent_kafka.schema_registry import SchemaRegistryClient  # noqa: PLC0415 - optional extra

    return SchemaRegistryClient.new_client({"url": settings.schema_registry_url})


def _target_codec(registry: SchemaRegistryClient | None, topic: str) -> ValueCodec:
    schema = load_schema(EVENT_SCHEMA)
    if registry is None:
        return SingleObjectCodec(schema)
    return ConfluentCodec(schema, registry, subject_for(topic))


def _topic_sink(
    settings: Settings,
    config: dict[str, Any],
    registry: SchemaRegistryClient | None,
    request: ReplayRequest,
    partitions: int,
) -> Republisher:
    assert request.to_topic is not None
    spec = TopicSpec(request.to_topic, partitions, replication_factor=settings.publisher_replication_factor)
    ensure_topics(AdminClient(config), [spec])
    transactional_id = f"{settings.publisher_transactional_id_prefix}-replay-{request.to_topic}"
    producer = TransactionalProducer(config, transactional_id)
    sink = Republisher(
        producer, _target_codec(registry, request.to_topic), request.to_topic, batch_size=request.commit_every
    )
    try:
        sink.start()
    except BaseException:
        sink.close()
        raise
    return sink


# ------------------------------------------------------------------------------------------ run


def _silence_stdout() -> None:
    """After the reader of stdout went away, send what is still buffered nowhere (no error at exit)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


@dataclass
class Failures:
    """Records that could not be replayed (undecodable, or no longer encodable), reported so far."""

    count: int = 0


def _pump(
    reader: TopicReplay, ranges: list[OffsetRange], sink: Sink, failures: Failures, *, progress: bool
) -> None:
    """Feed every matching event to ``sink``; report each record that cannot be replayed on stderr."""
    with tqdm(
        total=sum(r.size for r in ranges), unit="rec", desc="replay", disable=not progress, leave=False
    ) as bar:

        def report(problem: Undecodable) -> None:
            failures.count += 1
            line = problem.describe(reader.topic)
            if progress:
                bar.write(line, file=sys.stderr)
            else:
                sys.stderr.write(line + "\n")

        for item in reader.records(ranges):
            bar.update(reader.counts.read - bar.n)
            if isinstance(item, Undecodable):
                report(item)
                continue
            try:
                sink.add(item)
            except ParseError as exc:  # a decoded event that no longer fits the schema
                report(Undecodable(item.partition, item.offset, exc.message))
        sink.finish()


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Replay; exit 0, or non-zero after one line per record that could not be replayed and a summary."""
    request = parse_request(args, settings)
    config = kafka_config(settings)
    registry = _registry(settings)
    topic = settings.publisher_topic
    started = time.monotonic()
    failures = Failures()
    closed_output = False
    with TopicReplay(config, topic, event_decoder(registry), usage_points=request.usage_points) as reader:
        partitions = reader.partitions()
        sink: Sink
        if request.to_topic is not None:
            sink = _topic_sink(settings, config, registry, request, len(partitions))
        else:
            sink = JsonLinesSink()
        try:
            ranges = reader.plan(request.start, request.end, partitions)
            _pump(reader, ranges, sink, failures, progress=not args.no_progress and sys.stderr.isatty())
        except BrokenPipeError:
            closed_output = True
            _silence_stdout()
        finally:
            sink.close()
    log.info(
        "replay_completed",
        topic=topic,
        target=request.to_topic or "stdout",
        read=reader.counts.read,
        matched=reader.counts.matched,
        written=sink.written,
        undecodable=failures.count,
        output_closed=closed_output,
        seconds=round(time.monotonic() - started, 3),
    )
    if failures.count:
        raise ParseError(
            f"{failures.count} record(s) of {topic} could not be decoded and were not replayed "
            f"(listed above); the rest were; find what else writes to {topic}"
        )
    return 0
