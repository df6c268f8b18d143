"""The prebuilt event writer (kafka/avro_generated.py): current, used, and writing what its text writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

import publisher.kafka.avro_generated as generated
from publisher.kafka.avro import SingleObjectCodec, load_schema
from publisher.kafka.avro_partial import compile_partial, partial_source
from publisher.kafka.avro_source import recording
from publisher.kafka.avro_writer import compile_writer
from publisher.kafka.state_codec import day_record_schema
from publisher.pipeline import writers
from publisher.pipeline.events import CANONICAL_FIELDS, VARYING_FIELDS
from support.avro_strategies import BASE, events, split

PREFIX = b"\xc3\x01" + bytes(8)  # a wire-format header as the codec puts before every record
#: a varying value each writer declines (leaves to the reference path), by field
DECLINED = [
    ("event_id", "not-an-id"),
    ("value", 0.5),
    ("quality_flags", True),
    ("quality_codes", ("\ud800",)),
]


def test_the_checked_in_module_is_the_one_the_schemas_render() -> None:
    checked_in = (Path(generated.__file__).parent / "avro_generated.py").read_text(encoding="utf-8")
    assert checked_in == writers.render(), "publisher/kafka/avro_generated.py is stale: run `make writers`"


def test_every_writer_the_pipeline_builds_for_events_and_state_is_in_the_module() -> None:
    sources = writers.prebuilt_sources()
    assert {source.digest() for source in sources} == set(generated.WRITERS)
    whats = {source.what for source in sources}
    assert {
        "the 10 varying fields of MeterReading",
        "the SeriesDayState record",
        "the ReadingType record",
    } <= whats


def test_the_event_codec_and_the_state_codec_build_only_prebuilt_writers() -> None:
    with recording() as built:
        codec = SingleObjectCodec(load_schema("meter_reading.avsc"))
        fixed = split(BASE)[0]
        assert codec.bind(VARYING_FIELDS, fixed, canonical=CANONICAL_FIELDS) is not None  # as the shard binds
        assert compile_writer(day_record_schema()) is not None
    assert built  # the codec built its writers here (not from a cache)
    assert {source.digest() for source in built} <= set(generated.WRITERS)


def test_a_text_in_the_module_is_built_by_its_factory_and_any_other_by_exec(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = partial_source(
        load_schema("meter_reading.avsc").parsed, VARYING_FIELDS, canonical=CANONICAL_FIELDS
    )
    assert found is not None
    source, _ = found

    def sentinel(*args: Any) -> bytes:
        return b"prebuilt"

    bound: list[dict[str, Any]] = []

    def factory(names: dict[str, Any]) -> Any:
        bound.append(names)
        return sentinel

    monkeypatch.setattr(generated, "WRITERS", {source.digest(): factory})
    assert source.build() is sentinel
    assert bound == [source.names]  # the constants the text names, bound from the same namespace
    assert source.build(prebuilt=False) is not sentinel  # the same text compiled at run time
    monkeypatch.setattr(generated, "WRITERS", {})
    assert source.build() is not sentinel


@settings(max_examples=150, deadline=None)
@given(events)
def test_the_prebuilt_writer_writes_and_declines_exactly_as_the_generated_text(
    fields: dict[str, Any],
) -> None:
    schema = load_schema("meter_reading.avsc").parsed
    prebuilt = compile_partial(schema, VARYING_FIELDS, canonical=CANONICAL_FIELDS)
    runtime = compile_partial(schema, VARYING_FIELDS, canonical=CANONICAL_FIELDS, prebuilt=False)
    assert prebuilt is not None
    assert runtime is not None
    assert prebuilt.write is not runtime.write
    fixed, values = split({**BASE, **fields})
    encode, reference = prebuilt.bind(PREFIX, fixed), runtime.bind(PREFIX, fixed)
    assert encode is not None
    assert reference is not None
    written = encode(*values)
    assert written is not None
    assert written == reference(*values)
    for name, bad in DECLINED:
        at = VARYING_FIELDS.index(name)
        changed = (*values[:at], bad, *values[at + 1 :])
        assert encode(*changed) is None
        assert reference(*changed) is None
