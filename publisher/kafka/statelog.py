"""Read the compacted state topic back: this shard's partitions, from the beginning to partition EOF.

Used at start-up (restore the recent horizon) and before work that reaches further back than the horizon
(load the state of its window). The end is where librdkafka reports partition EOF for a ``read_committed``
fetch, not the broker's reported high watermark alone. Call it only after the shard's producer ran
``init_transactions``, which aborts any transaction a previous incarnation left open; otherwise the last
stable offset could be held back by that transaction until it times out.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from publisher.errors import RetryableError
from publisher.logsetup import librdkafka_logger

log = structlog.get_logger(__name__)

#: called with each record's key and value (``None`` for a tombstone), in offset order per partition
Sink = Callable[[bytes, bytes | None], None]

#: longest wait of one ``consume`` call: it returns once it has a full batch *or* this time has passed, so
#: every partial batch (the last one, every one of a small topic) costs the whole wait
POLL_SECONDS = 0.01
BATCH = 1000

#: librdkafka's prefetch, tuned for reading a topic to its end as fast as the records arrive:
#:
#: - ``fetch.queue.backoff.ms``: once a partition's local queue holds more than ``queued.min.messages``,
#:   librdkafka postpones that partition's next fetch by this long (1 s by default). A restore drains its
#:   queue much faster than that and then sat idle until the postponement ran out: the end of a
#:   partition (its EOF) came up to a second after its last record. 10 ms fetches again as soon as the
#:   queue has room.
#: - ``queued.min.messages``: the records per partition librdkafka keeps fetching ahead (100,000 by
#:   default). 20,000 state records (about 12 MB) are far more than a restore reads between two fetches,
#:   and a smaller queue leaves the CPU to the records already fetched: below it librdkafka fetches at
#:   once, again and again, from a broker that answers a fetch at the end of the log without waiting.
READER_SETTINGS: dict[str, Any] = {"fetch.queue.backoff.ms": 10, "queued.min.messages": 20_000}


def shard_partitions(partitions: int, shard_index: int, shard_count: int) -> list[int]:
    """The state partitions a shard owns: ``p`` with ``p mod shard_count == shard_index``."""
    return [p for p in range(partitions) if p % shard_count == shard_index]


def read_to_end(
    base_config: Mapping[str, Any],
    topic: str,
    partitions: Iterable[int],
    sink: Sink,
    *,
    timeout: float = 300.0,
) -> int:
    """Feed every committed record of ``partitions`` to ``sink``; return how many were read."""
    wanted = sorted(set(partitions))
    if not wanted:
        return 0
    consumer = Consumer(
        {
            **READER_SETTINGS,  # the service's own client settings come after, and win
            **base_config,
            "group.id": f"netstream-publisher-restore-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "logger": librdkafka_logger(),
        }
    )
    count = 0
    started = time.monotonic()
    try:
        # offset 0, not OFFSET_BEGINNING: a logical offset costs an offset query that librdkafka starts only
        # on a timer (half a second here); an offset below the log start resets to the earliest one
        consumer.assign([TopicPartition(topic, p, 0) for p in wanted])
        done: set[int] = set()
        while len(done) < len(wanted):
            if time.monotonic() - started > timeout:
                raise RetryableError(
                    f"state restore of {topic} did not reach the end within {timeout:.0f}s "
                    f"({len(done)}/{len(wanted)} partitions done)"
                )
            for message in consumer.consume(num_messages=BATCH, timeout=POLL_SECONDS):
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:  # noqa: SLF001 - librdkafka constant
                        done.add(int(message.partition() or 0))
                        continue
                    raise RetryableError(f"reading state topic {topic} failed: {error.str()}")
                if done:  # a partition that was at its end got more records
                    done.discard(int(message.partition() or 0))
                key = message.key()
                if key is not None:
                    sink(key, message.value())
                    count += 1
    except KafkaException as exc:
        raise RetryableError(f"reading state topic {topic} failed: {exc.args[0]}") from exc
    finally:
        consumer.close()
    log.info(
        "state_read",
        topic=topic,
        partitions=len(wanted),
        records=count,
        seconds=round(time.monotonic() - started, 3),
    )
    return count
