"""Parsing times given on the command line: ISO 8601; without an offset they are Netstream local time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from publisher.errors import ConfigError, ParseError
from publisher.netstream.localtime import parse_timestamp


def parse_cli_time(text: str, flag: str, zone: ZoneInfo) -> datetime:
    """``2025-03-01``, ``2025-03-01T00:00``, ``…+13:00`` or ``…Z`` as an aware UTC datetime."""
    value = text.strip()
    if len(value) == 10:  # a bare date means local midnight
        value += "T00:00:00"
    try:
        return parse_timestamp(value, zone)
    except ParseError as exc:
        raise ConfigError(
            f"{flag} {text!r} is not a time; use ISO 8601 like 2025-03-01 or 2025-03-01T00:00:00+13:00"
        ) from exc


def parse_window(start: str, end: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``--start``/``--end`` as a non-empty UTC window."""
    first, last = parse_cli_time(start, "--start", zone), parse_cli_time(end, "--end", zone)
    if first >= last:
        raise ConfigError(f"--start {start} must be before --end {end}")
    return first, last
