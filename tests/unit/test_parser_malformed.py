"""Hostile and broken documents: ParseError, never another exception, never a hang, never a fetch.

pytest-timeout guards every test against hangs. Per-element problems are in test_parser_rejected.py and
the property-based fuzzers in test_parser_fuzz.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from publisher.errors import ParseError
from publisher.netstream.model import WireFormat
from publisher.netstream.parse_fragment import FRAGMENT_LIMIT
from publisher.netstream.parser import ParsedResponse, parse_response
from support.parser_strategies import JSON_DOC, NZ, XML_DOC


def parse(
    body: bytes | str, fmt: WireFormat = WireFormat.JSON, *, max_bytes: int = 1 << 20
) -> ParsedResponse:
    data = body.encode() if isinstance(body, str) else body
    return parse_response(data, fmt, default_zone=NZ, max_bytes=max_bytes)


def test_the_well_formed_baselines_parse() -> None:
    for body, fmt in ((JSON_DOC, WireFormat.JSON), (XML_DOC, WireFormat.XML)):
        result = parse(body, fmt)
        assert result.rejected == []
        assert [r.value for r in result.readings] == [
            Decimal("0.5"),
            None,
            Decimal("0.25"),
            Decimal(1),
            Decimal("10.5"),
        ]


# --------------------------------------------------------------------------------------------- XML attacks

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<MeterReadings2><MeterReading><UsagePoint><mRID>&lol9;</mRID></UsagePoint></MeterReading></MeterReadings2>
"""


def test_billion_laughs_is_refused() -> None:
    with pytest.raises(ParseError, match="DTD or entities") as caught:
        parse(BILLION_LAUGHS, WireFormat.XML)
    assert len(caught.value.fragment) <= FRAGMENT_LIMIT
    assert "lollollol" not in caught.value.fragment


def test_external_entity_never_reads_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER-5b1e")
    for target in ("file:///etc/passwd", secret.as_uri()):
        doc = f"""<?xml version="1.0"?>
<!DOCTYPE MeterReadings2 [<!ENTITY xxe SYSTEM "{target}">]>
<MeterReadings2><MeterReading><UsagePoint><mRID>&xxe;</mRID></UsagePoint></MeterReading></MeterReadings2>"""
        with pytest.raises(ParseError) as caught:
            parse(doc, WireFormat.XML)
        text = caught.value.message + caught.value.fragment
        assert "TOP-SECRET-MARKER" not in text
        assert "root:" not in text


class _CountingHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.hits += 1  # type: ignore[attr-defined]  # counter set on the server by the fixture
        body = b'<!ENTITY xxe "FETCHED-OVER-HTTP">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  # signature fixed by the base class
        """Keep the test output clean."""


@pytest.fixture
def dtd_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
    server.hits = 0  # type: ignore[attr-defined]  # a plain counter the handler increments
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_external_dtd_and_parameter_entities_are_never_fetched(dtd_server: ThreadingHTTPServer) -> None:
    url = f"http://127.0.0.1:{dtd_server.server_address[1]}/evil.dtd"
    root = "<MeterReadings2>&xxe;</MeterReadings2>"
    docs = [
        f'<?xml version="1.0"?><!DOCTYPE MeterReadings2 SYSTEM "{url}">{root}',
        f'<?xml version="1.0"?><!DOCTYPE MeterReadings2 [<!ENTITY % remote SYSTEM "{url}"> %remote;]>{root}',
        f'<?xml version="1.0"?><!DOCTYPE MeterReadings2 [<!ENTITY xxe SYSTEM "{url}">]>{root}',
    ]
    for doc in docs:
        with pytest.raises(ParseError) as caught:
            parse(doc, WireFormat.XML)
        assert "FETCHED-OVER-HTTP" not in caught.value.message + caught.value.fragment
    # Parsing is synchronous: had the parser fetched anything, the request would have been served by now.
    assert dtd_server.hits == 0  # type: ignore[attr-defined]


def test_a_plain_dtd_is_refused() -> None:
    with pytest.raises(ParseError, match="DTD"):
        parse('<?xml version="1.0"?><!DOCTYPE MeterReadings2><MeterReadings2/>', WireFormat.XML)


def test_unknown_or_multibyte_xml_encodings_are_parse_errors() -> None:
    for encoding in ("x-no-such-encoding", "shift_jis", "utf-7"):
        doc = f'<?xml version="1.0" encoding="{encoding}"?><MeterReadings2/>'
        with pytest.raises(ParseError, match="encoding"):
            parse(doc, WireFormat.XML)


def test_an_unexpected_xml_root_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="root is <html>"):
        parse("<html><body>Service Unavailable</body></html>", WireFormat.XML)


def test_deeply_nested_xml_does_not_exhaust_the_stack() -> None:
    depth = 20_000
    doc = "<MeterReadings2>" + "<a>" * depth + "</a>" * depth + "</MeterReadings2>"
    assert parse(doc, WireFormat.XML) == ParsedResponse([], [])


# --------------------------------------------------------------------------------------------- truncation


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.5, 0.77, 0.99])
def test_truncated_json_is_a_parse_error(fraction: float) -> None:
    body = JSON_DOC.encode()
    with pytest.raises(ParseError, match="not valid JSON") as caught:
        parse(body[: int(len(body) * fraction)])
    assert caught.value.fragment


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.5, 0.77, 0.97])
def test_truncated_xml_is_a_parse_error(fraction: float) -> None:
    body = XML_DOC.encode()
    with pytest.raises(ParseError, match="not well-formed XML") as caught:
        parse(body[: int(len(body) * fraction)], WireFormat.XML)
    assert caught.value.fragment


# --------------------------------------------------------------------------------------------- document level


@pytest.mark.parametrize("body", ["[]", "[{}]", "1", "-2.5", '"meterReading"', "null", "true"])
def test_wrong_top_level_json_types(body: str) -> None:
    with pytest.raises(ParseError, match="expected an object"):
        parse(body)


@pytest.mark.parametrize("fmt", list(WireFormat))
@pytest.mark.parametrize("body", [b"", b"   \r\n\t "])
def test_empty_body(body: bytes, fmt: WireFormat) -> None:
    with pytest.raises(ParseError, match="empty"):
        parse(body, fmt)


def test_non_utf8_json() -> None:
    with pytest.raises(ParseError, match="not UTF-8") as caught:
        parse(b'{"meterReading": [{"usagePoint": {"mRID": "\xff\xfe"}}]}')
    assert caught.value.fragment.isascii()
    with pytest.raises(ParseError, match="not UTF-8"):
        parse('{"a": 1}'.encode("utf-16"))


def test_non_utf8_xml() -> None:
    with pytest.raises(ParseError, match="not well-formed XML"):
        parse(b"<MeterReadings2><x>\xff\xfe\xfd</x></MeterReadings2>", WireFormat.XML)


def test_json_with_a_byte_order_mark_is_accepted() -> None:
    assert len(parse(b"\xef\xbb\xbf" + JSON_DOC.encode()).readings) == 5


@pytest.mark.parametrize("fmt", list(WireFormat))
def test_oversize_body(fmt: WireFormat) -> None:
    body = (JSON_DOC if fmt is WireFormat.JSON else XML_DOC).encode()
    with pytest.raises(ParseError, match="over the 100-byte limit") as caught:
        parse(body, fmt, max_bytes=100)
    assert len(caught.value.fragment) <= FRAGMENT_LIMIT
    assert len(parse(body, fmt, max_bytes=len(body)).readings) == 5


def test_deeply_nested_json_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="nested too deeply"):
        parse("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ParseError, match="nested too deeply"):
        parse('{"a": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001)
