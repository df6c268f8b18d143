"""Logging: JSON off a terminal, stdlib and librdkafka logs routed through structlog, secrets masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from publisher.logsetup import configure_logging, librdkafka_logger


@pytest.fixture
def json_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    try:
        yield stream
    finally:
        structlog.reset_defaults()
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_structlog_events_render_as_json_key_values(json_stream: io.StringIO) -> None:
    structlog.get_logger("publisher.test").info("cycle_completed", fetched=10, new=3)
    [event] = lines(json_stream)
    assert event["event"] == "cycle_completed"
    assert event["fetched"] == 10
    assert event["new"] == 3
    assert event["level"] == "info"
    assert event["logger"] == "publisher.test"
    assert str(event["timestamp"]).endswith("Z")


def test_standard_library_and_librdkafka_logs_come_out_through_structlog(json_stream: io.StringIO) -> None:
    logging.getLogger("some.library").warning("disk %s", "full")
    librdkafka_logger().error("FAIL: broker down")
    events = lines(json_stream)
    assert [(e["logger"], e["event"], e["level"]) for e in events] == [
        ("some.library", "disk full", "warning"),
        ("librdkafka", "FAIL: broker down", "error"),
    ]


def test_secret_keys_are_masked(json_stream: io.StringIO) -> None:
    structlog.get_logger("t").info(
        "token_refreshed", access_token="abc.def", client_secret="s", expires_in=3599
    )
    [event] = lines(json_stream)
    assert event["access_token"] == "**********"
    assert event["client_secret"] == "**********"
    assert event["expires_in"] == 3599
    assert "abc.def" not in json_stream.getvalue()


def test_level_filters_debug(json_stream: io.StringIO) -> None:
    structlog.get_logger("t").debug("noise")
    logging.getLogger("urllib3").info("connection pool chatter")
    assert lines(json_stream) == []


def test_console_format_is_human_readable() -> None:
    stream = io.StringIO()
    try:
        configure_logging("info", "console", stream)
        structlog.get_logger("t").info("broker_started", port=9092)
    finally:
        structlog.reset_defaults()
    text = stream.getvalue()
    assert "broker_started" in text
    assert "port=9092" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
