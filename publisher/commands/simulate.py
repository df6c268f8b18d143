"""``simulate``: run the Netstream simulator (real HTTP, real time) until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from typing import Any

from publisher.config import Settings
from publisher.signals import StopSignals
from publisher.simulator.clock import SimClock
from publisher.simulator.config import SimulatorConfig
from publisher.simulator.server import SimulatorServer


def register(commands: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``simulate`` to the command line."""
    parser = commands.add_parser("simulate", help="run the Netstream simulator (OAuth2 + GetMeterReadings)")
    add_common(parser)
    parser.add_argument("--port", type=int, default=8081, help="port to listen on (default 8081; 0 = any)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--usage-points", type=int, default=30, metavar="N", help="simulated usage points")
    parser.add_argument("--seed", type=int, default=1, help="seed of the deterministic data")
    parser.add_argument("--token", help="also accept this static bearer token")
    parser.set_defaults(handler=run)


def run(_settings: Settings, args: argparse.Namespace) -> int:
    """Serve until interrupted; print where to point NETSTREAM_BASE_URL and the registry of usage points."""
    config = SimulatorConfig.demo(count=args.usage_points, seed=args.seed)
    if args.token:
        from dataclasses import replace  # noqa: PLC0415 - only with --token

        config = replace(config, static_token=args.token)
    server = SimulatorServer(config, host=args.host, port=args.port, clock=SimClock.system())
    stop = threading.Event()

    StopSignals(stop).install()
    server.start()
    sys.stdout.write(
        f"Netstream simulator listening on {server.base_url}\n"
        f"  NETSTREAM_BASE_URL={server.base_url}\n"
        f"  NETSTREAM_TOKEN_URL={server.token_url}  (client id {config.client_id!r})\n"
        f"  {len(config.usage_points)} usage points, e.g. {config.usage_points[0].mrid}\n"
        "press Ctrl-C to stop\n"
    )
    sys.stdout.flush()
    server.serve_until(stop)
    return 0
