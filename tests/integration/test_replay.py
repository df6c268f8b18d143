"""``replay`` end to end: events published by the real pipeline, replayed through ``publisher.cli.main``."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from publisher.app import build_service
from publisher.cli import main
from publisher.config import Settings
from publisher.errors import KafkaFatalError
from publisher.kafka.avro import SINGLE_OBJECT_MAGIC, ReadingDecoder, load_schema
from publisher.kafka.producer import TransactionalProducer
from publisher.pipeline.runner import group_targets
from publisher.simulator.clock import SimClock
from publisher.simulator.server import SimulatorServer
from support.kafka import Record, read_committed, unique_topic
from support.pipeline import small_config, wiring, write_registry

T0 = datetime(2025, 4, 8, 1, 0, tzinfo=UTC)
LOOKBACK = timedelta(hours=6)
SCHEMA_FIELDS = [field["name"] for field in json.loads(load_schema("meter_reading.avsc").text)["fields"]]
UTC_TEXT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


# ------------------------------------------------------------------------------------- a tiny registry


class _RegistryHandler(BaseHTTPRequestHandler):
    """The two schema registry calls the publisher makes: register under a subject, fetch by id."""

    schemas: ClassVar[dict[int, str]]
    subjects: ClassVar[dict[str, int]]
    lock: ClassVar[threading.Lock]

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        match = re.fullmatch(r"/subjects/([^/]+)/versions(\?.*)?", self.path)
        if match is None:
            self._answer(404, {"error_code": 404, "message": "not found"})
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            text = body["schema"]
            schema_id = next((i for i, s in self.schemas.items() if s == text), len(self.schemas) + 1)
            self.schemas[schema_id] = text
            self.subjects[match.group(1)] = schema_id
        self._answer(200, {"id": schema_id})

    def do_GET(self) -> None:
        match = re.fullmatch(r"/schemas/ids/(\d+)(\?.*)?", self.path)
        text = self.schemas.get(int(match.group(1))) if match else None
        if text is None:
            self._answer(404, {"error_code": 40403, "message": "Schema not found"})
            return
        self._answer(200, {"schema": text})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class names it so
        """Quiet: the test output stays readable."""


@dataclass
class TinyRegistry:
    url: str
    subjects: dict[str, int]


@pytest.fixture
def schema_registry() -> Iterator[TinyRegistry]:
    handler = type(
        "Handler",
        (_RegistryHandler,),
        {"schemas": {}, "subjects": {}, "lock": threading.Lock()},
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield TinyRegistry(f"http://127.0.0.1:{server.server_address[1]}", handler.subjects)
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------------------------- fixtures


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    server = SimulatorServer(small_config(2), clock=SimClock(T0))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def publish_cycle(settings: Settings, server: SimulatorServer) -> None:
    service = build_service(settings, clock=server.clock.now)
    try:
        service.start()
        for plan in settings.publisher_plans:
            service.runner.cycle(plan.name, group_targets(service.registry, plan.reading_types), LOOKBACK)
    finally:
        service.close()


@dataclass
class Published:
    env: dict[str, str]
    settings: Settings
    bootstrap: str

    @property
    def topic(self) -> str:
        return self.settings.publisher_topic

    def records(self, topic: str | None = None) -> list[Record]:
        return read_committed(self.bootstrap, topic or self.topic)


def publish(
    sim: SimulatorServer, bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **extra: str
) -> Published:
    wired = wiring(sim, bootstrap, write_registry(tmp_path / "registry.yaml", sim.config), **extra)
    for name, value in wired.env.items():
        monkeypatch.setenv(name, value)
    published = Published(wired.env, wired.settings(), bootstrap)
    publish_cycle(published.settings, sim)
    return published


@pytest.fixture
def published(
    sim: SimulatorServer, kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Published:
    return publish(sim, kafka_bootstrap, tmp_path, monkeypatch)


# -------------------------------------------------------------------------------------------- helpers


def decoded(
    records: list[Record], registry_url: str | None = None
) -> dict[str, tuple[Record, dict[str, Any]]]:
    registry = None
    if registry_url:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        registry = SchemaRegistryClient.new_client({"url": registry_url})
    decoder = ReadingDecoder(registry=registry)
    out: dict[str, tuple[Record, dict[str, Any]]] = {}
    for record in records:
        assert record.value is not None
        event = decoder.decode(record.value)
        assert str(event["event_id"]) not in out, "an event id appears twice"
        out[str(event["event_id"])] = (record, event)
    return out


def at(millis: int) -> str:
    """A Kafka timestamp as an ISO 8601 time with an offset, as a user would type it."""
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat(timespec="milliseconds")


def before(records: list[Record]) -> str:
    return at(min(r.timestamp_ms for r in records) - 1000)


@dataclass
class Outcome:
    code: int
    lines: list[dict[str, Any]]
    err: str

    @property
    def undecodable(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("undecodable: ")]

    @property
    def completed(self) -> dict[str, Any]:
        events = [json.loads(line) for line in self.err.splitlines() if line.startswith("{")]
        (done,) = [e for e in events if e.get("event") == "replay_completed"]
        return done


def replay(capsys: pytest.CaptureFixture[str], *args: str) -> Outcome:
    capsys.readouterr()  # only what the command writes
    code = main(["replay", "--no-progress", *args])
    captured = capsys.readouterr()
    return Outcome(code, [json.loads(line) for line in captured.out.splitlines()], captured.err)


def expected_json(event: dict[str, Any]) -> dict[str, Any]:
    """What the documented JSON line format says an event becomes, written out field by field."""

    def when(moment: datetime | None) -> str | None:
        return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def exact(number: Any) -> str | None:
        return None if number is None else f"{number:f}"

    return {
        "event_id": str(event["event_id"]),
        "usage_point_mrid": event["usage_point_mrid"],
        "meter_mrid": event["meter_mrid"],
        "reading_type": dict(event["reading_type"]),
        "kind": event["kind"],
        "interval_start": when(event["interval_start"]),
        "interval_end": when(event["interval_end"]),
        "value": exact(event["value"]),
        "quality_flags": event["quality_flags"],
        "quality_codes": list(event["quality_codes"]),
        "revision": event["revision"],
        "previous_value": exact(event["previous_value"]),
        "reported_at": when(event["reported_at"]),
        "polled_at": when(event["polled_at"]),
        "source": event["source"],
        "previous_quality_flags": event["previous_quality_flags"],
        "timezone": event["timezone"],
    }


def assert_replayed_copy(
    source: dict[str, tuple[Record, dict[str, Any]]], target: dict[str, tuple[Record, dict[str, Any]]]
) -> None:
    assert set(target) == set(source)
    for event_id, (record, event) in target.items():
        original_record, original = source[event_id]
        assert record.key == original_record.key
        assert record.headers == original_record.headers
        assert record.partition == original_record.partition  # same key, same partition count
        assert event["source"] == "REPLAY"
        assert {**event, "source": original["source"]} == original


# -------------------------------------------------------------------------------------------- to a topic


def test_replay_to_another_topic_copies_every_event_with_source_replay(
    published: Published, capsys: pytest.CaptureFixture[str], kafka_admin: AdminClient
) -> None:
    source_records = published.records()
    source = decoded(source_records)
    assert len(source) > 40
    assert {event["source"] for _, event in source.values()} == {"SCHEDULED"}
    target = unique_topic("replayed")

    outcome = replay(capsys, "--from", before(source_records), "--to-topic", target, "--commit-every", "7")

    assert outcome.code == 0, outcome.err
    assert outcome.lines == []
    assert_replayed_copy(source, decoded(published.records(target)))
    assert len(kafka_admin.list_topics(target, timeout=10).topics[target].partitions) == 3
    done = outcome.completed
    assert (done["read"], done["matched"], done["written"], done["undecodable"]) == (len(source),) * 3 + (0,)
    assert done["target"] == target


def test_a_new_replay_into_a_topic_fences_an_unfinished_one(
    published: Published, capsys: pytest.CaptureFixture[str], kafka_admin: AdminClient
) -> None:
    source_records = published.records()
    target = unique_topic("replayed")
    assert replay(capsys, "--from", before(source_records), "--to-topic", target).code == 0
    zombie = TransactionalProducer(
        {"bootstrap.servers": published.bootstrap},
        f"{published.settings.publisher_transactional_id_prefix}-replay-{target}",
    )
    zombie.init()
    zombie.begin()
    zombie.produce(target, b"from the fenced run", key=b"zombie")
    zombie._producer.flush(10)  # the record is in the broker's log, its transaction still open

    outcome = replay(capsys, "--from", before(source_records), "--to-topic", target)

    assert outcome.code == 0, outcome.err
    with pytest.raises(KafkaFatalError, match="fenced"):
        zombie.commit()
    with contextlib.suppress(KafkaFatalError):  # a fenced producer reports the fencing again on close
        zombie.close()
    values = [r.value for r in published.records(target)]
    assert b"from the fenced run" not in values
    assert len(values) == 2 * len(source_records)  # two complete replays, nothing of the fenced one
    ids = [str(event["event_id"]) for event in map(ReadingDecoder().decode, filter(None, values))]
    assert sorted(set(ids)) == sorted(decoded(source_records))


def test_replay_with_a_schema_registry_reads_and_writes_the_confluent_format(
    sim: SimulatorServer,
    kafka_bootstrap: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    schema_registry: TinyRegistry,
) -> None:
    published = publish(sim, kafka_bootstrap, tmp_path, monkeypatch, SCHEMA_REGISTRY_URL=schema_registry.url)
    source_records = published.records()
    assert {r.value[:1] for r in source_records if r.value} == {b"\x00"}
    target = unique_topic("replayed")

    outcome = replay(capsys, "--from", before(source_records), "--to-topic", target)

    assert outcome.code == 0, outcome.err
    target_records = published.records(target)
    assert {r.value[:1] for r in target_records if r.value} == {b"\x00"}
    assert f"{target}-value" in schema_registry.subjects
    assert_replayed_copy(
        decoded(source_records, schema_registry.url), decoded(target_records, schema_registry.url)
    )
    lines = replay(capsys, "--from", before(source_records), "--output", "jsonl").lines
    assert sorted(line["event_id"] for line in lines) == sorted(decoded(source_records, schema_registry.url))


# --------------------------------------------------------------------------------------------- JSON lines


def test_jsonl_prints_every_event_once_in_the_documented_format(
    published: Published, capsys: pytest.CaptureFixture[str]
) -> None:
    source_records = published.records()
    source = decoded(source_records)

    outcome = replay(capsys, "--from", before(source_records), "--output", "jsonl")

    assert outcome.code == 0, outcome.err
    assert len(outcome.lines) == len(source)
    by_id = {line["event_id"]: line for line in outcome.lines}
    assert by_id == {event_id: expected_json(event) for event_id, (_, event) in source.items()}
    for line in outcome.lines:
        assert list(line) == SCHEMA_FIELDS
        assert UTC_TEXT.match(line["interval_end"])
        assert UTC_TEXT.match(line["polled_at"])
        assert line["value"] is None or re.fullmatch(r"-?\d+\.\d{6}", line["value"])
        assert uuid.UUID(line["event_id"]).version == 5
        assert line["reading_type"]["mrid"].count(".") == 17
        assert line["source"] == "SCHEDULED"
    done = outcome.completed
    assert (done["written"], done["undecodable"], done["target"]) == (len(source), 0, "stdout")


def test_usage_point_filter_keeps_only_that_usage_points_events(
    published: Published, capsys: pytest.CaptureFixture[str]
) -> None:
    source_records = published.records()
    wanted = {
        event_id for event_id, (_, e) in decoded(source_records).items() if e["usage_point_mrid"] == "up-001"
    }
    assert 0 < len(wanted) < len(source_records)

    outcome = replay(capsys, "--from", before(source_records), "--output", "jsonl", "--usage-point", "up-001")

    assert outcome.code == 0, outcome.err
    assert {line["event_id"] for line in outcome.lines} == wanted
    assert len(outcome.lines) == len(wanted)
    done = outcome.completed
    assert (done["read"], done["matched"]) == (len(source_records), len(wanted))


def test_from_and_to_select_by_publication_time(
    published: Published, sim: SimulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    first = published.records()
    time.sleep(0.01)  # the next batch is produced at least a millisecond later
    sim.clock.advance(timedelta(hours=2))
    publish_cycle(published.settings, sim)  # new intervals: a second batch, published later
    everything = published.records()
    first_ids = set(decoded(first))
    seen = {(r.partition, r.offset) for r in first}
    second = [r for r in everything if (r.partition, r.offset) not in seen]
    second_ids = set(decoded(second))
    assert second_ids
    assert not first_ids & second_ids
    boundary = max(r.timestamp_ms for r in first) + 1
    assert min(r.timestamp_ms for r in second) >= boundary

    def ids(*args: str) -> set[str]:
        outcome = replay(capsys, *args, "--output", "jsonl")
        assert outcome.code == 0, outcome.err
        return {line["event_id"] for line in outcome.lines}

    assert ids("--from", before(first), "--to", at(boundary)) == first_ids
    assert ids("--from", at(boundary)) == second_ids
    assert ids("--from", before(first)) == first_ids | second_ids
    # without an offset the time is Netstream local time (Pacific/Auckland by default)
    local = datetime.fromtimestamp(boundary / 1000, UTC).astimezone(ZoneInfo("Pacific/Auckland"))
    assert ids("--from", local.replace(tzinfo=None).isoformat(timespec="milliseconds")) == second_ids
    assert ids("--from", at(max(r.timestamp_ms for r in everything) + 1)) == set()


# ------------------------------------------------------------------------------------------- undecodable


def test_undecodable_records_are_reported_one_line_each_and_fail_the_run(
    published: Published, capsys: pytest.CaptureFixture[str]
) -> None:
    source = decoded(published.records())
    producer = Producer({"bootstrap.servers": published.bootstrap})
    producer.produce(published.topic, b"not an event at all", key=b"x", partition=0)
    producer.produce(published.topic, SINGLE_OBJECT_MAGIC + b"\x01" * 8 + b"junk", key=b"y", partition=1)
    producer.produce(published.topic, None, key=b"z", partition=2)
    assert producer.flush(10) == 0
    records = published.records()
    target = unique_topic("replayed")

    for mode in (["--output", "jsonl"], ["--to-topic", target]):
        outcome = replay(capsys, "--from", before(records), *mode)

        assert outcome.code == 1
        assert len(outcome.undecodable) == 3
        assert all(re.search(r"partition \d offset \d+: \S", line) for line in outcome.undecodable)
        assert any("unknown schema fingerprint 0101010101010101" in line for line in outcome.undecodable)
        assert any("no value" in line for line in outcome.undecodable)
        last = outcome.err.splitlines()[-1]
        assert last.startswith("netstream-publisher: error: 3 record(s) of ")
        assert "Traceback" not in outcome.err
        done = outcome.completed
        assert (done["read"], done["matched"], done["undecodable"]) == (len(source) + 3, len(source), 3)
        assert done["written"] == len(source)

    jsonl = replay(capsys, "--from", before(records), "--output", "jsonl")
    assert {line["event_id"] for line in jsonl.lines} == set(source)
    assert set(decoded(published.records(target))) == set(source)


def test_a_readings_topic_that_does_not_exist_is_a_config_error(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("PUBLISHER_TOPIC", unique_topic("missing"))
    monkeypatch.setenv("PUBLISHER_LOG_FORMAT", "json")

    outcome = replay(capsys, "--from", "2025-03-01", "--output", "jsonl")

    assert outcome.code == 2
    assert outcome.lines == []
    assert outcome.err.splitlines()[-1].startswith("netstream-publisher: error: topic missing-")
    assert "does not exist; set PUBLISHER_TOPIC" in outcome.err
