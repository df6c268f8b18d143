"""Helpers for end-to-end tests: a simulator, settings wired to it and the broker, decoded read-back."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from publisher.config import Settings, load_settings
from publisher.kafka.avro import ReadingDecoder, load_schema
from publisher.netstream.model import Reading
from publisher.simulator.config import SimulatorConfig, SimUsagePoint
from publisher.simulator.server import SimulatorServer
from support.kafka import Record, read_committed

FORWARD = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
REVERSE = "0.0.5.4.19.1.12.0.0.0.0.0.0.0.224.3.72.0"
REGISTER = "13.0.0.1.1.1.12.0.0.0.0.0.0.0.224.3.72.0"


def small_config(count: int = 4, *, seed: int = 7, **knobs: Any) -> SimulatorConfig:
    """A few usage points, each with forward, reverse (solar on some) and the monthly register."""
    points = tuple(
        SimUsagePoint(
            mrid=f"up-{i:03d}",
            meter_mrid=f"meter-{i:03d}" if i % 3 else None,
            timezone="Pacific/Auckland" if i % 2 == 0 else "Australia/Sydney",
            reading_types=(FORWARD, REVERSE, REGISTER),
            has_solar=i % 2 == 1,
        )
        for i in range(count)
    )
    return SimulatorConfig(usage_points=points, seed=seed, static_token="test-token", **knobs)


def write_registry(path: Path, config: SimulatorConfig) -> Path:
    """A registry naming every simulated usage point with its zone and reading types."""
    lines = ["usage_points:"]
    for point in config.usage_points:
        lines.append(f"  - mrid: {point.mrid}")
        lines.append(f"    timezone: {point.timezone}")
        lines.append(f"    reading_types: [{', '.join(point.reading_types)}]")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class Wiring:
    """Environment of one test's publisher: its own topics and transactional id."""

    env: dict[str, str]

    def settings(self, **extra: str) -> Settings:
        return load_settings(None, {**self.env, **extra})


def wiring(server: SimulatorServer, bootstrap: str, registry: Path, **extra: str) -> Wiring:
    """Settings that point at the simulator and the broker, with unique topics for this test."""
    suffix = uuid.uuid4().hex[:10]
    env = {
        "NETSTREAM_BASE_URL": server.base_url,
        "NETSTREAM_TOKEN": "test-token",
        "NETSTREAM_BACKOFF_INITIAL": "0.05",
        "NETSTREAM_BACKOFF_MAX": "0.2",
        "NETSTREAM_RATE_LIMIT": "200",
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "PUBLISHER_TOPIC": f"readings-{suffix}",
        "PUBLISHER_DLQ_TOPIC": f"dlq-{suffix}",
        "PUBLISHER_STATE_TOPIC": f"state-{suffix}",
        "PUBLISHER_TOPIC_PARTITIONS": "3",
        "PUBLISHER_STATE_PARTITIONS": "4",
        "PUBLISHER_REPLICATION_FACTOR": "1",
        "PUBLISHER_TRANSACTIONAL_ID_PREFIX": f"np-{suffix}",
        "PUBLISHER_REGISTRY_FILE": str(registry),
        "PUBLISHER_LOG_FORMAT": "json",
        **extra,
    }
    return Wiring(env)


def decode_all(records: Iterable[Record]) -> list[dict[str, Any]]:
    """Decode MeterReading events with the schemas in ``schemas/``."""
    decoder = ReadingDecoder(load_schema("meter_reading.avsc"))
    return [decoder.decode(r.value) for r in records if r.value is not None]


def read_events(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every committed event of the readings topic, decoded."""
    return decode_all(read_committed(bootstrap, topic))


Fact = tuple[str, str, datetime | None, datetime, Decimal | None, int | None]


def fact_of_event(event: dict[str, Any]) -> Fact:
    """(usage point, reading type, start, end, value, flags) of a decoded event."""
    value = event["value"]
    return (
        event["usage_point_mrid"],
        event["reading_type"]["mrid"],
        event["interval_start"],
        event["interval_end"],
        None if value is None else value.normalize(),
        event["quality_flags"],
    )


def fact_of_reading(reading: Reading) -> Fact:
    """The same tuple for a simulator truth reading."""
    value = reading.value
    return (
        reading.usage_point,
        reading.reading_type,
        reading.start,
        reading.end,
        None if value is None else value.normalize(),
        reading.quality,
    )


def latest(
    events: Iterable[dict[str, Any]],
) -> dict[tuple[str, str, datetime | None, datetime], dict[str, Any]]:
    """The highest revision of each interval."""
    out: dict[tuple[str, str, datetime | None, datetime], dict[str, Any]] = {}
    for event in events:
        key = (
            event["usage_point_mrid"],
            event["reading_type"]["mrid"],
            event["interval_start"],
            event["interval_end"],
        )
        if key not in out or event["revision"] > out[key]["revision"]:
            out[key] = event
    return out


def truth(server: SimulatorServer, config: SimulatorConfig, start: datetime, end: datetime) -> set[Fact]:
    """Everything the simulator serves for the window right now."""
    facts: set[Fact] = set()
    for point in config.usage_points:
        for reading_type in point.reading_types:
            facts.update(fact_of_reading(r) for r in server.truth(point.mrid, reading_type, start, end))
    return facts
