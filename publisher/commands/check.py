"""``check``: validate the configuration and reach every service the publisher needs; one line each.

Components, in order: ``configuration``, ``registry``, ``netstream`` (a token and one small
GetMeterReadings call), ``kafka`` (metadata), ``kafka topics`` (the readings, state and dead-letter
topics exist with the right settings, or could be created), ``kafka transactions`` (a transactional
init with a throwaway ``transactional.id``) and ``schemas`` (load, and compatibility with every released
version). Each prints ``ok   <component>: <detail>``, ``FAIL <component>: <problem and fix>`` or, when a
component it depends on failed, ``skip <component>: <why>``. The exit code is 0 only if every component
passed. Secrets never appear: every line is scrubbed of the configured secret values as a last guard.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import requests
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # re-exported at runtime; not in the stubs
    AdminClient,
    ConfigResource,
)

from publisher.app import (
    DEAD_LETTER_SCHEMA,
    EVENT_SCHEMA,
    client_options,
    kafka_config,
    token_provider,
    topic_specs,
)
from publisher.config import Settings, mask_if_secret
from publisher.errors import (
    AuthError,
    ConfigError,
    KafkaFatalError,
    NetstreamRequestError,
    NetstreamUnavailable,
    ParseError,
    PublisherError,
)
from publisher.kafka.avro import load_schema
from publisher.kafka.compat import compatibility_problems
from publisher.kafka.producer import TransactionalProducer
from publisher.kafka.topics import TopicSpec
from publisher.netstream.client import NetstreamClient
from publisher.netstream.model import ReadingsRequest, Target, TargetKind
from publisher.registry import Registry, load_registry

#: seconds each Kafka request of the check may take
KAFKA_TIMEOUT = 10.0
#: the usage point asked for when there is no registry: Netstream knows it not, but must answer
PLACEHOLDER_USAGE_POINT = "00000000-0000-0000-0000-000000000000"
_KIND_NAMES = {
    TargetKind.USAGE_POINT: "usage point(s)",
    TargetKind.USAGE_POINT_GROUP: "usage point group(s)",
    TargetKind.METER: "meter(s)",
    TargetKind.METER_GROUP: "meter group(s)",
}


def register(commands: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``check`` to the command line."""
    parser = commands.add_parser(
        "check",
        help="validate the configuration and reach Netstream and Kafka; exit non-zero on any failure",
    )
    add_common(parser)
    parser.set_defaults(handler=run)


class _Skipped(Exception):
    """A component cannot be checked because one it depends on failed."""


@dataclass
class Context:
    """What earlier checks found, for the later ones."""

    settings: Settings
    registry: Registry | None = None
    admin: AdminClient | None = None
    metadata: Any = None  # confluent_kafka ClusterMetadata


# ------------------------------------------------------------------------------------------------ checks


def check_configuration(ctx: Context) -> str:
    """The settings loaded and validated (the entry point stops with exit 2 when they did not)."""
    s = ctx.settings
    if s.netstream_token is not None:
        auth = "static token"
    elif s.netstream_client_id:
        auth = "OAuth2 client credentials"
    else:
        auth = "no credentials"
    netstream = f"{_plain_url(s.netstream_base_url)} ({s.netstream_format.value}, {auth})"
    encoding = "Confluent wire format" if s.schema_registry_url else "Avro single-object encoding"
    plans = ", ".join(plan.name for plan in s.publisher_plans)
    return (
        f"shard {s.publisher_shard_index} of {s.publisher_shard_count}; Netstream {netstream}; "
        f"Kafka {s.kafka_bootstrap_servers or 'not set'}; {encoding}; plans {plans}"
    )


def check_registry(ctx: Context) -> str:
    """The registry file loads; counts per target kind and on this shard."""
    s = ctx.settings
    if s.publisher_registry_file is None:
        raise ConfigError(
            "PUBLISHER_REGISTRY_FILE is not set; point it at the usage point registry (YAML or CSV)"
        )
    registry = load_registry(s.publisher_registry_file)
    if not len(registry):
        raise ConfigError(f"registry {s.publisher_registry_file} lists no targets; add usage_points to it")
    ctx.registry = registry
    kinds = Counter(entry.target.kind for entry in registry)
    counts = ", ".join(f"{kinds[kind]} {name}" for kind, name in _KIND_NAMES.items() if kinds[kind])
    mine = len(registry.for_shard(s.publisher_shard_index, s.publisher_shard_count))
    quiet = " (this shard polls nothing)" if not mine else ""
    return (
        f"{s.publisher_registry_file}: {len(registry)} target(s): {counts}; "
        f"{mine} on shard {s.publisher_shard_index} of {s.publisher_shard_count}{quiet}"
    )


