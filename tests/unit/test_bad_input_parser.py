"""The parser over the bad-input corpus: a ParseError or dead letters, never a crash, a hang or a fetch.

Complements test_parser_malformed.py (one hostile document each), test_parser_rejected.py (per-element
reasons) and test_parser_fuzz.py (generated bodies): here every file of ``tests/corpus/parser`` is run,
external references in the corpus point at a loopback server that must see no request, and huge hostile
bodies stay within a memory bound proportional to their size.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from publisher.errors import ParseError
from publisher.netstream.localtime import PLAUSIBLE_YEARS
from publisher.netstream.model import WireFormat
from publisher.netstream.parser import ParsedResponse
from support.bad_input import (
    HANG_BOUND,
    HUGE,
    MEMORY_BASE,
    MEMORY_FACTOR,
    Raised,
    body_of,
    corpus,
    counting_server,
    peak_of,
    timed,
    wire_format,
)
from support.parser_strategies import RT30, UP, parse_or_parse_error

PARSER_CORPUS = corpus("parser")


@pytest.mark.parametrize("path", PARSER_CORPUS, ids=lambda p: p.name)
def test_every_corpus_body_is_a_parse_error_or_dead_letters(path: Path) -> None:
    outcome, seconds = timed(lambda: parse_or_parse_error(body_of(path), wire_format(path)))
    if isinstance(outcome, Raised):
        raise outcome.error  # a crash: anything raised fails the test with its own traceback
    assert seconds < HANG_BOUND
    if isinstance(outcome, ParsedResponse):
        assert outcome.rejected, "a bad body must leave at least one dead letter, never pass silently"


def test_the_corpus_covers_every_kind_of_bad_input() -> None:
    for kind in (
        "truncated",
        "deep_nesting",
        "billion_laughs",
        "xxe_http",
        "xxe_file",
        "wrong_type",
        "nan_infinity",
        "negative_interval",
        "unknown_reading_type",
        "date_year_9999",
        "bad_utf8",
    ):
        for suffix in (".json", ".xml"):
            if kind.startswith(("xxe", "billion")) and suffix == ".json":
                continue
            assert any(kind in p.name and p.suffix == suffix for p in PARSER_CORPUS), (kind, suffix)


def test_external_entities_in_the_corpus_are_never_fetched(tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("CANARY-8d1f0c2e-not-for-the-parser", encoding="utf-8")
    referencing = [p for p in PARSER_CORPUS if b"{{" in p.read_bytes() or b"SYSTEM" in p.read_bytes()]
    assert len(referencing) >= 8
    with counting_server() as server:
        for path in referencing:
            body = body_of(path, http_url=server.url, canary_file_url=canary.as_uri())
            outcome, _ = timed(lambda body=body, path=path: parse_or_parse_error(body, wire_format(path)))
            if isinstance(outcome, ParseError):
                seen = outcome.message + outcome.fragment
            elif isinstance(outcome, ParsedResponse):
                seen = json.dumps(
                    [r.reason + r.fragment for r in outcome.rejected] + [repr(outcome.readings)]
                )
            else:
                pytest.fail(f"{path.name}: {outcome!r}")
            assert "CANARY-8d1f0c2e" not in seen
            assert "FETCHED-OVER-HTTP" not in seen
            assert "root:" not in seen  # nothing of /etc/passwd
        # parsing is synchronous: a fetch made by the parser would have been served by now
        assert server.hits == 0


def _json_doc(start: str) -> bytes:
    return json.dumps(
        {
            "meterReading": [
                {
                    "usagePoint": {"mRID": UP},
                    "readingType": {"mRID": RT30},
                    "intervalBlockInts": [{"timePeriod": {"start": start}, "values": [1, 2]}],
                }
            ]
        }
    ).encode()


@pytest.mark.parametrize("start", ["9999-12-31T23:30:00", "0001-01-01T00:00:00", "1900-01-01T00:00:00"])
def test_implausible_years_are_dead_letters_not_readings(start: str) -> None:
    # 9999-12-31 used to pass the parser and then overflow dedup's next-day arithmetic in the pipeline
    outcome = parse_or_parse_error(_json_doc(start), WireFormat.JSON)
    assert isinstance(outcome, ParsedResponse)
    assert outcome.readings == []
    (rejected,) = outcome.rejected
    assert "plausible years" in rejected.reason


def test_the_plausible_years_are_kept() -> None:
    first, last = PLAUSIBLE_YEARS
    for start in (f"{first}-01-02T00:00:00", f"{last}-12-30T00:00:00"):
        outcome = parse_or_parse_error(_json_doc(start), WireFormat.JSON)
        assert isinstance(outcome, ParsedResponse)
        assert len(outcome.readings) == 2
        assert outcome.rejected == []


@pytest.mark.parametrize("value", ['"none"', "1e999999999999999", "true", "42"])
def test_a_meter_reading_that_is_a_single_value_is_a_dead_letter(value: str) -> None:
    body = f'{{"meterReading": {value}}}'.encode()
    outcome = parse_or_parse_error(body, WireFormat.JSON)
    assert isinstance(outcome, ParsedResponse)
    (rejected,) = outcome.rejected
    assert "meterReading is a single value" in rejected.reason
    xml = f"<MeterReadings2><MeterReading>{value}</MeterReading></MeterReadings2>".encode()
    outcome = parse_or_parse_error(xml, WireFormat.XML)
    assert isinstance(outcome, ParsedResponse)
    assert len(outcome.rejected) == 1


@pytest.mark.parametrize("shape", sorted(HUGE))
def test_huge_hostile_bodies_have_bounded_memory(shape: str) -> None:
    fmt, make = HUGE[shape]
    body = make(128 * 1024)
    peak, _ = peak_of(body, fmt, max_bytes=len(body))  # (no time bound: tracemalloc slows parsing a lot)
    assert peak <= MEMORY_FACTOR * len(body) + MEMORY_BASE


def test_a_body_over_the_size_limit_is_refused_before_it_is_decoded() -> None:
    body = b'{"meterReading": [' + b"[]," * (1 << 20) + b"[]]}"
    peak, _ = peak_of(body, WireFormat.JSON, max_bytes=1 << 20)
    assert peak < 1 << 20  # nothing but the bounded excerpt was built
