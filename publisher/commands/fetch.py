"""``fetch``: call GetMeterReadings and print normalised readings as JSON lines (no Kafka)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from publisher.app import build_client
from publisher.commands.timeargs import parse_window
from publisher.config import Settings
from publisher.netstream.model import Target, TargetKind, WireFormat
from publisher.registry import load_registry


def register(commands: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``fetch`` to the command line."""
    parser = commands.add_parser("fetch", help="call the API and print normalised readings as JSON lines")
    add_common(parser)
    parser.add_argument(
        "--usage-point", action="append", required=True, metavar="ID", help="usage point mRID"
    )
    parser.add_argument(
        "--reading-type", action="append", required=True, metavar="RT", help="reading type code"
    )
    parser.add_argument(
        "--start", required=True, metavar="T", help="ISO 8601; no offset = Netstream local time"
    )
    parser.add_argument("--end", required=True, metavar="T", help="ISO 8601, exclusive")
    parser.add_argument("--format", choices=["json", "xml"], help="wire format (default NETSTREAM_FORMAT)")
    parser.set_defaults(handler=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Fetch and print; rejected fragments go to stderr as one line each. Exit 0 if nothing was rejected."""
    if args.format:
        settings = settings.model_copy(update={"netstream_format": WireFormat(args.format)})
    start, end = parse_window(args.start, args.end, settings.zone)
    targets = [Target(TargetKind.USAGE_POINT, mrid) for mrid in args.usage_point]
    zone_for = None
    if settings.publisher_registry_file is not None:  # per-usage-point zones, when a registry names them
        zone_for = load_registry(settings.publisher_registry_file).zone_of
    rejected = 0
    with build_client(settings, zone_for=zone_for) as client:
        for window in client.fetch(targets, args.reading_type, start, end):
            for reading in window.parsed.readings:
                sys.stdout.write(json.dumps(reading.to_json()) + "\n")
            for reject in window.parsed.rejected:
                rejected += 1
                sys.stderr.write(f"rejected: {reject.reason}\n")
    return 1 if rejected else 0
