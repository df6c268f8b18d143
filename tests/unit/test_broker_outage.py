"""Riding out a Kafka outage, on a fake clock: the producer waits (never turns an unknown commit into an
abort), the outage watch measures the outage, and past PUBLISHER_BROKER_OUTAGE_MAX the service stops
with a fatal error (exit 4) so that Kubernetes restarts it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from confluent_kafka import KafkaError, KafkaException

from publisher.commands.run import await_stop
from publisher.config import load_settings
from publisher.errors import ConfigError, KafkaFatalError, TransactionAbortable
from publisher.health import OutageWatch, Readiness
from publisher.kafka.avro import SingleObjectCodec, load_schema
from publisher.kafka.producer import TransactionalProducer, producer_config
from publisher.netstream.parse_common import ParsedResponse
from publisher.pipeline.events import Source
from publisher.pipeline.publishing import Topics
from publisher.pipeline.series_store import SeriesStore
from publisher.pipeline.shard import ShardPublisher


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def timed_out() -> KafkaException:
    return KafkaException(
        KafkaError(KafkaError._TIMED_OUT, "timed out, retry call to resume", retriable=True)
    )


def abortable() -> KafkaException:
    return KafkaException(KafkaError(KafkaError._STATE, "must abort", txn_requires_abort=True))


class FakeProducer:
    """The librdkafka calls the transactional producer makes; each failure costs ``cost`` seconds."""

    def __init__(self, clock: Clock, cost: float = 30.0) -> None:
        self.clock = clock
        self.cost = cost
        self.calls: list[str] = []
        self.failures: dict[str, list[KafkaException]] = {}
        self.undelivered: list[int] = []

    def _call(self, name: str) -> None:
        self.calls.append(name)
        pending = self.failures.get(name)
        if pending:
            self.clock.now += self.cost
            raise pending.pop(0)

    def init_transactions(self, _timeout: float) -> None:
        self._call("init")

    def begin_transaction(self) -> None:
        self._call("begin")

    def commit_transaction(self, _timeout: float) -> None:
        self._call("commit")

    def abort_transaction(self, _timeout: float) -> None:
        self._call("abort")

    def produce(self, _topic: str, **_kwargs: Any) -> None:
        self.calls.append("produce")

    def poll(self, _timeout: float) -> int:
        return 0

    def flush(self, _timeout: float) -> int:
        self.calls.append("flush")
        if self.undelivered:
            self.clock.now += self.cost
            return self.undelivered.pop(0)
        return 0


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> FakeProducer:
    return FakeProducer(clock)


@pytest.fixture
def producer(fake: FakeProducer, clock: Clock) -> TransactionalProducer:
    return TransactionalProducer({}, "np-0", factory=lambda _config: fake, outage_max=300.0, clock=clock)  # type: ignore[arg-type,return-value]


def test_a_commit_that_times_out_is_resumed_until_it_completes_and_never_aborted(
    producer: TransactionalProducer, fake: FakeProducer, clock: Clock
) -> None:
    producer.begin()
    fake.failures["commit"] = [timed_out() for _ in range(5)]  # 150 s without an answer
    producer.commit()
    assert fake.calls.count("commit") == 6
    assert "abort" not in fake.calls
    assert not producer.in_transaction
    assert clock.now == 1150.0


def test_a_commit_unresolved_past_the_outage_limit_is_fatal_and_leaves_the_transaction_to_the_broker(
    producer: TransactionalProducer, fake: FakeProducer
) -> None:
    producer.begin()
    fake.failures["commit"] = [timed_out() for _ in range(20)]
    with pytest.raises(KafkaFatalError, match="PUBLISHER_BROKER_OUTAGE_MAX"):
        producer.commit()
    assert fake.calls.count("commit") == 10  # 10 x 30 s = the 300 s limit
    producer.abort()  # what the pipeline does on any error: it must not wait for the broker again
    producer.close()
    assert "abort" not in fake.calls
    assert fake.calls.count("flush") == 1  # the one before the commit; close does not flush a dead producer


def test_records_still_undelivered_are_waited_for_not_aborted(
    producer: TransactionalProducer, fake: FakeProducer
) -> None:
    producer.begin()
    producer.produce("t", b"v", key=b"k")
    fake.undelivered = [1, 1, 1, 1]  # four flushes end with the record still queued (2 min)
    producer.commit()
    assert fake.calls[-6:] == ["flush"] * 5 + ["commit"]
    assert "abort" not in fake.calls


def test_undelivered_records_past_the_outage_limit_are_fatal(
    producer: TransactionalProducer, fake: FakeProducer
) -> None:
    producer.begin()
    fake.undelivered = [1] * 20
    with pytest.raises(KafkaFatalError, match="deliver its records"):
        producer.commit()
    assert "abort" not in fake.calls


def test_an_abortable_commit_still_aborts_and_an_abort_that_times_out_is_retried(
    producer: TransactionalProducer, fake: FakeProducer
) -> None:
    producer.begin()
    fake.failures["commit"] = [abortable()]
    fake.failures["abort"] = [timed_out(), timed_out(), timed_out(), timed_out()]
    with pytest.raises(TransactionAbortable):
        producer.commit()
    assert fake.calls.count("abort") == 5
    assert not producer.in_transaction


def test_init_waits_for_the_broker_up_to_the_limit(
    producer: TransactionalProducer, fake: FakeProducer
) -> None:
    fake.failures["init"] = [timed_out() for _ in range(6)]
    producer.init()
    assert fake.calls.count("init") == 7
    fake.failures["init"] = [timed_out() for _ in range(11)]
    with pytest.raises(KafkaFatalError, match="initialise transactions"):
        producer.init()


def test_the_outage_watch_measures_the_current_outage(clock: Clock) -> None:
    watch = OutageWatch(60.0, clock=clock)
    watch.observe(reachable=True)
    assert watch.down_for() == 0.0
    watch.observe(reachable=False)
    clock.now += 59
    watch.observe(reachable=False)  # a later failure does not restart the outage
    assert watch.down_for() == 59
    assert not watch.exceeded()
    clock.now += 1
    assert watch.exceeded()
    watch.observe(reachable=True)
    assert not watch.exceeded()
    assert watch.down_for() == 0.0


def test_readiness_feeds_the_probe_answers_to_the_watch(clock: Clock) -> None:
    answers = iter([False, False, True])
    watch = OutageWatch(10.0, clock=clock)
    readiness = Readiness(lambda: next(answers), outage=watch)
    readiness.probe_now()
    clock.now += 10
    readiness.probe_now()
    assert watch.exceeded()
    assert "broker" in readiness.failing()
    readiness.probe_now()
    assert not watch.exceeded()


def test_the_service_stops_with_a_fatal_error_once_the_outage_passes_the_limit(clock: Clock) -> None:
    watch = OutageWatch(30.0, clock=clock)
    stop = threading.Event()
    ticks = iter(range(1000))

    class Ticking(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            del timeout
            tick = next(ticks)
            clock.now += 5
            watch.observe(reachable=tick < 3)  # up for 3 looks, then down for good
            return stop.is_set()

        def set(self) -> None:
            stop.set()

    error = await_stop(Ticking(), watch)
    assert isinstance(error, KafkaFatalError)
    assert error.exit_code == 4
    assert "PUBLISHER_BROKER_OUTAGE_MAX (30s)" in error.message
    assert stop.is_set()
    assert clock.now == 1000.0 + 5 * (3 + 7)  # down from the 4th look; 30 s later is the 10th


def test_a_stop_request_ends_the_wait_without_error(clock: Clock) -> None:
    stop = threading.Event()
    stop.set()
    assert await_stop(stop, OutageWatch(30.0, clock=clock), interval=0.01) is None


def test_the_outage_limit_is_a_positive_duration_with_a_ten_minute_default() -> None:
    assert load_settings(None, {}).publisher_broker_outage_max == timedelta(minutes=10)
    assert load_settings(None, {"PUBLISHER_BROKER_OUTAGE_MAX": "PT2M"}).publisher_broker_outage_max == (
        timedelta(minutes=2)
    )
    assert load_settings(None, {"PUBLISHER_BROKER_OUTAGE_MAX": "PT45S"}).publisher_broker_outage_max == (
        timedelta(seconds=45)
    )
    with pytest.raises(ConfigError, match="PUBLISHER_BROKER_OUTAGE_MAX"):
        load_settings(None, {"PUBLISHER_BROKER_OUTAGE_MAX": "0"})


def test_a_later_local_fatal_error_still_names_the_fencing_that_caused_it(
    producer: TransactionalProducer, fake: FakeProducer
) -> None:
    fenced = KafkaError(KafkaError._FENCED, "fenced by a newer instance", fatal=True)
    fake.failures["begin"] = [
        KafkaException(fenced),
        KafkaException(KafkaError(KafkaError._FATAL, "Fatal error")),
    ]
    with pytest.raises(KafkaFatalError, match="was fenced"):
        producer.begin()
    with pytest.raises(KafkaFatalError, match="was fenced"):  # librdkafka now says only "Fatal error"
        producer.begin()


def test_the_transaction_timeout_can_be_tuned_through_the_passthrough() -> None:
    assert producer_config({}, "np-0", transaction_timeout_ms=60_000)["transaction.timeout.ms"] == 60_000
    tuned = producer_config(
        {"transaction.timeout.ms": "10000", "acks": "1"}, "np-0", transaction_timeout_ms=60_000
    )
    assert tuned["transaction.timeout.ms"] == 10_000
    assert tuned["acks"] == "all"  # the guarantees are not tunable


class AbortingProducer:
    """The transactional producer as the shard uses it; ``failures`` commits fail as abortable, each
    costing ``cost`` seconds (records timing out while the broker is unreachable)."""

    def __init__(self, clock: Clock, failures: int, cost: float) -> None:
        self.clock, self.failures, self.cost = clock, failures, cost
        self.commits = self.aborts = 0

    def begin(self) -> None:
        pass

    def produce(self, *_args: Any, **_kwargs: Any) -> None:
        pass

    def sender(self, *_args: Any) -> Callable[[bytes, bytes | None], None]:
        return lambda _value, _key: None

    def commit(self) -> None:
        self.commits += 1
        if self.failures:
            self.failures -= 1
            self.clock.now += self.cost
            raise TransactionAbortable("26 record(s) were not delivered: Local: Message timed out")

    def abort(self) -> None:
        self.aborts += 1


def shard_with(producer: AbortingProducer, clock: Clock) -> ShardPublisher:
    def pause(seconds: float) -> None:
        clock.now += seconds

    return ShardPublisher(
        producer=producer,  # type: ignore[arg-type]
        events=SingleObjectCodec(load_schema("meter_reading.avsc")),
        dead_letters=SingleObjectCodec(load_schema("dead_letter.avsc")),
        store=SeriesStore(horizon_days=14),
        topics=Topics(readings="r", dlq="d", state="s", state_partitions=1),
        owned_partitions=[0],
        kafka_config={},
        default_zone=ZoneInfo("Pacific/Auckland"),
        clock=lambda: datetime(2025, 1, 1, tzinfo=UTC),
        retry_for=300.0,
        monotonic=clock,
        sleep=pause,
    )


def empty_window() -> Any:
    request = SimpleNamespace(
        targets=(), start=datetime(2025, 1, 1, tzinfo=UTC), end=datetime(2025, 1, 2, tzinfo=UTC)
    )
    return SimpleNamespace(request=request, parsed=ParsedResponse())


def test_a_window_is_retried_for_as_long_as_the_broker_outage_is_allowed_to_last(clock: Clock) -> None:
    producer = AbortingProducer(clock, failures=4, cost=60.0)  # four transaction timeouts: 4 min
    stats = shard_with(producer, clock).publish(empty_window(), source=Source.SCHEDULED)
    assert (producer.commits, producer.aborts, stats.aborted) == (5, 4, 4)


def test_a_window_that_keeps_failing_past_the_limit_fails_the_cycle(clock: Clock) -> None:
    producer = AbortingProducer(clock, failures=100, cost=60.0)
    with pytest.raises(TransactionAbortable):
        shard_with(producer, clock).publish(empty_window(), source=Source.SCHEDULED)
    assert producer.commits == 5  # 5 x 60 s reach the 300 s limit


def test_quick_failures_are_still_tried_three_times_then_paced(clock: Clock) -> None:
    producer = AbortingProducer(clock, failures=10_000, cost=0.0)
    with pytest.raises(TransactionAbortable):
        shard_with(producer, clock).publish(empty_window(), source=Source.SCHEDULED)
    assert producer.commits == 3 + 300  # then one attempt per second of pause until the limit
