"""Scenario 7, bad input: every bad body ends as a dead letter or a typed error; nothing crashes or hangs.

- Generated bodies (hypothesis) over the parser, the configuration loader and the registry loader:
  ``scale(short, full)`` examples each; the full form (``make chaos``) runs more than 10,000 in all.
- Huge hostile bodies stay within a tracemalloc bound proportional to their size.
- Every corpus body (``tests/corpus/parser``) published through the real pipeline and broker becomes
  dead-letter records in Kafka: one per rejected element, or one for a body that could not be read at all.
- End to end: the simulator serves malformed bodies for one usage point; its windows become dead letters
  while the other usage points' data is published exactly as the simulator's ground truth.

Each test prints a ``bad_input_figures`` line with what it measured (``pytest -s`` shows them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from publisher.app import build_service
from publisher.errors import ParseError
from publisher.kafka.avro import ReadingDecoder, load_schema
from publisher.netstream.client import FetchedWindow
from publisher.netstream.model import ReadingsRequest, Target, TargetKind, WireFormat
from publisher.netstream.parser import ParsedResponse, Rejected
from publisher.pipeline.events import Source
from publisher.pipeline.runner import group_targets
from publisher.simulator.clock import SimClock
from publisher.simulator.faults import FaultRule
from publisher.simulator.server import SimulatorServer
from support.bad_input import (
    HANG_BOUND,
    HUGE,
    MEMORY_BASE,
    MEMORY_FACTOR,
    Raised,
    body_of,
    corpus,
    peak_of,
    timed,
    wire_format,
)
from support.chaos import scale
from support.config_strategies import (
    CONFIG_DOCUMENTS,
    CSV_HEADER,
    CSV_TEXTS,
    ENVIRONMENTS,
    REGISTRY_DOCUMENTS,
    load_or_config_error,
    parse_or_config_error,
    yaml_text,
)
from support.kafka import read_committed
from support.parser_strategies import (
    JSON_DOC,
    JSON_VALUES,
    KEYS,
    METER_READING,
    XML_DOC,
    XML_TREES,
    parse_or_parse_error,
    to_xml,
)
from support.pipeline import FORWARD, fact_of_event, read_events, small_config, truth, wiring, write_registry

#: examples per generated-input test: 6 parser tests + config + registry = 8 x 1,500 = 12,000 in full
EXAMPLES = scale(25, 1_500)
_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


class _Count:
    """Examples run by one property test, and the slowest one."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.examples = 0
        self.slowest = 0.0

    def run(self, action: object) -> None:
        outcome, seconds = timed(action)  # type: ignore[arg-type]  # any zero-argument callable
        if isinstance(outcome, Raised):
            raise outcome.error  # a crash: the helpers return the typed errors, they raise nothing else
        assert seconds < HANG_BOUND, f"{self.name}: one input took {seconds:.1f}s"
        self.examples += 1
        self.slowest = max(self.slowest, seconds)

    def report(self) -> None:
        print(
            f"bad_input_figures test={self.name} examples={self.examples} crashes=0 "
            f"hangs=0 slowest_s={self.slowest:.3f}"
        )


@pytest.fixture
def count(request: pytest.FixtureRequest) -> Iterator[_Count]:
    counter = _Count(request.node.name)
    yield counter
    counter.report()


# ------------------------------------------------------------------------------------------ generated bodies


def test_generated_json_values(count: _Count) -> None:
    @_SETTINGS
    @given(document=JSON_VALUES)
    def check(document: object) -> None:
        count.run(lambda: parse_or_parse_error(json.dumps(document).encode(), WireFormat.JSON))

    check()


def test_generated_objects_under_a_meter_reading(count: _Count) -> None:
    @_SETTINGS
    @given(inner=st.dictionaries(KEYS, JSON_VALUES, max_size=6), wrap=st.booleans())
    def check(inner: dict[str, object], wrap: bool) -> None:
        document: dict[str, object] = {"meterReading": [inner]}
        body = json.dumps({"payload": document} if wrap else document).encode()
        count.run(lambda: parse_or_parse_error(body, WireFormat.JSON))

    check()


