"""Confluent wire format with a schema registry: registration, golden bytes, decoding by id, failures."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, cast
from uuid import UUID

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from structlog.testing import LogCapture

from publisher.errors import KafkaFatalError, ParseError
from publisher.kafka.avro import (
    CONTENT_TYPE,
    ConfluentCodec,
    ReadingDecoder,
    SingleObjectCodec,
    load_schema,
    schema_from_json,
    subject_for,
)

TOPIC = "netstream.meter-readings.v1"
CIM_FIELDS = (
    "macro_period",
    "aggregate",
    "measuring_period",
    "accumulation",
    "flow_direction",
    "commodity",
    "measurement_kind",
    "interharmonic_numerator",
    "interharmonic_denominator",
    "argument_numerator",
    "argument_denominator",
    "tou",
    "cpp",
    "consumption_tier",
    "phases",
    "multiplier",
    "unit",
    "currency",
)
RT = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"

#: the same fully populated record as the single-object golden test
FULL: dict[str, Any] = {
    "event_id": UUID("3f2b8c1e-9d4a-5e6f-8a7b-1c2d3e4f5a6b"),
    "usage_point_mrid": "6f1c2a10-5b1e-4c2d-9a10-00000000000a",
    "meter_mrid": "a7e0c1d2-0001-4e00-8000-0000000000a1",
    "reading_type": {
        "mrid": RT,
        **dict(zip(CIM_FIELDS, map(int, RT.split(".")), strict=True)),
        "interval_seconds": 1800,
        "unit_symbol": "kWh",
    },
    "kind": "INTERVAL",
    "interval_start": datetime(2025, 3, 1, 11, 0, tzinfo=UTC),
    "interval_end": datetime(2025, 3, 1, 11, 30, tzinfo=UTC),
    "value": Decimal("12345.678"),
    "quality_flags": 256,
    "quality_codes": ["3.0.0", "1.4.2"],
    "revision": 2,
    "previous_value": Decimal("-0.000001"),
    "reported_at": datetime(2025, 3, 1, 12, 5, 7, 250000, tzinfo=UTC),
    "polled_at": datetime(2025, 3, 1, 13, 0, 0, 123456, tzinfo=UTC),
    "source": "BACKFILL",
    "previous_quality_flags": 8448,
    "timezone": "Pacific/Auckland",
}
# 00 + schema id 1 (big-endian) + the same body as the single-object golden bytes
GOLDEN_CONFLUENT = (
    "00000000014833663262386331652d396434612d356536662d386137622d31633264336534663561366248"
    "36663163326131302d356231652d346332642d396131302d303030303030303030303061024861376530633164322d30"
    "3030312d346530302d383030302d3030303030303030303061314e302e302e352e342e312e312e31322e302e302e302e"
    "302e302e302e302e3232342e332e37322e3000000a0802021800000000000000c0030690010002901c066b5768000280"
    "b0bcb0bad1970680f88ae5c7d19706020a02dfdc18b0028004040a332e302e300a312e342e3200040202ff02a0cddbbe"
    "d7d1970680d98583f0d1970602028084010220506163696669632f4175636b6c616e64"
)


class CountingRegistry:
    """Delegates to a real (mock://) registry client and counts the calls the codecs make."""

    def __init__(self, inner: SchemaRegistryClient) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def register_schema(self, subject_name: str, schema: Schema) -> int:
        self.calls["register_schema"] += 1
        return self.inner.register_schema(subject_name, schema)

    def get_schema(self, schema_id: int) -> Schema:
        self.calls["get_schema"] += 1
        return self.inner.get_schema(schema_id)


@pytest.fixture
def registry() -> SchemaRegistryClient:
    return SchemaRegistryClient.new_client({"url": "mock://test"})


@pytest.fixture
def counting(registry: SchemaRegistryClient) -> CountingRegistry:
    return CountingRegistry(registry)


def as_client(counting: CountingRegistry) -> SchemaRegistryClient:
    return cast("SchemaRegistryClient", counting)


# --------------------------------------------------------------------------------- registration


def test_schema_is_registered_once_under_the_topic_subject(
    registry: SchemaRegistryClient, counting: CountingRegistry
) -> None:
    schema = load_schema("meter_reading.avsc")
    codec = ConfluentCodec(schema, as_client(counting), subject_for(TOPIC))
    for _ in range(20):
        codec.encode(FULL)
    assert counting.calls == Counter(register_schema=1)
    latest = registry.get_latest_version("netstream.meter-readings.v1-value")
    assert latest.schema_id == codec.schema_id == 1
    assert latest.version == 1
    assert latest.schema.schema_type == "AVRO"
    # the full schema is registered: consumers fetching it see docs, defaults and logical types
    assert latest.schema.schema_str is not None
    assert json.loads(latest.schema.schema_str) == json.loads(schema.text)
    assert '"logicalType":"decimal"' in latest.schema.schema_str


def test_registration_is_idempotent_across_restarts(registry: SchemaRegistryClient) -> None:
    schema = load_schema("meter_reading.avsc")
    first = ConfluentCodec(schema, registry, subject_for(TOPIC))
    second = ConfluentCodec(schema, registry, subject_for(TOPIC))
    assert first.schema_id == second.schema_id
    assert registry.get_versions(subject_for(TOPIC)) == [1]


def test_registration_is_logged_without_the_registry_url(
    registry: SchemaRegistryClient, captured_logs: LogCapture
) -> None:
    ConfluentCodec(load_schema("meter_reading.avsc"), registry, subject_for(TOPIC))
    assert captured_logs.entries == [
        {
            "event": "schema_registered",
            "log_level": "info",
            "subject": "netstream.meter-readings.v1-value",
            "schema_id": 1,
            "event_type": "netstream.publisher.v1.MeterReading",
        }
    ]


# ---------------------------------------------------------------------------------- wire format


def test_full_record_encodes_to_the_golden_confluent_bytes(registry: SchemaRegistryClient) -> None:
    schema = load_schema("meter_reading.avsc")
    data = ConfluentCodec(schema, registry, subject_for(TOPIC)).encode(FULL)
    assert data.hex() == GOLDEN_CONFLUENT
    assert data[0] == 0
    assert int.from_bytes(data[1:5], "big") == 1
    # the body is the same Avro binary the single-object encoding carries after its 10-byte header
    assert data[5:] == SingleObjectCodec(schema).encode(FULL)[10:]


def test_schema_id_is_written_big_endian(registry: SchemaRegistryClient) -> None:
    for number in range(1, 300):  # fill the registry so the next id needs two bytes
        registry.register_schema(
            f"filler-{number}-value", Schema(f'{{"type":"fixed","name":"F{number}","size":1}}', "AVRO")
        )
    codec = ConfluentCodec(load_schema("meter_reading.avsc"), registry, subject_for(TOPIC))
    assert codec.schema_id == 300
    assert codec.encode(FULL)[:5] == b"\x00\x00\x00\x01\x2c"


def test_confluent_round_trip_and_headers(registry: SchemaRegistryClient) -> None:
    schema = load_schema("meter_reading.avsc")
    codec = ConfluentCodec(schema, registry, subject_for(TOPIC))
    data = codec.encode(FULL)
    assert codec.decode(data)["value"] == Decimal("12345.678")
    assert ReadingDecoder(registry=registry).decode(data)["event_id"] == FULL["event_id"]
    assert codec.headers() == [
        ("event_type", b"netstream.publisher.v1.MeterReading"),
        ("schema_fingerprint", schema.fingerprint_hex.encode()),
        ("content_type", CONTENT_TYPE),
    ]


def test_codec_refuses_other_ids_and_encodings(registry: SchemaRegistryClient) -> None:
    codec = ConfluentCodec(load_schema("meter_reading.avsc"), registry, subject_for(TOPIC))
    data = codec.encode(FULL)
    with pytest.raises(ParseError, match="schema id 7, not 1"):
        codec.decode(b"\x00\x00\x00\x00\x07" + data[5:])
    with pytest.raises(ParseError, match="not in the Confluent wire format"):
        codec.decode(SingleObjectCodec(codec.schema).encode(FULL))


def test_record_that_does_not_fit_is_a_parse_error(registry: SchemaRegistryClient) -> None:
    codec = ConfluentCodec(load_schema("meter_reading.avsc"), registry, subject_for(TOPIC))
    with pytest.raises(ParseError, match="more than 6 decimal places"):
        codec.encode({**FULL, "value": Decimal("1.0000001")})


# ------------------------------------------------------------------------------- decoding by id


def test_writer_schema_is_fetched_once_and_resolved_against_the_reader(
    registry: SchemaRegistryClient, counting: CountingRegistry
) -> None:
    raw = json.loads(load_schema("meter_reading.avsc").text)
    kind = next(entry for entry in raw["fields"] if entry["name"] == "kind")
    kind["type"]["symbols"].insert(2, "CALCULATED")
    newer = schema_from_json(json.dumps(raw), origin="newer MeterReading")
    data = ConfluentCodec(newer, registry, subject_for(TOPIC)).encode({**FULL, "kind": "CALCULATED"})
    decoder = ReadingDecoder(registry=as_client(counting))
    for _ in range(5):
        assert decoder.decode(data)["kind"] == "UNKNOWN"
    assert counting.calls == Counter(get_schema=1)


def test_single_object_and_confluent_values_through_one_decoder(registry: SchemaRegistryClient) -> None:
    schema = load_schema("meter_reading.avsc")
    decoder = ReadingDecoder(registry=registry)
    confluent = ConfluentCodec(schema, registry, subject_for(TOPIC)).encode(FULL)
    single = SingleObjectCodec(schema).encode(FULL)
    assert decoder.decode(confluent) == decoder.decode(single)


def test_unknown_schema_id_is_a_parse_error(registry: SchemaRegistryClient) -> None:
    with pytest.raises(ParseError, match="schema id 42 is not in the schema registry"):
        ReadingDecoder(registry=registry).decode(b"\x00\x00\x00\x00\x2a\x00")


def test_confluent_value_without_a_registry_names_the_setting() -> None:
    with pytest.raises(ParseError, match="SCHEMA_REGISTRY_URL"):
        ReadingDecoder().decode(b"\x00\x00\x00\x00\x01\x00")


def test_non_avro_registry_schema_is_a_parse_error(registry: SchemaRegistryClient) -> None:
    schema_id = registry.register_schema("other-value", Schema('syntax = "proto3";', "PROTOBUF"))
    with pytest.raises(ParseError, match="PROTOBUF schema, not Avro"):
        ReadingDecoder(registry=registry).decode(b"\x00" + schema_id.to_bytes(4, "big") + b"\x00")


# ------------------------------------------------------------------------- registry failures


class FailingRegistry(BaseHTTPRequestHandler):
    """A schema registry that answers every request with one configured error."""

    status = 500
    body: ClassVar[dict[str, Any]] = {}
    requests: ClassVar[list[str]] = []

    def _fail(self) -> None:
        type(self).requests.append(f"{self.command} {self.path}")
        payload = json.dumps(type(self).body).encode()
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _fail  # noqa: N815 - http.server dispatches on these method names
    do_POST = _fail  # noqa: N815 - as above

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class names it so
        """Keep the test output quiet."""


@pytest.fixture
def failing_registry_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FailingRegistry)
    FailingRegistry.requests.clear()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def real_client(url: str) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": url, "max.retries": 0, "timeout": 10})


