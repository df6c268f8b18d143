"""The transactional producer: idempotent, ``acks=all``, one ``transactional.id`` per shard.

Modelled on quix-streams' producer wrapper. Delivery reports come from librdkafka's background thread
and are served inside ``poll``/``flush``; their errors are latched and raised on the caller's thread at the
next ``produce``/``commit``, before any state advances. Transaction errors are handled as librdkafka
documents them:

- **retriable** (``err.retriable()``, e.g. the broker did not answer in time): the same call is repeated
  until it succeeds or fails otherwise, for at most ``outage_max`` seconds (``PUBLISHER_BROKER_OUTAGE_MAX``);
  past that the producer gives up as fatal, so the process exits and Kubernetes restarts it. A commit
  whose outcome is unknown (its response was lost) is never turned into an abort: librdkafka resumes the
  same commit, and the broker answers a repeated commit of a committed transaction with success. A flush
  that leaves records undelivered keeps waiting the same way, since librdkafka goes on retrying them;
- **abortable** (``err.txn_requires_abort()``): abort the transaction and redo the batch from the
  last committed state (:class:`~publisher.errors.TransactionAbortable`). A record whose delivery failed
  (e.g. it outlived ``message.timeout.ms``) is treated the same way: the batch is aborted and redone, never
  "produced again" inside the same transaction;
- **fatal** (``err.fatal()``, including a fenced producer) and anything else: the producer is unusable and the
  process exits non-zero (:class:`~publisher.errors.KafkaFatalError`). Once fatal, :meth:`abort` does not
  talk to the broker any more: the next ``init_transactions`` of this shard aborts what is left open.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import structlog
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from publisher.errors import KafkaFatalError, PublisherError, RetryableError, TransactionAbortable
from publisher.logsetup import librdkafka_logger

log = structlog.get_logger(__name__)

#: default of ``PUBLISHER_BROKER_OUTAGE_MAX``: seconds a call is retried while Kafka does not answer
DEFAULT_OUTAGE_MAX: Final = 600.0
_FENCED: Final = {
    KafkaError._FENCED,  # noqa: SLF001 - librdkafka's local error codes are underscore-named constants
    KafkaError.PRODUCER_FENCED,
    KafkaError.INVALID_PRODUCER_EPOCH,
}

Headers = Sequence[tuple[str, bytes]]
#: serve delivery reports (only failures are reported) every this many records rather than after each one
_POLL_EVERY: Final = 64


def producer_config(
    base: Mapping[str, Any], transactional_id: str, *, transaction_timeout_ms: int
) -> dict[str, Any]:
    """librdkafka settings for an exactly-once producer; ``base`` (bootstrap, security) cannot weaken them.

    ``transaction.timeout.ms`` is a tuning knob, not a guarantee: a value in ``base`` (the passthrough
    ``KAFKA_TRANSACTION_TIMEOUT_MS``) wins over ``transaction_timeout_ms``."""
    return {
        "compression.type": "zstd",
        "linger.ms": 20,
        **base,
        "transactional.id": transactional_id,
        "enable.idempotence": True,
        "acks": "all",
        "partitioner": "murmur2_random",
        "transaction.timeout.ms": int(base.get("transaction.timeout.ms", transaction_timeout_ms)),
        # only failures are latched, so only failures need a delivery report (a callback per record is
        # the most expensive part of producing from Python)
        "delivery.report.only.error": True,
        "logger": librdkafka_logger(),
    }


def classify(exc: KafkaException, action: str, transactional_id: str) -> PublisherError:
    """Map a librdkafka error to what the caller must do."""
    error: KafkaError = exc.args[0]
    if error.code() in _FENCED:
        return KafkaFatalError(
            f"producer {transactional_id} was fenced while trying to {action}: another process with the same "
            "shard started; this one stops"
        )
    if error.code() == KafkaError._FATAL:  # noqa: SLF001 - librdkafka's local error code
        return KafkaFatalError(
            f"producer {transactional_id} cannot {action}: it is in a fatal state, most likely fenced "
            "because another process with the same shard started; this one stops"
        )
    if error.fatal():
        return KafkaFatalError(f"fatal Kafka error while trying to {action}: {error.str()}")
    if error.txn_requires_abort():
        return TransactionAbortable(f"Kafka transaction must be aborted ({action}): {error.str()}")
    if error.retriable():
        return RetryableError(f"Kafka could not {action} right now: {error.str()}")
    return KafkaFatalError(f"Kafka error while trying to {action}: {error.str()}")


def kafka_cause(exc: BaseException) -> KafkaException | None:
    """The KafkaException behind ``exc``. confluent-kafka reports a fatal error raised while it serves
    callbacks as a SystemError whose cause is the KafkaException; unwrap it so it is classified."""
    if isinstance(exc, KafkaException):
        return exc
    cause = exc.__cause__ or exc.__context__
    return cause if isinstance(cause, KafkaException) else None


class TransactionalProducer:
    """One shard's exactly-once producer. Not thread-safe: one caller thread drives it."""

    def __init__(
        self,
        base_config: Mapping[str, Any],
        transactional_id: str,
        *,
        timeout: float = 30.0,
        transaction_timeout_ms: int = 60_000,
        factory: Callable[[dict[str, Any]], Producer] = Producer,
        outage_max: float = DEFAULT_OUTAGE_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transactional_id = transactional_id
        self._timeout = timeout
        self._outage_max = outage_max
        self._clock = clock
        self._fatal = False
        self._fatal_reason: KafkaError | None = None
        config = producer_config(base_config, transactional_id, transaction_timeout_ms=transaction_timeout_ms)
        config.setdefault("error_cb", self._on_error)
        self._producer = factory(config)
        self._first_error: KafkaError | None = None
        self._failed = 0
        self._in_transaction = False
        self.produced_in_transaction = 0

    # ------------------------------------------------------------------ lifecycle

    def init(self) -> None:
        """``init_transactions``: fences any older producer with this id and aborts its open transaction."""
        self._retry("initialise transactions", lambda: self._producer.init_transactions(self._timeout))
        log.info("transactions_initialised", transactional_id=self.transactional_id)

    def _retry(self, action: str, call: Callable[[], object]) -> None:
        """Make a transactional call, repeating it while librdkafka calls its error retriable, for at most
        ``outage_max`` seconds; an abortable error is raised as is, anything else (or the limit) as fatal."""
        started = self._clock()
        attempt = 0
        while True:
            try:
                call()
            except KafkaException as exc:
                problem = self._classify(exc, action)
                if not isinstance(problem, RetryableError) or isinstance(problem, TransactionAbortable):
                    raise problem from exc
                self._give_up_after(started, action, problem.message)
                attempt += 1
                log.warning("kafka_call_retried", action=action, attempt=attempt, error=problem.message)
            else:
                return

    def _give_up_after(self, started: float, action: str, why: str) -> None:
        """Raise a fatal error once ``outage_max`` seconds have passed since ``started``."""
        waited = self._clock() - started
        if waited >= self._outage_max:
            raise self._note(
                KafkaFatalError(
                    f"Kafka did not let producer {self.transactional_id} {action} for {waited:.0f}s, longer "
                    f"than PUBLISHER_BROKER_OUTAGE_MAX ({self._outage_max:.0f}s): {why}; this process stops "
                    "so that it is restarted"
                )
            )

    def _on_error(self, error: KafkaError) -> None:
        # librdkafka's error callback, served inside poll()/flush(): attribute stores only (see _delivered)
        if error.fatal() and self._fatal_reason is None:
            self._fatal_reason = error

    def _classify(self, exc: KafkaException, action: str) -> PublisherError:
        """:func:`classify`, naming the underlying cause (e.g. fenced) where librdkafka reports only
        "Local: Fatal error" because the producer was already in a fatal state."""
        error: KafkaError = exc.args[0]
        if error.fatal() and error.code() != KafkaError._FATAL:  # noqa: SLF001 - librdkafka's local error code
            self._fatal_reason = self._fatal_reason or error
        elif error.code() == KafkaError._FATAL:  # noqa: SLF001 - as above
            if self._fatal_reason is None:
                with contextlib.suppress(Exception):
                    self._producer.poll(0)  # serve the error callback that carries the cause
            if self._fatal_reason is not None:
                exc = KafkaException(self._fatal_reason)
        return self._note(classify(exc, action, self.transactional_id))

    def _note(self, problem: PublisherError) -> PublisherError:
        """Remember that the producer became unusable when ``problem`` is fatal."""
        if isinstance(problem, KafkaFatalError):
            self._fatal = True
        return problem

    def begin(self) -> None:
        """Open a transaction."""
        self._first_error, self._failed = None, 0
        self.produced_in_transaction = 0
        try:
            self._producer.begin_transaction()
        except KafkaException as exc:
            raise self._classify(exc, "begin a transaction") from exc
        self._in_transaction = True

    @property
    def in_transaction(self) -> bool:
        """True between :meth:`begin` and a successful commit or abort."""
        return self._in_transaction

    def produce(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None,
        headers: Headers = (),
        partition: int | None = None,
    ) -> None:
        """Queue one record in the open transaction; raises latched delivery errors first."""
        if self._first_error is not None:
            self.raise_latched()
        header_list = headers if type(headers) is list else list(headers)
        delivered, produce = self._delivered, self._producer.produce
        while True:
            try:
                if partition is None:
                    produce(topic, value=value, key=key, headers=header_list, on_delivery=delivered)
                else:
                    produce(
                        topic,
                        value=value,
                        key=key,
                        partition=partition,
                        headers=header_list,
                        on_delivery=delivered,
                    )
                break
            except BufferError:
                self._producer.poll(0.05)  # queue full: let deliveries drain, then try again
            except (KafkaException, SystemError) as exc:
                raise self._unwrap(exc, "produce") from exc
        self._counted()

    def sender(self, topic: str, headers: Headers = ()) -> Callable[[bytes, bytes | None], None]:
        """``send(value, key)``: :meth:`produce` for many records to ``topic`` with the same ``headers``,
        without handling its arguments again for every record (the pipeline sends a series' events with
        it). Same guarantees: latched delivery errors are raised first, a full queue is waited for."""
        header_list: list[tuple[str, str | bytes | None]] = list(headers)
        produce, delivered = self._producer.produce, self._delivered

        def send(value: bytes, key: bytes | None) -> None:
            if self._first_error is not None:
                self.raise_latched()
            try:
                produce(topic, value, key, headers=header_list, on_delivery=delivered)
            except BufferError:
                self._producer.poll(0.05)  # queue full: let deliveries drain, then the full path retries
                self.produce(topic, value, key=key, headers=headers)
                return
            except (KafkaException, SystemError) as exc:
                raise self._unwrap(exc, "produce") from exc
            self._counted()

        return send

    def _counted(self) -> None:
        """Count a queued record; every ``_POLL_EVERY`` records serve librdkafka's callbacks."""
        self.produced_in_transaction += 1
        if not self.produced_in_transaction % _POLL_EVERY:
            try:
                self._producer.poll(0)
            except (KafkaException, SystemError) as exc:
                raise self._unwrap(exc, "produce") from exc

    def _unwrap(self, exc: Exception, action: str) -> Exception:
        cause = kafka_cause(exc)
        if cause is not None:
            return self._classify(cause, action)
        # confluent-kafka can also fail a call with a bare SystemError once the producer is in a fatal state
        self._fatal = True
        return KafkaFatalError(
            f"the Kafka producer {self.transactional_id} failed fatally while trying to {action} "
            "(it may have been fenced by another process of this shard); this process stops"
        )

    def _flush(self, action: str) -> int:
        try:
            return int(self._producer.flush(self._timeout))
        except (KafkaException, SystemError) as exc:
            raise self._unwrap(exc, action) from exc

    def _delivered(self, error: KafkaError | None, _message: Message) -> None:
        # Runs inside poll()/flush(), possibly while confluent-kafka has an exception pending (a fatal
        # error): only attribute stores here, no calls, or CPython reports a SystemError.
        if error is not None:
            if self._first_error is None:
                self._first_error = error
            self._failed += 1

    def raise_latched(self) -> None:
        """Raise the first delivery error reported since the transaction began, on this thread."""
        first, failed = self._first_error, self._failed
        self._first_error, self._failed = None, 0
        if first is None:
            return
        if first.fatal() or first.code() in _FENCED:
            raise self._classify(KafkaException(first), "deliver a record")
        raise TransactionAbortable(f"{failed} record(s) were not delivered: {first.str()}")

    def commit(self) -> None:
        """Flush, surface delivery errors, then commit. On any abortable failure abort and raise.

        While the broker does not answer, both the flush and the commit are waited for (up to
        ``outage_max``); a commit that timed out is resumed, never aborted, because it may have happened."""
        try:
            started = self._clock()
            while remaining := self._flush("commit"):
                self.raise_latched()
                self._give_up_after(started, "deliver its records", f"{remaining} record(s) not delivered")
                log.warning("transaction_flush_waited", remaining=remaining)
            self.raise_latched()
            self._retry("commit", lambda: self._producer.commit_transaction(self._timeout))
        except TransactionAbortable:
            self.abort()
            raise
        self._in_transaction = False

    def abort(self) -> None:
        """Abort the open transaction (idempotent); a failure to abort is fatal.

        A fatal producer (fenced, or a commit that could not complete) leaves the transaction to the broker:
        the next ``init_transactions`` of this shard aborts it."""
        if not self._in_transaction:
            return
        if self._fatal:
            self._in_transaction = False
            return
        try:
            self._retry("abort", lambda: self._producer.abort_transaction(self._timeout))
        except TransactionAbortable as exc:
            raise self._note(KafkaFatalError(f"could not abort the transaction: {exc.message}")) from exc
        self._first_error, self._failed = None, 0
        self._in_transaction = False
        log.info("transaction_aborted", transactional_id=self.transactional_id)

    def close(self) -> None:
        """Abort anything open and release the client."""
        try:
            self.abort()
        finally:
            if not self._fatal:
                self._flush("close")
