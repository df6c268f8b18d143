"""Create or validate the topics the publisher writes: readings, state (compacted) and dead letters.

Topics are created explicitly with the intended partition count and cleanup policy; auto-creation is never
relied on. An existing topic is validated: a state topic that is not compacted, or one whose partition
count does not match what sharding needs, stops the process with a one-line fix.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import structlog
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # re-exported at runtime; not in the stubs
    AdminClient,
    ConfigResource,
    NewTopic,
)

from publisher.errors import KafkaFatalError, RetryableError

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TopicSpec:
    """What a topic must look like."""

    name: str
    partitions: int
    compacted: bool = False
    #: the partition count is part of the contract (state topic); otherwise more partitions are fine
    exact_partitions: bool = False
    replication_factor: int = -1
    config: dict[str, str] = field(default_factory=dict)

    def new_topic(self) -> NewTopic:
        """The admin request that creates this topic."""
        config = {"cleanup.policy": "compact" if self.compacted else "delete", **self.config}
        return NewTopic(
            self.name,
            num_partitions=self.partitions,
            replication_factor=self.replication_factor,
            config=config,
        )


def _existing(admin: AdminClient, timeout: float) -> dict[str, int]:
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise RetryableError(f"Kafka did not answer a metadata request: {exc.args[0]}") from exc
    return {name: len(topic.partitions) for name, topic in metadata.topics.items() if topic.error is None}


def _cleanup_policy(admin: AdminClient, topic: str, timeout: float) -> str:
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    try:
        configs = admin.describe_configs([resource])[resource].result(timeout=timeout)
    except KafkaException as exc:
        raise RetryableError(f"could not read the configuration of topic {topic}: {exc.args[0]}") from exc
    entry = configs.get("cleanup.policy")
    return str(entry.value) if entry is not None and entry.value is not None else "delete"


def ensure_topics(admin: AdminClient, specs: Iterable[TopicSpec], *, timeout: float = 30.0) -> None:
    """Create missing topics and validate existing ones; raise :class:`KafkaFatalError` on a mismatch."""
    specs = list(specs)
    existing = _existing(admin, timeout)
    missing = [spec for spec in specs if spec.name not in existing]
    if missing:
        futures = admin.create_topics([spec.new_topic() for spec in missing], request_timeout=timeout)
        for name, future in futures.items():
            try:
                future.result(timeout=timeout)
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                if error.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise KafkaFatalError(
                        f"could not create topic {name}: {error.str()}; create it by hand or grant "
                        "the CREATE ACL on it"
                    ) from exc
            log.info("topic_created", topic=name)
        _wait_for(admin, {spec.name for spec in missing}, timeout)
        existing = _existing(admin, timeout)
    for spec in specs:
        partitions = existing[spec.name]
        if spec.exact_partitions and partitions != spec.partitions:
            raise KafkaFatalError(
                f"topic {spec.name} has {partitions} partitions but {spec.partitions} are configured; "
                "set PUBLISHER_STATE_PARTITIONS to match it"
            )
        if partitions < spec.partitions:
            log.warning(
                "topic_has_fewer_partitions", topic=spec.name, partitions=partitions, wanted=spec.partitions
            )
        if spec.compacted and "compact" not in _cleanup_policy(admin, spec.name, timeout):
            raise KafkaFatalError(
                f"topic {spec.name} must have cleanup.policy=compact (it holds the dedup state); "
                "alter its configuration or choose another PUBLISHER_STATE_TOPIC"
            )


def _wait_for(admin: AdminClient, names: set[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if names <= set(_existing(admin, timeout)):
            return
        time.sleep(0.1)
    raise RetryableError(f"created topics did not appear in metadata within {timeout:.0f}s: {sorted(names)}")
