"""Logging set-up, done once by the entry point.

structlog renders every event: JSON lines when stdout is not a terminal (or when asked), a readable console
format otherwise. Standard-library loggers (urllib3, apscheduler, ...) and librdkafka's log callback (the
``logger`` client option, see :func:`librdkafka_logger`) are routed through the same processors, so one log
stream carries everything. A processor masks values of keys that look like secrets.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

_SECRET_KEYS = ("token", "secret", "password", "authorization", "access_token", "client_secret")
_MASK = "**********"


def mask_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Replace the value of any key that names a secret; never log a token or a password."""
    for key in list(event_dict):
        if any(word in key.lower() for word in _SECRET_KEYS) and event_dict[key] is not None:
            event_dict[key] = _MASK
    return event_dict


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        mask_secrets,
    ]


def configure_logging(
    level: str = "info",
    fmt: Literal["auto", "json", "console"] = "auto",
    stream: TextIO | None = None,
) -> None:
    """Configure structlog and the standard library once for the whole process."""
    out = stream if stream is not None else sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not sys.stdout.isatty())
    renderer: Processor = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    numeric = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=False,  # loggers follow later re-configuration (tests capture logs)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    # chatty libraries stay at warning unless we debug
    for noisy in ("urllib3", "apscheduler"):
        logging.getLogger(noisy).setLevel(numeric if numeric <= logging.DEBUG else logging.WARNING)


def librdkafka_logger() -> logging.Logger:
    """The logger handed to confluent-kafka clients as their ``logger`` option."""
    return logging.getLogger("librdkafka")