def check_netstream(ctx: Context) -> str:
    """A token, then GetMeterReadings for one usage point over the last hour."""
    s = ctx.settings
    s.require_netstream()
    quick = s.model_copy(
        update={
            "netstream_max_retries": min(s.netstream_max_retries, 1),
            "netstream_backoff_initial": min(s.netstream_backoff_initial, 0.5),
            "netstream_backoff_max": min(s.netstream_backoff_max, 1.0),
            "netstream_connect_timeout": min(s.netstream_connect_timeout, 5.0),
            "netstream_read_timeout": min(s.netstream_read_timeout, 30.0),
        }
    )
    usage_point, reading_type, placeholder = _probe_series(ctx)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    request = ReadingsRequest(
        (Target(TargetKind.USAGE_POINT, usage_point),), (reading_type,), end - timedelta(hours=1), end
    )
    base = _plain_url(s.netstream_base_url)
    session = requests.Session()
    try:
        provider = token_provider(quick, session)
        try:
            provider.get()
        except AuthError as exc:
            raise AuthError(f"{exc.message} ({_credentials(s)})") from exc
        except NetstreamUnavailable as exc:
            raise NetstreamUnavailable(
                f"could not get a token ({_first_clause(exc.message)}); "
                "check NETSTREAM_TOKEN_URL or NETSTREAM_TENANT_ID"
            ) from exc
        started = time.monotonic()
        client = NetstreamClient(client_options(quick), provider, session=session)
        try:
            parsed = client.get(request)
        except AuthError as exc:
            raise AuthError(f"{exc.message} ({_credentials(s)})") from exc
        except NetstreamUnavailable as exc:
            raise NetstreamUnavailable(_unavailable(base, exc)) from exc
        except NetstreamRequestError as exc:
            if not placeholder:
                raise
            return (
                f"{base}: token accepted; the placeholder usage point was refused "
                f"(HTTP {exc.status}), as expected without a registry"
            )
        except ParseError as exc:
            raise ParseError(
                f"Netstream at {base} answered, but the {s.netstream_format.value} response could not be "
                f"parsed ({exc.message}); check NETSTREAM_FORMAT"
            ) from exc
        finally:
            client.close()
    finally:
        session.close()
    which = "a placeholder usage point" if placeholder else f"usage point {usage_point}"
    return (
        f"{base}: token accepted; GetMeterReadings for {which} over the last hour returned "
        f"{len(parsed.readings)} reading(s) in {time.monotonic() - started:.2f}s"
    )


def check_kafka(ctx: Context) -> str:
    """The brokers answer a metadata request."""
    s = ctx.settings
    config = kafka_config(s)
    try:
        admin = AdminClient(config)
    except (KafkaException, ValueError, TypeError) as exc:
        raise ConfigError(
            f"invalid librdkafka setting ({_kafka_text(exc)}); check the KAFKA_* variables and kafka.config"
        ) from exc
    try:
        metadata = admin.list_topics(timeout=KAFKA_TIMEOUT)
    except KafkaException as exc:
        raise KafkaFatalError(
            f"Kafka at {s.kafka_bootstrap_servers} did not answer a metadata request within "
            f"{KAFKA_TIMEOUT:.0f}s ({_kafka_text(exc)}); check KAFKA_BOOTSTRAP_SERVERS, the network path "
            "and the KAFKA_SECURITY_PROTOCOL/KAFKA_SASL_* settings"
        ) from exc
    ctx.admin, ctx.metadata = admin, metadata
    return (
        f"{s.kafka_bootstrap_servers}: {len(metadata.brokers)} broker(s), cluster "
        f"{metadata.cluster_id or 'without id'}, {len(metadata.topics)} topic(s)"
    )


def check_topics(ctx: Context) -> str:
    """Readings, state and dead-letter topics: right partitions and cleanup policy, or creatable."""
    admin, metadata = _kafka(ctx)
    existing = {name: topic for name, topic in metadata.topics.items() if topic.error is None}
    problems: list[str] = []
    notes: list[str] = []
    for spec in topic_specs(ctx.settings):
        topic = existing.get(spec.name)
        if topic is None:
            problem = _not_creatable(admin, spec)
            if problem is None:
                notes.append(f"{spec.name} missing, will be created ({spec.partitions} partitions)")
            else:
                problems.append(problem)
            continue
        partitions = len(topic.partitions)
        policy = _cleanup_policy(admin, spec.name)
        problems.extend(_topic_problems(spec, partitions, policy))
        fewer = f", fewer than the configured {spec.partitions}" if partitions < spec.partitions else ""
        notes.append(f"{spec.name} ({partitions} partitions{fewer}, cleanup.policy={policy})")
    if problems:
        raise KafkaFatalError("; ".join(problems))
    return "; ".join(notes)


