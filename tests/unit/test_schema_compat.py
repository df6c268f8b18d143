"""Every schema stays backward and forward compatible with its released versions; breaking changes are caught.

The checker is :mod:`publisher.kafka.compat`. Apache Avro's own checker (the ``avro`` package) is the
reference for the structural rules; it ignores logical types, which ours does not.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import avro.schema
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from publisher.kafka.compat import Incompatibility, compatibility_problems, reader_problems

#: schemas allowed to have no released copy yet (the internal state record, until its first release)
UNRELEASED_ALLOWED = {"series_state.avsc"}

SCHEMAS = resources.files("publisher") / "schemas"
RELEASED = SCHEMAS / "released"


def load(entry: Traversable) -> Any:
    return json.loads(entry.read_text(encoding="utf-8"))


def current_schemas() -> list[str]:
    return sorted(entry.name for entry in SCHEMAS.iterdir() if entry.name.endswith(".avsc"))


def released_versions(filename: str) -> dict[int, Traversable]:
    stem = filename.removesuffix(".avsc")
    found = {}
    for entry in RELEASED.iterdir():
        name, _, version = entry.name.removesuffix(".avsc").rpartition(".")
        if name == stem and entry.name.endswith(".avsc") and version.isdigit():
            found[int(version)] = entry
    return found


RELEASED_PAIRS = [
    pytest.param(filename, version, id=f"{filename}@{version}")
    for filename in current_schemas()
    for version in sorted(released_versions(filename))
]


def test_the_contract_schemas_are_released() -> None:
    assert {"meter_reading.avsc", "dead_letter.avsc"} <= set(current_schemas())
    unreleased = [name for name in current_schemas() if not released_versions(name)]
    assert set(unreleased) <= UNRELEASED_ALLOWED
    assert RELEASED_PAIRS


@pytest.mark.parametrize(("filename", "version"), RELEASED_PAIRS)
def test_schema_is_backward_and_forward_compatible_with_each_release(filename: str, version: int) -> None:
    current = load(SCHEMAS / filename)
    released = load(released_versions(filename)[version])
    assert released["name"] == current["name"]
    assert released.get("namespace") == current.get("namespace")
    assert compatibility_problems(current, released) == []


def test_the_released_folder_explains_how_to_release() -> None:
    readme = (RELEASED / "README.md").read_text(encoding="utf-8")
    assert "How to release a new version" in readme
    assert "meter_reading.2.avsc" in readme


# ----------------------------------------------------------------------------- breaking changes


def meter_reading() -> dict[str, Any]:
    loaded: dict[str, Any] = copy.deepcopy(load(SCHEMAS / "meter_reading.avsc"))
    return loaded


def field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(entry for entry in schema["fields"] if entry["name"] == name)


def changed(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    schema = meter_reading()
    edit(schema)
    return schema


def add_required_field(schema: dict[str, Any]) -> None:
    schema["fields"].append({"name": "tariff", "type": "string", "doc": "A tariff."})


def remove_enum_symbol_without_default(schema: dict[str, Any]) -> None:
    kind = field(schema, "kind")["type"]
    kind["symbols"].remove("REGISTER")
    del kind["default"]


def revision_as_string(schema: dict[str, Any]) -> None:
    field(schema, "revision")["type"] = "string"


def remove_required_field(schema: dict[str, Any]) -> None:
    schema["fields"] = [entry for entry in schema["fields"] if entry["name"] != "polled_at"]


def meter_not_nullable(schema: dict[str, Any]) -> None:
    del field(schema, "meter_mrid")["default"]
    field(schema, "meter_mrid")["type"] = "string"


def rename_record(schema: dict[str, Any]) -> None:
    schema["name"] = "Reading"


def nested_type_change(schema: dict[str, Any]) -> None:
    reading_type = field(schema, "reading_type")["type"]
    field(reading_type, "unit_symbol")["type"] = "int"


def quality_codes_as_ints(schema: dict[str, Any]) -> None:
    field(schema, "quality_codes")["type"]["items"] = "int"


def decimal_scale(schema: dict[str, Any]) -> None:
    field(schema, "value")["type"][1]["scale"] = 4


def timestamp_millis(schema: dict[str, Any]) -> None:
    field(schema, "interval_end")["type"]["logicalType"] = "timestamp-millis"


BREAKING = {
    "new field without default": (add_required_field, "backward", "MeterReading.tariff: field is missing"),
    "enum symbol removed, no default": (
        remove_enum_symbol_without_default,
        "backward",
        r"lacks symbol\(s\) REGISTER",
    ),
    "type change": (revision_as_string, "backward", "MeterReading.revision: int cannot be read as string"),
    "required field removed": (remove_required_field, "forward", "MeterReading.polled_at: field is missing"),
    "nullable made required": (meter_not_nullable, "backward", "no branch|null cannot be read as string"),
    "record renamed": (rename_record, "backward", "record MeterReading cannot be read as record Reading"),
    "nested field type": (nested_type_change, "backward", r"MeterReading\.reading_type\.unit_symbol"),
    "array item type": (quality_codes_as_ints, "backward", r"MeterReading\.quality_codes\.items"),
    "decimal scale": (
        decimal_scale,
        "backward",
        r"logical type changed from decimal\(28,6\) to decimal\(28,4\)",
    ),
    "timestamp unit": (timestamp_millis, "backward", "from timestamp-micros to timestamp-millis"),
}


@pytest.mark.parametrize(("edit", "direction", "match"), BREAKING.values(), ids=BREAKING.keys())
def test_breaking_changes_are_reported(
    edit: Callable[[dict[str, Any]], None], direction: str, match: str
) -> None:
    problems = compatibility_problems(changed(edit), meter_reading())
    assert problems
    assert any(problem.startswith(direction) for problem in problems)
    assert any(re.search(match, problem) for problem in problems), problems


def add_optional_field(schema: dict[str, Any]) -> None:
    schema["fields"].append(
        {"name": "tariff", "type": ["null", "string"], "default": None, "doc": "A tariff."}
    )


def add_enum_symbol(schema: dict[str, Any]) -> None:
    field(schema, "source")["type"]["symbols"].insert(3, "MANUAL")


def remove_defaulted_field(schema: dict[str, Any]) -> None:
    schema["fields"] = [entry for entry in schema["fields"] if entry["name"] != "timezone"]


def reword_docs(schema: dict[str, Any]) -> None:
    schema["doc"] = "Reworded."
    field(schema, "value")["doc"] = "Reworded too."


def rename_record_with_alias(schema: dict[str, Any]) -> None:
    schema["name"] = "Reading"
    schema["aliases"] = ["MeterReading"]


COMPATIBLE = {
    "optional field added": add_optional_field,
    "enum symbol added (enum has a default)": add_enum_symbol,
    "defaulted field removed": remove_defaulted_field,
    "docs reworded": reword_docs,
}


@pytest.mark.parametrize("edit", COMPATIBLE.values(), ids=COMPATIBLE.keys())
def test_compatible_changes_pass_both_ways(edit: Callable[[dict[str, Any]], None]) -> None:
    assert compatibility_problems(changed(edit), meter_reading()) == []


def test_rename_with_alias_is_backward_compatible_only() -> None:
    renamed = changed(rename_record_with_alias)
    assert reader_problems(renamed, meter_reading()) == []
    assert reader_problems(meter_reading(), renamed) != []


def test_promotion_is_backward_compatible_only() -> None:
    def revision_as_long(schema: dict[str, Any]) -> None:
        field(schema, "revision")["type"] = "long"

    problems = compatibility_problems(changed(revision_as_long), meter_reading())
    assert problems == ["forward (old reads new) MeterReading.revision: long cannot be read as int"]


# ------------------------------------------------------------------------------ checker rules


def record(name: str, *fields: tuple[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, "fields": [{"name": n, "type": t} for n, t in fields], **extra}


def test_writer_union_needs_every_branch_readable() -> None:
    writer = record("R", ("x", ["null", "int", "string"]))
    assert reader_problems(record("R", ("x", ["null", "long", "string"])), writer) == []
    problems = reader_problems(record("R", ("x", ["null", "int"])), writer)
    assert problems == [Incompatibility("R.x", "the reader's union has no branch that reads string")]
    assert reader_problems(record("R", ("x", "int")), record("R", ("x", ["int"]))) == []


def test_reader_union_needs_one_branch_for_the_writer() -> None:
    assert reader_problems(record("R", ("x", ["null", "double"])), record("R", ("x", "int"))) == []
    problems = reader_problems(record("R", ("x", ["null", "string"])), record("R", ("x", "int")))
    assert problems == [Incompatibility("R.x", "the reader's union has no branch that reads int")]


def test_maps_fixed_and_field_aliases() -> None:
    writer = record(
        "R", ("m", {"type": "map", "values": "int"}), ("f", {"type": "fixed", "name": "F", "size": 4})
    )
    same = record(
        "R", ("m", {"type": "map", "values": "long"}), ("f", {"type": "fixed", "name": "F", "size": 4})
    )
    assert reader_problems(same, writer) == []
    resized = record(
        "R", ("m", {"type": "map", "values": "int"}), ("f", {"type": "fixed", "name": "F", "size": 8})
    )
    assert reader_problems(resized, writer) == [Incompatibility("R.f", "fixed size changed from 4 to 8")]
    strings = record(
        "R", ("m", {"type": "map", "values": "string"}), ("f", {"type": "fixed", "name": "F", "size": 4})
    )
    assert [str(problem) for problem in reader_problems(strings, writer)] == [
        "R.m.values: int cannot be read as string"
    ]
    aliased = {
        "type": "record",
        "name": "R",
        "fields": [{"name": "n", "aliases": ["m"], "type": {"type": "map", "values": "int"}}],
    }
    assert reader_problems(aliased, writer) == []


def test_recursive_and_referenced_named_types() -> None:
    linked: dict[str, Any] = {
        "type": "record",
        "name": "Node",
        "namespace": "t",
        "fields": [{"name": "value", "type": "int"}, {"name": "next", "type": ["null", "t.Node"]}],
    }
    longer = copy.deepcopy(linked)
    longer["fields"][0]["type"] = "long"
    assert reader_problems(longer, linked) == []
    assert [str(problem) for problem in reader_problems(linked, longer)] == [
        "Node.value: long cannot be read as int"
    ]
    enum = {"type": "enum", "name": "E", "symbols": ["A", "B"]}
    pair = record("P", ("first", enum), ("second", "E"))
    narrower = record("P", ("first", {**enum, "symbols": ["A"]}), ("second", "E"))
    assert len(reader_problems(narrower, pair)) == 2  # both the definition and the reference


# --------------------------------------------------------------------------- reference checker


def apache_compatible(reader: Any, writer: Any) -> bool:
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]  # avro ships no annotations
    result = checker.get_compatibility(
        avro.schema.parse(json.dumps(reader)), avro.schema.parse(json.dumps(writer))
    )
    return result.compatibility is SchemaCompatibilityType.compatible


STRUCTURAL = [
    add_required_field,
    remove_enum_symbol_without_default,
    revision_as_string,
    remove_required_field,
    meter_not_nullable,
    nested_type_change,
    quality_codes_as_ints,
    add_optional_field,
    add_enum_symbol,
    remove_defaulted_field,
    reword_docs,
]


@pytest.mark.parametrize("edit", STRUCTURAL, ids=[edit.__name__ for edit in STRUCTURAL])
def test_agrees_with_the_apache_avro_checker_on_structural_changes(
    edit: Callable[[dict[str, Any]], None],
) -> None:
    new, old = changed(edit), meter_reading()
    assert (reader_problems(new, old) == []) == apache_compatible(new, old)
    assert (reader_problems(old, new) == []) == apache_compatible(old, new)


@pytest.mark.parametrize("edit", [decimal_scale, timestamp_millis], ids=["decimal scale", "timestamp unit"])
def test_logical_type_changes_are_caught_where_the_apache_checker_is_blind(
    edit: Callable[[dict[str, Any]], None],
) -> None:
    new, old = changed(edit), meter_reading()
    assert apache_compatible(new, old)
    assert reader_problems(new, old) != []
