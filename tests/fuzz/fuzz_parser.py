"""Coverage-guided fuzzing of the response parser with atheris (``make fuzz``; not part of ``make test``).

Every input is parsed as JSON and as XML. A parse must return readings that keep the invariants of
``support.parser_strategies.check_result`` or raise :class:`ParseError` with a one-line message and a
bounded fragment; any other exception is a crash, which atheris reports with the input that caused it.
Seeds come from the bad-input corpus (``tests/corpus/parser``); libFuzzer options (``-max_total_time``,
corpus directories, ``-artifact_prefix``) are passed through from the command line.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import atheris
import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests directory, for support.*

with atheris.instrument_imports(include=["publisher"]):
    from publisher.errors import ParseError
    from publisher.netstream.model import WireFormat
    from publisher.netstream.parse_fragment import FRAGMENT_LIMIT
    from publisher.netstream.parser import parse_response

from support.parser_strategies import NZ, check_result

#: responses are capped by the client (64 MiB); the fuzzer's inputs are far smaller, so is this cap
MAX_BYTES = 1 << 20


def one_input(data: bytes) -> None:
    """Parse ``data`` in both formats; anything but readings or a well-formed ParseError is a crash."""
    for fmt in (WireFormat.JSON, WireFormat.XML):
        try:
            result = parse_response(data, fmt, default_zone=NZ, max_bytes=MAX_BYTES)
        except ParseError as exc:
            if not exc.message or "\n" in exc.message or len(exc.fragment.encode()) > FRAGMENT_LIMIT:
                raise AssertionError(f"malformed ParseError: {exc.message!r}") from exc
            continue
        check_result(result)


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