def test_registry_refusing_the_schema_is_fatal(failing_registry_url: str) -> None:
    FailingRegistry.status = 409
    FailingRegistry.body = {"error_code": 409, "message": "Schema being registered is incompatible"}
    with pytest.raises(KafkaFatalError, match="SCHEMA_REGISTRY_URL") as caught:
        ConfluentCodec(
            load_schema("meter_reading.avsc"), real_client(failing_registry_url), subject_for(TOPIC)
        )
    assert "incompatible" in caught.value.message
    assert "netstream.meter-readings.v1-value" in caught.value.message
    assert caught.value.exit_code == 4
    assert len(FailingRegistry.requests) == 1
    assert FailingRegistry.requests[0].startswith("POST /subjects/netstream.meter-readings.v1-value/versions")


def test_registry_server_error_is_fatal(failing_registry_url: str) -> None:
    FailingRegistry.status = 500
    FailingRegistry.body = {"error_code": 50001, "message": "Error in the backend data store"}
    with pytest.raises(
        KafkaFatalError, match=r"SchemaRegistryError.*backend data store.*SCHEMA_REGISTRY_URL"
    ):
        ConfluentCodec(
            load_schema("meter_reading.avsc"), real_client(failing_registry_url), subject_for(TOPIC)
        )


def test_registry_failure_message_hides_url_credentials(failing_registry_url: str) -> None:
    port = failing_registry_url.rsplit(":", 1)[1]
    FailingRegistry.status = 500
    url = f"http://publisher:s3cret-password@127.0.0.1:{port}"
    client = real_client(url)
    with pytest.raises(KafkaFatalError, match="SCHEMA_REGISTRY_URL") as caught:
        ConfluentCodec(load_schema("meter_reading.avsc"), client, subject_for(TOPIC))
    assert "s3cret" not in caught.value.message


def test_connection_refused_is_fatal() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FailingRegistry)
    closed_port = server.server_address[1]
    server.server_close()  # nothing listens there any more
    with pytest.raises(KafkaFatalError, match="SCHEMA_REGISTRY_URL") as caught:
        ConfluentCodec(
            load_schema("meter_reading.avsc"),
            real_client(f"http://127.0.0.1:{closed_port}"),
            subject_for(TOPIC),
        )
    assert "\n" not in caught.value.message


def test_fetching_a_writer_schema_from_a_failing_registry_is_fatal(failing_registry_url: str) -> None:
    FailingRegistry.status = 500
    FailingRegistry.body = {"error_code": 50001, "message": "Error in the backend data store"}
    decoder = ReadingDecoder(registry=real_client(failing_registry_url))
    with pytest.raises(KafkaFatalError, match="could not fetch schema id 5"):
        decoder.decode(b"\x00\x00\x00\x00\x05\x00")
    FailingRegistry.status = 404
    FailingRegistry.body = {"error_code": 40403, "message": "Schema not found"}
    with pytest.raises(ParseError, match="schema id 5 is not in the schema registry"):
        decoder.decode(b"\x00\x00\x00\x00\x05\x00")
