"""The transactional producer: idempotent, ``acks=all``, one ``transactional.id`` per shard.

Modelled on quix-streams' producer wrapper. Delivery reports come from librdkafka's background thread
and are served inside ``poll``/``flush``; their errors are latched and raised on the caller's thread at the
next ``produce``/``commit``, before any state advances. Transaction errors are handled as librdkafka
documents them:

- **retriable** (``err.retriable()``): the same call may be repeated (we retry ``commit``/``abort`` a few
  times; a commit that still fails is aborted);
- **abortable** (``err.txn_requires_abort()``): abort the transaction and redo the batch from the
  last committed state (:class:`~publisher.errors.TransactionAbortable`). A flush that times out with records
  undelivered is treated the same way: the batch is aborted and redone, never "produced again" inside the
  same transaction;
- **fatal** (``err.fatal()``, including a fenced producer) and anything else: the producer is unusable and the
  process exits non-zero (:class:`~publisher.errors.KafkaFatalError`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from publisher.errors import KafkaFatalError, PublisherError, RetryableError, TransactionAbortable
from publisher.logsetup import librdkafka_logger

log = structlog.get_logger(__name__)

_COMMIT_ATTEMPTS = 3
_FENCED = {
    KafkaError._FENCED,  # noqa: SLF001 - librdkafka's local error codes are underscore-named constants
    KafkaError.PRODUCER_FENCED,
    KafkaError.INVALID_PRODUCER_EPOCH,
}

Headers = Sequence[tuple[str, bytes]]


def producer_config(
    base: Mapping[str, Any], transactional_id: str, *, transaction_timeout_ms: int
) -> dict[str, Any]:
    """librdkafka settings for an exactly-once producer; ``base`` (bootstrap, security) cannot weaken them."""
    return {
        "compression.type": "zstd",
        "linger.ms": 20,
        **base,
        "transactional.id": transactional_id,
        "enable.idempotence": True,
        "acks": "all",
        "partitioner": "murmur2_random",
        "transaction.timeout.ms": transaction_timeout_ms,
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
    ) -> None:
        self.transactional_id = transactional_id
        self._timeout = timeout
        self._producer = factory(
            producer_config(base_config, transactional_id, transaction_timeout_ms=transaction_timeout_ms)
        )
        self._first_error: KafkaError | None = None
        self._failed = 0
        self._in_transaction = False
        self.produced_in_transaction = 0

    # ------------------------------------------------------------------ lifecycle

    def init(self) -> None:
        """``init_transactions``: fences any older producer with this id and aborts its open transaction."""
        for attempt in range(1, _COMMIT_ATTEMPTS + 1):
            try:
                self._producer.init_transactions(self._timeout)
            except KafkaException as exc:
                problem = classify(exc, "initialise transactions", self.transactional_id)
                if isinstance(problem, RetryableError) and attempt < _COMMIT_ATTEMPTS:
                    log.warning("transactions_init_retried", attempt=attempt, error=problem.message)
                    continue
                raise problem from exc
            log.info("transactions_initialised", transactional_id=self.transactional_id)
            return

    def begin(self) -> None:
        """Open a transaction."""
        self._first_error, self._failed = None, 0
        self.produced_in_transaction = 0
        try:
            self._producer.begin_transaction()
        except KafkaException as exc:
            raise classify(exc, "begin a transaction", self.transactional_id) from exc
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
        self.raise_latched()
        kwargs: dict[str, Any] = {
            "key": key,
            "value": value,
            "headers": list(headers),
            "on_delivery": self._delivered,
        }
        if partition is not None:
            kwargs["partition"] = partition
        while True:
            try:
                self._producer.produce(topic, **kwargs)
                break
            except BufferError:
                self._producer.poll(0.05)  # queue full: let deliveries drain, then try again
            except (KafkaException, SystemError) as exc:
                raise self._unwrap(exc, "produce") from exc
        self.produced_in_transaction += 1
        try:
            self._producer.poll(0)
        except (KafkaException, SystemError) as exc:
            raise self._unwrap(exc, "produce") from exc

    def _unwrap(self, exc: Exception, action: str) -> Exception:
        cause = kafka_cause(exc)
        return classify(cause, action, self.transactional_id) if cause is not None else exc

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
            raise classify(KafkaException(first), "deliver a record", self.transactional_id)
        raise TransactionAbortable(f"{failed} record(s) were not delivered: {first.str()}")

    def commit(self) -> None:
        """Flush, surface delivery errors, then commit. On any abortable failure abort and raise."""
        try:
            remaining = self._flush("commit")
            self.raise_latched()
            if remaining:
                raise TransactionAbortable(  # noqa: TRY301 - handled by the abort below, like the others
                    f"{remaining} record(s) not delivered within {self._timeout:.0f}s"
                )
            for attempt in range(1, _COMMIT_ATTEMPTS + 1):
                try:
                    self._producer.commit_transaction(self._timeout)
                except KafkaException as exc:
                    problem = classify(exc, "commit", self.transactional_id)
                    if isinstance(problem, RetryableError) and not isinstance(problem, TransactionAbortable):
                        if attempt < _COMMIT_ATTEMPTS:
                            log.warning("transaction_commit_retried", attempt=attempt, error=problem.message)
                            continue
                        raise TransactionAbortable(f"commit did not complete: {problem.message}") from exc
                    raise problem from exc
                break
        except TransactionAbortable:
            self.abort()
            raise
        self._in_transaction = False

    def abort(self) -> None:
        """Abort the open transaction (idempotent); a failure to abort is fatal."""
        if not self._in_transaction:
            return
        for attempt in range(1, _COMMIT_ATTEMPTS + 1):
            try:
                self._producer.abort_transaction(self._timeout)
            except KafkaException as exc:
                problem = classify(exc, "abort", self.transactional_id)
                if isinstance(problem, RetryableError) and attempt < _COMMIT_ATTEMPTS:
                    continue
                raise KafkaFatalError(f"could not abort the transaction: {problem.message}") from exc
            break
        self._first_error, self._failed = None, 0
        self._in_transaction = False
        log.info("transaction_aborted", transactional_id=self.transactional_id)

    def close(self) -> None:
        """Abort anything open and release the client."""
        try:
            self.abort()
        finally:
            self._flush("close")