def check_transactions(ctx: Context) -> str:
    """A transactional producer can initialise (ACLs on transactional ids, idempotent writes)."""
    _kafka(ctx)
    s = ctx.settings
    prefix = s.publisher_transactional_id_prefix
    transactional_id = f"{prefix}-check-{uuid.uuid4().hex[:12]}"
    fix = (
        f"grant WRITE and DESCRIBE on transactional ids with prefix {prefix} and IDEMPOTENT_WRITE on the "
        "cluster, and check the broker's transaction coordinator (transaction.state.log.* settings)"
    )
    try:
        producer = TransactionalProducer(kafka_config(s), transactional_id, timeout=KAFKA_TIMEOUT)
    except KafkaException as exc:
        raise ConfigError(
            f"cannot create a producer ({_kafka_text(exc)}); check the KAFKA_* variables"
        ) from exc
    try:
        producer.init()
    except PublisherError as exc:
        raise KafkaFatalError(
            f"cannot initialise transactions as {transactional_id} ({exc.message}); {fix}"
        ) from exc
    finally:
        producer.close()
    return f"initialised with the throwaway transactional.id {transactional_id}"


def check_schemas(_ctx: Context) -> str:
    """The event and dead-letter schemas load and stay compatible with every released version."""
    notes = []
    for filename in (EVENT_SCHEMA, DEAD_LETTER_SCHEMA):
        schema = load_schema(filename)
        current = json.loads(schema.text)
        released = released_versions(filename)
        for version, old in released:
            problems = compatibility_problems(current, old)
            if problems:
                more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
                raise ConfigError(
                    f"schemas/{filename} is not compatible with released version {version}: "
                    f"{problems[0]}{more}; give new fields defaults and never remove or retype a field"
                )
        name = schema.name.rpartition(".")[2]
        notes.append(f"{name} {schema.fingerprint_hex} compatible with {len(released)} released version(s)")
    return "; ".join(notes)


CHECKS: tuple[tuple[str, Callable[[Context], str]], ...] = (
    ("configuration", check_configuration),
    ("registry", check_registry),
    ("netstream", check_netstream),
    ("kafka", check_kafka),
    ("kafka topics", check_topics),
    ("kafka transactions", check_transactions),
    ("schemas", check_schemas),
)


def check_lines(settings: Settings) -> Iterator[tuple[bool, str]]:
    """Run every check; yield (passed, line) as each completes. Skipped components count as not passed."""
    ctx = Context(settings)
    secrets = _secrets(settings)
    for name, check in CHECKS:
        try:
            passed, status, text = True, "ok  ", check(ctx)
        except _Skipped as exc:
            passed, status, text = False, "skip", str(exc)
        except PublisherError as exc:
            passed, status, text = False, "FAIL", exc.message
        yield passed, f"{status} {name}: {_scrub(text, secrets)}"


def run(settings: Settings, _args: argparse.Namespace) -> int:
    """Print one line per component; 0 only if all passed, else 1."""
    failed = 0
    for passed, line in check_lines(settings):
        failed += not passed
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    return 1 if failed else 0


# ------------------------------------------------------------------------------------------------ helpers


def released_versions(filename: str) -> list[tuple[int, Any]]:
    """The released copies of a schema (``schemas/released/<name>.<version>.avsc``), oldest first."""
    stem = filename.removesuffix(".avsc")
    folder = resources.files("publisher") / "schemas" / "released"
    found = []
    for entry in folder.iterdir():
        name, _, version = entry.name.removesuffix(".avsc").rpartition(".")
        if entry.name.endswith(".avsc") and name == stem and version.isdigit():
            found.append((int(version), json.loads(entry.read_text(encoding="utf-8"))))
    return sorted(found, key=lambda pair: pair[0])