def test_generated_xml_trees(count: _Count) -> None:
    @_SETTINGS
    @given(content=XML_TREES, root=st.sampled_from(["MeterReadings2", "m:MeterReadings2", "Payload", "x"]))
    def check(content: str, root: str) -> None:
        doc = (
            f'<{root} xmlns:m="urn:m" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<MeterReading>{content}</MeterReading></{root}>"
        )
        count.run(lambda: parse_or_parse_error(doc.encode(), WireFormat.XML))

    check()


def test_generated_bytes(count: _Count) -> None:
    @_SETTINGS
    @given(body=st.binary(max_size=2048), fmt=st.sampled_from(list(WireFormat)))
    def check(body: bytes, fmt: WireFormat) -> None:
        count.run(lambda: parse_or_parse_error(body, fmt))

    check()


def test_generated_corruptions_and_truncations(count: _Count) -> None:
    @_SETTINGS
    @given(
        fmt=st.sampled_from(list(WireFormat)),
        position=st.floats(min_value=0, max_value=1),
        junk=st.binary(max_size=8),
        replace=st.booleans(),
        truncate=st.booleans(),
    )
    def check(fmt: WireFormat, position: float, junk: bytes, replace: bool, truncate: bool) -> None:
        body = (JSON_DOC if fmt is WireFormat.JSON else XML_DOC).encode()
        at = int(position * len(body))
        changed = body[:at] if truncate else body[:at] + junk + body[at + (len(junk) if replace else 0) :]
        count.run(lambda: parse_or_parse_error(changed, fmt))

    check()


def test_generated_near_valid_documents(count: _Count) -> None:
    @_SETTINGS
    @given(
        meter_readings=st.lists(METER_READING, min_size=1, max_size=2), fmt=st.sampled_from(list(WireFormat))
    )
    def check(meter_readings: list[dict[str, object]], fmt: WireFormat) -> None:
        if fmt is WireFormat.JSON:
            body = json.dumps({"meterReading": meter_readings}).encode()
        else:
            inner = "".join(to_xml("MeterReading", item) for item in meter_readings)
            xsi = "http://www.w3.org/2001/XMLSchema-instance"
            body = f'<MeterReadings2 xmlns:xsi="{xsi}">{inner}</MeterReadings2>'.encode(
                "utf-8", "surrogatepass"
            )
        count.run(lambda: parse_or_parse_error(body, fmt))

    check()


def test_generated_configurations(count: _Count, tmp_path: Path) -> None:
    @_SETTINGS
    @given(document=CONFIG_DOCUMENTS, environ=ENVIRONMENTS, raw=st.none() | st.text(max_size=300))
    def check(document: dict[str, object], environ: dict[str, str], raw: str | None) -> None:
        text = yaml_text(document) if raw is None else raw
        count.run(lambda: load_or_config_error(text, environ, tmp_path))

    check()


def test_generated_registries(count: _Count) -> None:
    @_SETTINGS
    @given(document=REGISTRY_DOCUMENTS, rows=CSV_TEXTS, header=st.booleans(), pick=st.integers(0, 2))
    def check(document: object, rows: str, header: bool, pick: int) -> None:
        if pick == 0:
            text, source = yaml_text(document), "r.yaml"
        else:
            text, source = (CSV_HEADER if header else "") + rows, "r.csv" if pick == 1 else "r.yaml"
        count.run(lambda: parse_or_config_error(text, source))

    check()


# ------------------------------------------------------------------------------------------ memory


@pytest.mark.timeout(scale(120, 3600))
def test_huge_hostile_bodies_stay_within_the_memory_bound() -> None:
    size = scale(64 * 1024, 4 * 1024 * 1024)
    worst = 0.0
    for shape, (fmt, make) in sorted(HUGE.items()):
        body = make(size)
        peak, seconds = peak_of(body, fmt, max_bytes=len(body))
        print(
            f"bad_input_figures memory shape={shape} body_bytes={len(body)} peak_bytes={peak} s={seconds:.2f}"
        )
        assert peak <= MEMORY_FACTOR * len(body) + MEMORY_BASE, shape
        worst = max(worst, peak / len(body))
    print(f"bad_input_figures memory worst_peak_per_body_byte={worst:.1f}")


