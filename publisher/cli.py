"""The ``netstream-publisher`` command line: the entry point and composition root.

Only this module reads the process environment, configures logging and hands both to the commands. Every
:class:`~publisher.errors.PublisherError` becomes one line on stderr and its exit code; nothing prints a
traceback for expected failures.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog

from publisher import __version__
from publisher.buildinfo import build_kind
from publisher.commands import register_all
from publisher.config import Settings, load_settings
from publisher.errors import PublisherError
from publisher.heap import configure_collector
from publisher.logsetup import configure_logging

PROG = "netstream-publisher"

#: a command gets the validated settings and its parsed arguments and returns the exit code
Command = Callable[[Settings, argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag as one line plus a hint, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]  # argparse declares NoReturn
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="YAML configuration file (environment variables win)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every implemented command."""
    parser = _Parser(
        prog=PROG,
        description="Publish Netstream (SBS) smart-meter readings to Kafka as Avro events, exactly once.",
        epilog="Configuration comes from --config FILE and the environment; see docs/configuration.md.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__} ({build_kind()})")
    commands = parser.add_subparsers(dest="command", metavar="<command>", parser_class=_Parser)
    commands.required = True
    register_all(commands, _common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config, os.environ)
        configure_logging(settings.publisher_log_level, settings.publisher_log_format)
        configure_collector()
        command: Command = args.handler
        return command(settings, args)
    except PublisherError as exc:
        sys.stderr.write(f"{PROG}: error: {exc.message}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, never a traceback
        structlog.get_logger(__name__).debug("command_crashed", exc_info=True)
        sys.stderr.write(
            f"{PROG}: internal error: {type(exc).__name__}: {exc} "
            "(set PUBLISHER_LOG_LEVEL=debug for the traceback and report it)\n"
        )
        return 70
