"""Composition root: build the concrete objects from validated settings.

Called only by the commands (the entry point). Nothing here reads the environment; everything comes from
:class:`~publisher.config.Settings`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import requests
import structlog
from confluent_kafka.admin import AdminClient

from publisher.config import Settings
from publisher.errors import ConfigError
from publisher.kafka.avro import ConfluentCodec, SingleObjectCodec, ValueCodec, load_schema, subject_for
from publisher.kafka.producer import TransactionalProducer
from publisher.kafka.statelog import shard_partitions
from publisher.kafka.topics import TopicSpec, ensure_topics
from publisher.logsetup import librdkafka_logger
from publisher.netstream.auth import ClientCredentialsProvider, StaticTokenProvider, TokenProvider
from publisher.netstream.client import ClientObserver, ClientOptions, NetstreamClient, pooled_session
from publisher.netstream.ratelimit import RateLimiter
from publisher.pipeline.publishing import PipelineObserver, Topics
from publisher.pipeline.runner import Runner
from publisher.pipeline.series_store import SeriesStore
from publisher.pipeline.shard import ShardPublisher
from publisher.registry import LiveRegistry, Registry

EVENT_SCHEMA = "meter_reading.avsc"
DEAD_LETTER_SCHEMA = "dead_letter.avsc"


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


def client_options(settings: Settings) -> ClientOptions:
    """Netstream client options from the NETSTREAM_* settings."""
    settings.require_netstream()
    assert settings.netstream_base_url is not None
    return ClientOptions(
        base_url=settings.netstream_base_url,
        fmt=settings.netstream_format,
        default_zone=settings.zone,
        connect_timeout=settings.netstream_connect_timeout,
        read_timeout=settings.netstream_read_timeout,
        max_retries=settings.netstream_max_retries,
        backoff_initial=settings.netstream_backoff_initial,
        backoff_max=settings.netstream_backoff_max,
        retry_after_max=settings.netstream_retry_after_max,
        rate_per_second=settings.netstream_rate_limit,
        max_in_flight=settings.netstream_max_in_flight,
        window=settings.netstream_window,
        min_window=settings.netstream_min_window,
        batch_size=settings.netstream_batch_size,
    )


def token_provider(settings: Settings, session: requests.Session) -> TokenProvider:
    """A static token if one is configured, else OAuth2 client credentials."""
    settings.require_netstream()
    if settings.netstream_token is not None:
        return StaticTokenProvider(settings.netstream_token.get_secret_value())
    token_url = settings.token_url()
    assert token_url is not None
    assert settings.netstream_client_id is not None
    assert settings.netstream_client_secret is not None
    return ClientCredentialsProvider(
        token_url,
        settings.netstream_client_id,
        settings.netstream_client_secret.get_secret_value(),
        settings.netstream_scope,
        session=session,
        timeout=(settings.netstream_connect_timeout, settings.netstream_read_timeout),
    )


def build_client(
    settings: Settings,
    *,
    zone_for: Callable[[str], ZoneInfo | None] | None = None,
    observer: ClientObserver | None = None,
    rate_share: float = 1.0,
) -> NetstreamClient:
    """The Netstream client, authenticated as configured, using ``rate_share`` of the rate limit."""
    options = client_options(settings)
    session = pooled_session(options)  # shared by the token provider and the client; closed by the client
    limiter = RateLimiter(
        options.rate_per_second * rate_share, max(1, int(options.max_in_flight * rate_share))
    )
    return NetstreamClient(
        options,
        token_provider(settings, session),
        session=session,
        owns_session=True,
        zone_for=zone_for,
        observer=observer,
        limiter=limiter,
    )


#: TLS checks every client makes unless the configuration says otherwise (librdkafka's own defaults, stated
#: so that no library version or packaging can change them): verify the broker certificate and its host name
KAFKA_TLS_DEFAULTS = {
    "enable.ssl.certificate.verification": "true",
    "ssl.endpoint.identification.algorithm": "https",
}


def kafka_config(settings: Settings) -> dict[str, Any]:
    """librdkafka settings shared by every client: bootstrap, TLS checks, security passthrough, our logger."""
    config = {**KAFKA_TLS_DEFAULTS, **settings.librdkafka()}
    if config["enable.ssl.certificate.verification"].lower() in {"false", "0"} or config[
        "ssl.endpoint.identification.algorithm"
    ].lower() in {"none", ""}:
        structlog.get_logger(__name__).warning(
            "kafka_tls_verification_disabled",
            certificate_verification=config["enable.ssl.certificate.verification"],
            endpoint_identification=config["ssl.endpoint.identification.algorithm"],
        )
    return {**config, "logger": librdkafka_logger()}


def build_codecs(settings: Settings) -> tuple[ValueCodec, ValueCodec]:
    """Event and dead-letter codecs: Confluent wire format with a registry, else single-object encoding."""
    events, dead_letters = load_schema(EVENT_SCHEMA), load_schema(DEAD_LETTER_SCHEMA)
    if not settings.schema_registry_url:
        return SingleObjectCodec(events), SingleObjectCodec(dead_letters)
    from confluent_kafka.schema_registry import SchemaRegistryClient  # noqa: PLC0415 - optional extra

    registry = SchemaRegistryClient.new_client({"url": settings.schema_registry_url})
    return (
        ConfluentCodec(events, registry, subject_for(settings.publisher_topic)),
        ConfluentCodec(dead_letters, registry, subject_for(settings.publisher_dlq_topic)),
    )


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """The readings topic (and routed topics), the compacted state topic and the dead-letter topic."""
    replication = settings.publisher_replication_factor
    readings = {settings.publisher_topic, *settings.publisher_topics.values()}
    specs = [
        TopicSpec(name, settings.publisher_topic_partitions, replication_factor=replication)
        for name in readings
    ]
    specs.append(
        TopicSpec(
            settings.publisher_state_topic,
            settings.publisher_state_partitions,
            compacted=True,
            exact_partitions=True,
            replication_factor=replication,
        )
    )
    specs.append(
        TopicSpec(
            settings.publisher_dlq_topic, settings.publisher_topic_partitions, replication_factor=replication
        )
    )
    return specs


def load_shard_registry(settings: Settings) -> LiveRegistry:
    """The registry entries this shard polls, reloadable when the file changes."""
    if settings.publisher_registry_file is None:
        raise ConfigError(
            "PUBLISHER_REGISTRY_FILE is not set; point it at the usage point registry (YAML or CSV)"
        )
    return LiveRegistry(
        settings.publisher_registry_file, settings.publisher_shard_index, settings.publisher_shard_count
    )


@dataclass
class Service:
    """Everything one shard needs to publish, built and wired; close it when done."""

    settings: Settings
    live_registry: LiveRegistry
    client: NetstreamClient
    producer: TransactionalProducer
    shard: ShardPublisher
    runner: Runner
    store: SeriesStore
    _stack: ExitStack

    @property
    def registry(self) -> Registry:
        """The registry in force for this cycle."""
        return self.live_registry.current

    def start(self) -> None:
        """Fence older producers of this shard, then restore the state horizon (in that order)."""
        self.producer.init()
        self.shard.restore()

    def close(self) -> None:
        """Abort anything open, release clients."""
        self._stack.close()


def build_service(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    client_observer: ClientObserver | None = None,
    pipeline_observer: PipelineObserver | None = None,
    rate_share: float = 1.0,
) -> Service:
    """Wire registry, client, topics, producer, store and runner for this shard."""
    registry = load_shard_registry(settings)
    config = kafka_config(settings)
    ensure_topics(AdminClient(config), topic_specs(settings))
    events, dead_letters = build_codecs(settings)
    stack = ExitStack()
    client = build_client(
        settings, zone_for=registry.zone_of, observer=client_observer, rate_share=rate_share
    )
    stack.callback(client.close)
    transactional_id = f"{settings.publisher_transactional_id_prefix}-{settings.publisher_shard_index}"
    producer = TransactionalProducer(
        config, transactional_id, outage_max=settings.publisher_broker_outage_max.total_seconds()
    )
    stack.callback(producer.close)
    store = SeriesStore(horizon_days=settings.publisher_state_horizon_days)
    shard = ShardPublisher(
        producer=producer,
        events=events,
        dead_letters=dead_letters,
        store=store,
        topics=Topics(
            readings=settings.publisher_topic,
            dlq=settings.publisher_dlq_topic,
            state=settings.publisher_state_topic,
            state_partitions=settings.publisher_state_partitions,
            routes=settings.publisher_topics,
        ),
        owned_partitions=shard_partitions(
            settings.publisher_state_partitions,
            settings.publisher_shard_index,
            settings.publisher_shard_count,
        ),
        kafka_config=config,
        default_zone=settings.zone,
        zone_for=registry.zone_of,
        meter_for=registry.meter_of,
        clock=clock,
        observer=pipeline_observer,
        retry_for=settings.publisher_broker_outage_max.total_seconds(),
    )
    runner = Runner(client, shard, clock=clock)
    return Service(settings, registry, client, producer, shard, runner, store, stack)