def _probe_series(ctx: Context) -> tuple[str, str, bool]:
    """(usage point, reading type, is a placeholder): this shard's first usage point, else any."""
    s = ctx.settings
    default_type = s.publisher_plans[0].reading_types[0]
    if ctx.registry is not None:
        points = [e for e in ctx.registry if e.target.kind is TargetKind.USAGE_POINT]
        mine = ctx.registry.for_shard(s.publisher_shard_index, s.publisher_shard_count)
        ordered = [e for e in mine if e.target.kind is TargetKind.USAGE_POINT] + points
        if ordered:
            entry = ordered[0]
            return entry.mrid, (entry.reading_types or (default_type,))[0], False
    return PLACEHOLDER_USAGE_POINT, default_type, True


def _credentials(settings: Settings) -> str:
    if settings.netstream_token is not None:
        return "credentials: NETSTREAM_TOKEN"
    return (
        f"credentials: NETSTREAM_CLIENT_ID {settings.netstream_client_id} with NETSTREAM_CLIENT_SECRET, "
        f"scope {settings.netstream_scope}"
    )


def _unavailable(base: str, exc: NetstreamUnavailable) -> str:
    if exc.status is None:
        return (
            f"Netstream at {base} did not answer ({_first_clause(exc.message)}); check NETSTREAM_BASE_URL, "
            "DNS, proxies and firewalls"
        )
    return (
        f"Netstream at {base} is unavailable (HTTP {exc.status}); try again later, and ask SBS if it persists"
    )


def _first_clause(message: str) -> str:
    """A message without the advice after its first semicolon (the check gives its own)."""
    return message.partition(";")[0].strip()


def _kafka(ctx: Context) -> tuple[AdminClient, Any]:
    if ctx.admin is None or ctx.metadata is None:
        raise _Skipped("not checked because Kafka did not answer")
    return ctx.admin, ctx.metadata


def _not_creatable(admin: AdminClient, spec: TopicSpec) -> str | None:
    """None if the broker would create the topic (a validate-only request), else the problem."""
    futures = admin.create_topics([spec.new_topic()], validate_only=True, request_timeout=KAFKA_TIMEOUT)
    try:
        futures[spec.name].result(timeout=KAFKA_TIMEOUT)
    except KafkaException as exc:
        error: KafkaError = exc.args[0]
        if error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return None
        return (
            f"topic {spec.name} does not exist and could not be created ({error.str()}); create it by hand "
            "or grant CREATE on it"
        )
    return None


def _cleanup_policy(admin: AdminClient, topic: str) -> str:
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    try:
        configs = admin.describe_configs([resource])[resource].result(timeout=KAFKA_TIMEOUT)
    except KafkaException as exc:
        raise KafkaFatalError(
            f"could not read the configuration of topic {topic} ({_kafka_text(exc)}); "
            "grant DESCRIBE_CONFIGS on it"
        ) from exc
    entry = configs.get("cleanup.policy")
    return str(entry.value) if entry is not None and entry.value else "delete"


def _topic_problems(spec: TopicSpec, partitions: int, policy: str) -> list[str]:
    policies = {part.strip() for part in policy.split(",")}
    problems = []
    if spec.compacted:
        if partitions != spec.partitions:
            problems.append(
                f"state topic {spec.name} has {partitions} partitions but PUBLISHER_STATE_PARTITIONS is "
                f"{spec.partitions}; set PUBLISHER_STATE_PARTITIONS={partitions}"
            )
        if policies != {"compact"}:
            problems.append(
                f"state topic {spec.name} has cleanup.policy={policy} but must be compact alone (it holds "
                "the dedup state); alter the topic or choose another PUBLISHER_STATE_TOPIC"
            )
    elif "compact" in policies:
        problems.append(
            f"topic {spec.name} has cleanup.policy={policy}, which keeps only the latest event per meter; "
            "set cleanup.policy=delete"
        )
    return problems


def _kafka_text(exc: BaseException) -> str:
    first = exc.args[0] if exc.args else exc
    text = first.str() if isinstance(first, KafkaError) else str(first)
    return " ".join(text.split()) or type(exc).__name__


def _plain_url(url: str | None) -> str:
    """A URL without any user:password part."""
    if not url:
        return "not set"
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=host).geturl()


def _secrets(settings: Settings) -> list[str]:
    values = [
        secret.get_secret_value()
        for secret in (settings.netstream_token, settings.netstream_client_secret)
        if secret is not None
    ]
    values += [value for key, value in settings.kafka_config.items() if mask_if_secret(key, value) != value]
    return [value for value in values if len(value) >= 4]


def _scrub(line: str, secrets: list[str]) -> str:
    text = " ".join(line.split())
    for secret in secrets:
        text = text.replace(secret, "***")
    return text
