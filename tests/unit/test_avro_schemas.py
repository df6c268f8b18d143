"""The event contract's schemas: field names and types, docs, enum defaults, canonical form, fingerprints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
from fastavro.schema import fingerprint as fastavro_fingerprint

from publisher.errors import ConfigError
from publisher.kafka.avro import load_schema, schema_from_json, subject_for

CONTRACT_SCHEMAS = ("meter_reading.avsc", "dead_letter.avsc")
DECIMAL = {"type": "bytes", "logicalType": "decimal", "precision": 28, "scale": 6}
MICROS = {"type": "long", "logicalType": "timestamp-micros"}
UUID_STRING = {"type": "string", "logicalType": "uuid"}


def raw_schema(filename: str) -> dict[str, Any]:
    text = (resources.files("publisher") / "schemas" / filename).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def fields_of(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {field["name"]: field for field in schema["fields"]}


# ------------------------------------------------------------------ CRC-64-AVRO, written from the spec

EMPTY_64 = 0xC15D213AA4D7A795


def _table() -> list[int]:
    table = []
    for byte in range(256):
        fp = byte
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY_64 & -(fp & 1))
        table.append(fp)
    return table


CRC_TABLE = _table()


def crc64_avro(data: bytes) -> int:
    fp = EMPTY_64
    for byte in data:
        fp = (fp >> 8) ^ CRC_TABLE[(fp ^ byte) & 0xFF]
    return fp


def test_reference_crc_matches_the_spec_test_vectors() -> None:
    # From the Avro specification's schema test data (fingerprints as signed 64-bit longs).
    assert crc64_avro(b'"null"') == 7195948357588979594
    assert crc64_avro(b'"int"') == 8247732601305521295


# ------------------------------------------------------------------------------------ loading


@pytest.mark.parametrize("filename", CONTRACT_SCHEMAS)
def test_fingerprint_is_crc64_of_the_canonical_form_little_endian(filename: str) -> None:
    schema = load_schema(filename)
    expected = crc64_avro(schema.canonical.encode()).to_bytes(8, "little")
    assert schema.fingerprint == expected
    assert len(schema.fingerprint) == 8
    assert schema.fingerprint_hex == fastavro_fingerprint(schema.canonical, "CRC-64-AVRO")


@pytest.mark.parametrize("filename", CONTRACT_SCHEMAS)
def test_canonical_form_strips_docs_defaults_and_logical_types(filename: str) -> None:
    canonical = load_schema(filename).canonical
    assert " " not in canonical  # compact, and the docs (the only prose) are gone
    for attribute in ('"doc"', '"default"', '"logicalType"', '"namespace"', '"precision"', '"scale"'):
        assert attribute not in canonical
    assert canonical.startswith('{"name":"netstream.publisher.v1.')


def test_canonical_form_of_meter_reading_by_hand() -> None:
    canonical = json.loads(load_schema("meter_reading.avsc").canonical)
    by_name = fields_of(canonical)
    assert by_name["event_id"]["type"] == "string"
    assert by_name["value"]["type"] == ["null", "bytes"]
    assert by_name["interval_end"]["type"] == "long"
    assert by_name["reading_type"]["type"]["name"] == "netstream.publisher.v1.ReadingType"


def test_load_schema_parses_each_file_once() -> None:
    assert load_schema("meter_reading.avsc") is load_schema("meter_reading.avsc")
    assert load_schema("meter_reading.avsc").name == "netstream.publisher.v1.MeterReading"
    assert load_schema("dead_letter.avsc").name == "netstream.publisher.v1.DeadLetter"


def test_schema_text_keeps_docs_defaults_and_logical_types() -> None:
    text = json.loads(load_schema("meter_reading.avsc").text)
    assert text == raw_schema("meter_reading.avsc")


def test_missing_schema_file_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"no_such\.avsc is missing"):
        load_schema("no_such.avsc")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "not a valid Avro schema"),
        ('{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nope"}]}', "not a valid"),
        ('"string"', "not a named Avro schema"),
    ],
)
def test_bad_schema_text_is_a_config_error(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        schema_from_json(text, origin="test schema")


def test_subject_uses_the_topic_name_strategy() -> None:
    assert subject_for("netstream.meter-readings.v1") == "netstream.meter-readings.v1-value"
    with pytest.raises(ConfigError, match="PUBLISHER_TOPIC"):
        subject_for("")


# ----------------------------------------------------------------------------------- the contract


def _walk_fields(schema: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(schema, list):
        for branch in schema:
            yield from _walk_fields(branch, path)
    elif isinstance(schema, dict) and schema.get("type") == "record":
        for field in schema["fields"]:
            yield f"{path}.{field['name']}", field
            yield from _walk_fields(field["type"], f"{path}.{field['name']}")


def all_schema_files() -> list[str]:
    directory = resources.files("publisher") / "schemas"
    return sorted(entry.name for entry in directory.iterdir() if entry.name.endswith(".avsc"))


def test_schema_discovery_finds_the_contract() -> None:
    assert set(CONTRACT_SCHEMAS) <= set(all_schema_files())


@pytest.mark.parametrize("filename", all_schema_files())
def test_every_field_and_named_type_of_every_schema_has_a_doc(filename: str) -> None:
    schema = raw_schema(filename)
    assert str(schema.get("doc", "")).strip(), f"{filename}: the record has no doc"
    fields = list(_walk_fields(schema, schema["name"]))
    assert fields
    undocumented = [path for path, field in fields if not str(field.get("doc", "")).strip()]
    assert undocumented == []
    named = [type_ for _, field in fields for type_ in _named_types(field["type"])]
    assert [type_["name"] for type_ in named if not str(type_.get("doc", "")).strip()] == []


def _named_types(schema: Any) -> Iterator[dict[str, Any]]:
    if isinstance(schema, list):
        for branch in schema:
            yield from _named_types(branch)
    elif isinstance(schema, dict):
        if "name" in schema:
            yield schema
        for key in ("items", "values"):
            if key in schema:
                yield from _named_types(schema[key])


def test_meter_reading_fields_in_contract_order() -> None:
    schema = raw_schema("meter_reading.avsc")
    assert schema["name"] == "MeterReading"
    assert schema["namespace"] == "netstream.publisher.v1"
    names = [field["name"] for field in schema["fields"]]
    assert names[:16] == [
        "event_id",
        "usage_point_mrid",
        "meter_mrid",
        "reading_type",
        "kind",
        "interval_start",
        "interval_end",
        "value",
        "quality_flags",
        "quality_codes",
        "revision",
        "previous_value",
        "reported_at",
        "polled_at",
        "source",
        "previous_quality_flags",
    ]
    extras = {field["name"]: field for field in schema["fields"][15:]}
    assert all(field["default"] is None and field["type"][0] == "null" for field in extras.values())


def test_meter_reading_field_types() -> None:
    fields = fields_of(raw_schema("meter_reading.avsc"))
    assert fields["event_id"]["type"] == UUID_STRING
    assert fields["usage_point_mrid"]["type"] == "string"
    assert fields["meter_mrid"]["type"] == ["null", "string"]
    assert fields["meter_mrid"]["default"] is None
    assert fields["interval_start"]["type"] == ["null", MICROS]
    assert fields["interval_end"]["type"] == MICROS
    assert fields["value"]["type"] == ["null", DECIMAL]
    assert fields["quality_flags"]["type"] == ["null", "int"]
    assert fields["quality_codes"]["type"] == {"type": "array", "items": "string"}
    assert fields["revision"]["type"] == "int"
    assert fields["previous_value"]["type"] == ["null", DECIMAL]
    assert fields["previous_value"]["default"] is None
    assert fields["reported_at"]["type"] == ["null", MICROS]
    assert fields["reported_at"]["default"] is None
    assert fields["polled_at"]["type"] == MICROS
    assert fields["timezone"]["type"] == ["null", "string"]


def test_reading_type_record_has_the_18_cim_fields_in_code_order() -> None:
    reading_type = fields_of(raw_schema("meter_reading.avsc"))["reading_type"]["type"]
    assert reading_type["name"] == "ReadingType"
    names = [field["name"] for field in reading_type["fields"]]
    assert names == [
        "mrid",
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
        "interval_seconds",
        "unit_symbol",
    ]
    types = {field["name"]: field["type"] for field in reading_type["fields"]}
    assert all(types[name] == "int" for name in names[1:19])
    assert types["mrid"] == "string"
    assert types["interval_seconds"] == ["null", "int"]
    assert types["unit_symbol"] == "string"


def test_enums_have_an_unknown_default_that_is_never_a_real_value() -> None:
    fields = fields_of(raw_schema("meter_reading.avsc"))
    kind, source = fields["kind"]["type"], fields["source"]["type"]
    assert kind["name"] == "ReadingKind"
    assert kind["symbols"] == ["INTERVAL", "REGISTER", "UNKNOWN"]
    assert kind["default"] == "UNKNOWN"
    assert source["name"] == "Source"
    assert source["symbols"] == ["SCHEDULED", "BACKFILL", "REPLAY", "UNKNOWN"]
    assert source["default"] == "UNKNOWN"
    stage = fields_of(raw_schema("dead_letter.avsc"))["stage"]["type"]
    assert stage["symbols"][-1] == stage["default"] == "UNKNOWN"


def test_dead_letter_fields() -> None:
    schema = raw_schema("dead_letter.avsc")
    assert (schema["name"], schema["namespace"]) == ("DeadLetter", "netstream.publisher.v1")
    fields = fields_of(schema)
    assert fields["dead_letter_id"]["type"] == UUID_STRING
    assert fields["reason"]["type"] == fields["error_type"]["type"] == "string"
    assert fields["stage"]["type"]["symbols"][:4] == ["FETCH", "PARSE", "VALIDATE", "ENCODE"]
    for name in ("usage_point_mrid", "reading_type"):
        assert fields[name]["type"] == ["null", "string"]
        assert fields[name]["default"] is None
    for name in ("window_start", "window_end"):
        assert fields[name]["type"] == ["null", MICROS]
        assert fields[name]["default"] is None
    assert fields["raw"]["type"] == "bytes"
    assert fields["raw_format"]["type"] == "string"
    assert fields["occurred_at"]["type"] == MICROS


def test_source_enum_is_the_same_type_in_both_schemas() -> None:
    reading_source = fields_of(raw_schema("meter_reading.avsc"))["source"]["type"]
    dead_letter_source = fields_of(raw_schema("dead_letter.avsc"))["source"]["type"]
    assert reading_source == dead_letter_source
