"""Property-based fuzzing: whatever the bytes, parse_response returns readings or raises ParseError.

Every successful parse is also checked against invariants that hold for any input: aware UTC times,
intervals that start before they end, plausible exact values, 16-bit flags, bounded one-line rejections.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from publisher.netstream.model import WireFormat
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


def test_every_prefix_of_a_document_is_either_parsed_or_a_parse_error() -> None:
    for fmt, doc in ((WireFormat.JSON, JSON_DOC), (WireFormat.XML, XML_DOC)):
        body = doc.encode()
        for cut in range(len(body)):
            parse_or_parse_error(body[:cut], fmt)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=JSON_VALUES)
def test_fuzz_arbitrary_json_values_only_ever_raise_parse_error(document: object) -> None:
    parse_or_parse_error(json.dumps(document).encode(), WireFormat.JSON)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inner=st.dictionaries(KEYS, JSON_VALUES, max_size=6), wrap=st.booleans())
def test_fuzz_json_objects_under_a_meter_reading(inner: dict[str, object], wrap: bool) -> None:
    document: dict[str, object] = {"meterReading": [inner]}
    parse_or_parse_error(json.dumps({"payload": document} if wrap else document).encode(), WireFormat.JSON)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=XML_TREES, root=st.sampled_from(["MeterReadings2", "m:MeterReadings2", "Payload"]))
def test_fuzz_arbitrary_xml_trees_only_ever_raise_parse_error(content: str, root: str) -> None:
    doc = (
        f'<{root} xmlns:m="urn:m" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<MeterReading>{content}</MeterReading></{root}>"
    )
    parse_or_parse_error(doc.encode(), WireFormat.XML)


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=512), fmt=st.sampled_from(list(WireFormat)))
def test_fuzz_arbitrary_bytes_only_ever_raise_parse_error(body: bytes, fmt: WireFormat) -> None:
    parse_or_parse_error(body, fmt)


@settings(max_examples=100, deadline=None)
@given(
    fmt=st.sampled_from(list(WireFormat)),
    position=st.floats(min_value=0, max_value=1),
    junk=st.binary(min_size=1, max_size=8),
    replace=st.booleans(),
)
def test_fuzz_corrupted_documents_only_ever_raise_parse_error(
    fmt: WireFormat, position: float, junk: bytes, replace: bool
) -> None:
    body = (JSON_DOC if fmt is WireFormat.JSON else XML_DOC).encode()
    at = int(position * len(body))
    corrupted = body[:at] + junk + body[at + (len(junk) if replace else 0) :]
    parse_or_parse_error(corrupted, fmt)


# Near-valid documents: every member is either plausible or arbitrary, so the fuzzer reaches the value,
# quality and time code (not only the decoders) and checks the readings it does produce.


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(meter_readings=st.lists(METER_READING, min_size=1, max_size=2))
def test_fuzz_near_valid_documents_in_both_formats(meter_readings: list[dict[str, object]]) -> None:
    parse_or_parse_error(json.dumps({"meterReading": meter_readings}).encode(), WireFormat.JSON)
    body = "".join(to_xml("MeterReading", item) for item in meter_readings)
    xml = f'<MeterReadings2 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{body}</MeterReadings2>'
    parse_or_parse_error(xml.encode("utf-8", "surrogatepass"), WireFormat.XML)
