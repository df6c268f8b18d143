"""`run`'s start-up: a broker that cannot be reached yet is waited for with growing pauses, up to
PUBLISHER_BROKER_OUTAGE_MAX, instead of crashing the pod into a restart loop; a stop signal ends the wait."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from structlog.testing import LogCapture

from publisher.commands.run import start_service
from publisher.errors import AuthError, KafkaFatalError, RetryableError


class Clock:
    """A monotonic clock that moves only when the code under test waits or works."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class WaitingStop(threading.Event):
    """A stop event whose waits advance the clock instead of sleeping; set after ``stop_after`` waits."""

    def __init__(self, clock: Clock, stop_after: int | None = None) -> None:
        super().__init__()
        self.clock = clock
        self.stop_after = stop_after
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waits.append(timeout)
        self.clock.now += timeout
        if self.stop_after is not None and len(self.waits) >= self.stop_after:
            self.set()
        return self.is_set()


class FakeService:
    """Fails ``start`` with the queued errors, one per attempt; each start takes ``seconds``."""

    def __init__(self, clock: Clock, errors: list[BaseException], log: list[str], seconds: float) -> None:
        self.clock, self.errors, self.log, self.seconds = clock, errors, log, seconds

    def start(self) -> None:
        self.clock.now += self.seconds
        self.log.append("start")
        if self.errors:
            raise self.errors.pop(0)

    def close(self) -> None:
        self.log.append("close")


def builder(clock: Clock, errors: list[BaseException], log: list[str], seconds: float = 30.0) -> Any:
    def build() -> FakeService:
        log.append("build")
        return FakeService(clock, errors, log, seconds)

    return build


def unreachable() -> RetryableError:
    return RetryableError("Kafka could not list topics right now: Local: Broker transport failure")


def test_a_broker_that_comes_back_is_waited_for_with_growing_pauses(captured_logs: LogCapture) -> None:
    clock, log = Clock(), []
    stop = WaitingStop(clock)
    build = builder(clock, [unreachable(), unreachable(), unreachable()], log, seconds=2.0)

    started = start_service(build, stop, 600.0, monotonic=clock, pauses=(1.0, 3.0))

    assert started is not None
    service, seconds = started
    assert isinstance(service, FakeService)
    assert seconds == 2.0  # the successful start only
    assert stop.waits == [1.0, 2.0, 3.0]  # doubled, capped
    # every failed attempt's service is closed before the next is built
    assert log == ["build", "start", "close"] * 3 + ["build", "start"]
    retried = [e for e in captured_logs.entries if e["event"] == "start_retried"]
    assert [(e["attempt"], e["retry_in"], e["log_level"]) for e in retried] == [
        (1, 1.0, "warning"),
        (2, 2.0, "warning"),
        (3, 3.0, "warning"),
    ]
    assert [e["seconds"] for e in retried] == [2.0, 5.0, 9.0]  # since the first failed attempt began
    assert "Broker transport failure" in retried[0]["error"]


def test_past_the_outage_limit_start_up_fails_with_exit_4_naming_the_setting() -> None:
    clock, log = Clock(), []
    stop = WaitingStop(clock)
    build = builder(clock, [unreachable()] * 10, log, seconds=30.0)

    with pytest.raises(KafkaFatalError) as caught:
        start_service(build, stop, 60.0, monotonic=clock, pauses=(1.0, 30.0))

    assert caught.value.exit_code == 4
    assert "PUBLISHER_BROKER_OUTAGE_MAX (60s)" in caught.value.message
    assert "Broker transport failure" in caught.value.message
    assert "\n" not in caught.value.message
    assert isinstance(caught.value.__cause__, RetryableError)
    # 30 s attempt, 1 s pause, 30 s attempt: 61 s >= 60 s; the last pause is cut to what the limit leaves
    assert stop.waits == [1.0]
    assert log.count("close") == 2


def test_a_pause_never_runs_past_the_limit() -> None:
    clock, log = Clock(), []
    stop = WaitingStop(clock)
    build = builder(clock, [unreachable()] * 10, log, seconds=4.0)

    with pytest.raises(KafkaFatalError):
        start_service(build, stop, 10.0, monotonic=clock, pauses=(10.0, 30.0))

    assert stop.waits == [6.0]  # a 4 s attempt leaves 6 s of the limit for the pause, then one more attempt


def test_a_stop_signal_while_waiting_ends_start_up_without_an_error() -> None:
    clock, log = Clock(), []
    stop = WaitingStop(clock, stop_after=2)
    build = builder(clock, [unreachable()] * 10, log, seconds=1.0)

    assert start_service(build, stop, 600.0, monotonic=clock, pauses=(1.0, 30.0)) is None
    assert stop.waits == [1.0, 2.0]
    assert log.count("build") == 2
    assert log.count("close") == 2  # nothing is left open


def test_a_fatal_error_is_not_retried_and_its_service_is_closed() -> None:
    clock, log = Clock(), []
    stop = WaitingStop(clock)
    build = builder(clock, [AuthError("the token endpoint refused the credentials")], log)

    with pytest.raises(AuthError):
        start_service(build, stop, 600.0, monotonic=clock)

    assert stop.waits == []
    assert log == ["build", "start", "close"]


def test_a_failure_to_build_is_retried_like_a_failure_to_start() -> None:
    clock, log = Clock(), []
    stop = WaitingStop(clock)
    failures = [unreachable()]

    def build() -> FakeService:
        log.append("build")
        if failures:
            clock.now += 30.0
            raise failures.pop(0)  # ensure_topics found no broker: there is no service to close
        return FakeService(clock, [], log, 1.0)

    started = start_service(build, stop, 600.0, monotonic=clock, pauses=(1.0, 30.0))

    assert started is not None
    assert log == ["build", "build", "start"]
    assert stop.waits == [1.0]
