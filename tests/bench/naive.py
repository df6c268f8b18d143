"""The same work done the obvious way: the baseline the pipeline's speed-up is measured against.

Per response: ``json.loads``; a walk over ``meterReading`` and its interval blocks; each value placed in time
with ``zoneinfo``; dedup in a dict keyed by (usage point, reading type, interval start); each event built as a
dict and serialised with confluent-kafka's ``AvroSerializer`` (one call per record, Confluent wire format);
one ``produce`` per record; one ``flush`` per response. It uses the pipeline's producer settings and commits
one transaction per response, as an exactly-once publisher must.

The serializer needs a schema registry: it talks to confluent-kafka's built-in mock registry
(``mock://`` URL, :class:`~confluent_kafka.schema_registry.SchemaRegistryClient` ``new_client``), which
registers the schema in memory, so no registry server runs and no network time is measured. Dedup state
lives in the dict only; no state records are written (less Kafka work than the pipeline does).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from bench.throughput import BenchTopics, Rate, raw_config
from bench.workload import ZONE, Recorded, polled_at
from publisher.kafka.avro import load_schema
from publisher.netstream.readingtype import parse_reading_type
from publisher.pipeline.events import _READING_TYPE_FIELDS, EVENT_NAMESPACE

MOCK_REGISTRY_URL = "mock://netstream-bench"
_CIM_FIELDS = _READING_TYPE_FIELDS  # the same 18 CIM fields the pipeline names


def mock_registry() -> SchemaRegistryClient:
    """confluent-kafka's in-memory schema registry client (no server)."""
    return SchemaRegistryClient.new_client({"url": MOCK_REGISTRY_URL})


def serializer(registry: SchemaRegistryClient) -> AvroSerializer:
    """A per-record AvroSerializer on ``registry``."""
    schema = load_schema("meter_reading.avsc").text
    return AvroSerializer(registry, schema, conf={"auto.register.schemas": True})


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class NaivePublisher:
    """Everything in one loop, written the way a first version would be."""

    def __init__(self, producer: Producer | None, topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self.registry = mock_registry()
        self.serialize = serializer(self.registry)
        self.seen: dict[tuple[str, str, datetime], tuple[Decimal | None, int | None]] = {}

    def events(self, body: bytes) -> list[tuple[bytes, bytes]]:
        """(key, value) of every new or changed reading of one response."""
        out = []
        context = SerializationContext(self.topic, MessageField.VALUE)
        document = json.loads(body)
        for series in document["meterReading"]:
            usage_point = series["usagePoint"]["mRID"]
            meter = series.get("meter", {}).get("mRID")
            code = series["readingType"]["mRID"]
            rt = parse_reading_type(code)
            type_record: dict[str, Any] = {"mrid": code}
            for name in _CIM_FIELDS:
                type_record[name] = getattr(rt, name)
            type_record["interval_seconds"] = rt.interval_seconds
            type_record["unit_symbol"] = rt.unit_symbol
            step = rt.interval or timedelta(minutes=30)
            for block in series.get("intervalBlockInts", []):
                first = datetime.fromisoformat(block["timePeriod"]["start"]).replace(tzinfo=ZONE)
                first = first.astimezone(UTC)
                for index, (raw, flags) in enumerate(zip(block["values"], block["qualities"], strict=True)):
                    start = first + index * step
                    end = start + step
                    value = None if raw is None else Decimal(str(raw)).quantize(Decimal("0.000001"))
                    key = (usage_point, code, start)
                    previous = self.seen.get(key)
                    if previous == (value, flags):
                        continue
                    revision = 0 if previous is None else 1
                    name = f"{usage_point}|{code}|{_utc_text(start)}|{_utc_text(end)}|{revision}"
                    record = {
                        "event_id": str(uuid.uuid5(EVENT_NAMESPACE, name)),
                        "usage_point_mrid": usage_point,
                        "meter_mrid": meter,
                        "reading_type": type_record,
                        "kind": "INTERVAL",
                        "interval_start": start,
                        "interval_end": end,
                        "value": value,
                        "quality_flags": flags,
                        "quality_codes": [],
                        "revision": revision,
                        "previous_value": None if previous is None else previous[0],
                        "reported_at": None,
                        "polled_at": polled_at(),
                        "source": "SCHEDULED",
                        "previous_quality_flags": None if previous is None else previous[1],
                        "timezone": ZONE.key,
                    }
                    self.seen[key] = (value, flags)
                    out.append(((meter or usage_point).encode(), self.serialize(record, context)))
        return out

    def publish(self, body: bytes) -> int:
        """One response in one transaction: produce each record, flush, commit."""
        assert self.producer is not None
        self.producer.begin_transaction()
        events = self.events(body)
        for key, value in events:
            while True:
                try:
                    self.producer.produce(self.topic, value, key)
                    break
                except BufferError:
                    self.producer.poll(0.05)
        self.producer.flush(30)
        self.producer.commit_transaction(30)
        return len(events)


def run_naive(bootstrap: str, recorded: Sequence[Recorded]) -> tuple[Rate, int]:
    """Readings per second of the naive publisher over the recorded responses; and the events it wrote."""
    topic = BenchTopics.create(bootstrap, "bench-naive").readings
    producer = Producer(raw_config(bootstrap, transactional=True))
    producer.init_transactions(30)
    publisher = NaivePublisher(producer, topic)
    publisher.serialize({**_warm_up_record()}, SerializationContext(topic, MessageField.VALUE))
    readings = events = 0
    started = time.perf_counter()
    for item in recorded:
        events += publisher.publish(item.body)
        readings += item.readings
    seconds = time.perf_counter() - started
    return Rate(readings, seconds), events


def _warm_up_record() -> dict[str, Any]:
    """A valid record, serialised once before timing so the schema registration is not measured."""
    rt = parse_reading_type("0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0")
    type_record: dict[str, Any] = {"mrid": rt.mrid, **{name: getattr(rt, name) for name in _CIM_FIELDS}}
    type_record.update(interval_seconds=rt.interval_seconds, unit_symbol=rt.unit_symbol)
    moment = polled_at()
    return {
        "event_id": str(uuid.uuid5(EVENT_NAMESPACE, "warm-up")),
        "usage_point_mrid": "warm-up",
        "meter_mrid": None,
        "reading_type": type_record,
        "kind": "INTERVAL",
        "interval_start": moment,
        "interval_end": moment,
        "value": Decimal("0.000000"),
        "quality_flags": 0,
        "quality_codes": [],
        "revision": 0,
        "polled_at": moment,
        "source": "SCHEDULED",
    }
