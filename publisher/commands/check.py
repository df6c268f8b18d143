"""``check``: validate the configuration and reach the configured services; one line per failure."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from publisher.config import Settings
from publisher.errors import PublisherError
from publisher.logsetup import librdkafka_logger

Check = Callable[[Settings], str]


def register(commands: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``check`` to the command line."""
    parser = commands.add_parser(
        "check", help="validate the configuration and reach Kafka; exit non-zero on any failure"
    )
    add_common(parser)
    parser.set_defaults(handler=run)


def check_kafka(settings: Settings) -> str:
    """Kafka answers a metadata request."""
    config: dict[str, Any] = {**settings.librdkafka(), "logger": librdkafka_logger()}
    try:
        metadata = AdminClient(config).list_topics(timeout=10)
    except KafkaException as exc:
        raise PublisherError(
            f"Kafka at {settings.kafka_bootstrap_servers} did not answer ({exc.args[0]}); "
            "check KAFKA_BOOTSTRAP_SERVERS and the KAFKA_* security settings"
        ) from exc
    return f"{len(metadata.brokers)} broker(s), {len(metadata.topics)} topic(s)"


CHECKS: tuple[tuple[str, Check], ...] = (("kafka", check_kafka),)


def run(settings: Settings, _args: argparse.Namespace) -> int:
    """Run every check; print ``ok``/``FAIL`` per component and return 0 only if all passed."""
    sys.stdout.write("ok   configuration\n")
    failed = 0
    for name, check in CHECKS:
        try:
            detail = check(settings)
        except PublisherError as exc:
            failed += 1
            sys.stdout.write(f"FAIL {name}: {exc.message}\n")
        else:
            sys.stdout.write(f"ok   {name}: {detail}\n")
    return 1 if failed else 0