# ------------------------------------------------------------------------------------------ pipeline

T0 = datetime(2025, 4, 8, 1, 0, tzinfo=UTC)


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    server = SimulatorServer(small_config(4), clock=SimClock(T0))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _dead_letters(bootstrap: str, topic: str) -> list[dict[str, object]]:
    decoder = ReadingDecoder(load_schema("dead_letter.avsc"))
    return [decoder.decode(r.value) for r in read_committed(bootstrap, topic) if r.value]


def test_every_corpus_body_becomes_dead_letters_in_kafka(
    sim: SimulatorServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = wiring(sim, kafka_bootstrap, write_registry(tmp_path / "r.yaml", sim.config)).settings()
    service = build_service(settings, clock=sim.clock.now)
    start = T0 - timedelta(hours=2)
    request = ReadingsRequest((Target(TargetKind.USAGE_POINT, "up-000"),), ("x",), start, T0)
    expected = 0
    bodies = corpus("parser")
    try:
        service.start()
        for path in bodies:
            parsed = parse_or_parse_error(body_of(path), wire_format(path))
            if isinstance(parsed, ParseError):  # what the runner does once the client's retries ran out
                stats = service.shard.publish_dead_letter(
                    Rejected(parsed.message, parsed.fragment), start, T0, source=Source.SCHEDULED
                )
                assert stats.dlq == 1
            else:
                assert isinstance(parsed, ParsedResponse)
                window = FetchedWindow(request=request, parsed=parsed, raw_format=wire_format(path))
                stats = service.shard.publish(window, source=Source.SCHEDULED)
                assert stats.dlq >= len(parsed.rejected) >= 1, path.name
            expected += stats.dlq
    finally:
        service.close()

    letters = _dead_letters(kafka_bootstrap, settings.publisher_dlq_topic)
    assert len(letters) == expected >= len(bodies)
    for letter in letters:
        assert letter["reason"]
        assert letter["stage"] in {"PARSE", "ENCODE"}
    print(f"bad_input_figures pipeline corpus_bodies={len(bodies)} dead_letters={len(letters)} crashes=0")


def test_malformed_bodies_from_the_simulator_are_dead_letters_while_good_data_flows(
    sim: SimulatorServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    bad = "up-001"
    sim.faults.add(FaultRule("malformed", times=None, match_body=bad))
    # the bad usage point is polled in a request group of its own (its reading types differ): a window
    # that stays unreadable ends the rest of its group's windows for the cycle (they are retried next cycle)
    registry = write_registry(tmp_path / "r.yaml", sim.config)
    lines = registry.read_text(encoding="utf-8").splitlines()
    at = lines.index(f"  - mrid: {bad}") + 2
    assert lines[at].startswith("    reading_types:")
    lines[at] = f"    reading_types: [{FORWARD}]"
    registry.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {"NETSTREAM_MAX_RETRIES": "1"}
    settings = wiring(sim, kafka_bootstrap, registry).settings(**env)
    lookback = timedelta(hours=12)
    service = build_service(settings, clock=sim.clock.now)
    try:
        service.start()
        plan = settings.publisher_plans[0]
        stats = service.runner.cycle(plan.name, group_targets(service.registry, plan.reading_types), lookback)
    finally:
        service.close()

    letters = _dead_letters(kafka_bootstrap, settings.publisher_dlq_topic)
    assert stats.failed_windows >= 1
    assert len(letters) == stats.dlq >= 1
    assert all(letter["stage"] == "PARSE" and "not valid JSON" in str(letter["reason"]) for letter in letters)
    assert all(letter["raw"] for letter in letters)
    events = read_events(kafka_bootstrap, settings.publisher_topic)
    start = (T0 - lookback).replace(minute=0, second=0, microsecond=0)
    good = {fact for fact in truth(sim, sim.config, start, T0) if fact[0] != bad}
    assert good
    assert {fact_of_event(e) for e in events} == good
    assert len(events) == len(good)
    print(f"bad_input_figures e2e dead_letters={len(letters)} good_events={len(events)} lost=0")
