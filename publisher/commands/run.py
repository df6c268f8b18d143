"""``run``: the long-running service — scheduler, health and metrics, graceful shutdown.

Start-up order: serve ``/healthz`` (alive) and ``/readyz`` (not ready: restoring) at once, fence older
producers of this shard and restore its state, then schedule the plans. On SIGTERM or SIGINT scheduling
stops, the cycle in hand finishes its current window (commit) and starts no other, the producer aborts
anything still open and flushes, and the process exits 0 — within ``PUBLISHER_SHUTDOWN_TIMEOUT``.
A fatal error (fenced, credentials refused) stops the service with that error's exit code, and so does a
Kafka outage longer than ``PUBLISHER_BROKER_OUTAGE_MAX`` (exit 4), so that Kubernetes restarts the pod.
Shorter outages are ridden out: readiness fails while the broker probe gets no answer, an open transaction
waits for the broker, and the backlog is published when it is back. That holds at start-up too: a broker
that cannot be reached yet (topics, fencing, restore) is waited for, not left to a crash loop.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from publisher.app import Service, build_service, kafka_config
from publisher.config import PlanConfig, Settings
from publisher.errors import FatalError, KafkaFatalError, PublisherError, RetryableError
from publisher.health import HealthServer, OutageWatch, Readiness, kafka_metadata_probe
from publisher.heap import freeze_heap
from publisher.metrics import Metrics, build_metrics
from publisher.pipeline.publishing import CycleStats
from publisher.pipeline.runner import group_targets
from publisher.scheduler import PlanScheduler
from publisher.signals import StopSignals

log = structlog.get_logger(__name__)

#: seconds between two looks at the broker outage while the service runs
OUTAGE_CHECK_INTERVAL = 1.0
#: pause after the first failed start, doubled after each further one up to the second value
START_PAUSE = (1.0, 30.0)


def register(commands: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``run`` to the command line."""
    parser = commands.add_parser(
        "run",
        help="the service: poll on the plans' schedules, serve /healthz /readyz /metrics; SIGTERM stops it",
    )
    add_common(parser)
    parser.set_defaults(handler=run)


class CycleJob:
    """What the scheduler runs for a plan: reload the registry, run a cycle, record the outcome."""

    def __init__(
        self, service: Service, metrics: Metrics, readiness: Readiness, stop: threading.Event
    ) -> None:
        self._service = service
        self._metrics = metrics
        self._readiness = readiness
        self._stop = stop
        #: a fatal error raised by a cycle, for the main thread to exit with
        self.fatal: FatalError | None = None

    def __call__(self, plan: PlanConfig) -> None:
        if self._stop.is_set():
            return
        self._service.live_registry.reload_if_changed()
        started = time.monotonic()
        stats, reason = CycleStats(), ""
        try:
            groups = group_targets(self._service.registry, plan.reading_types)
            stats = self._service.runner.cycle(plan.name, groups, plan.lookback)
            if stats.failed_windows:
                reason = f"{stats.failed_windows} window(s) could not be fetched"
        except FatalError as exc:
            self.fatal, reason = exc, exc.message
            log.error("cycle_failed", plan=plan.name, error=exc.message, fatal=True)  # noqa: TRY400 - one line, no traceback
            self._stop.set()
        except PublisherError as exc:
            reason = exc.message
            log.warning("cycle_failed", plan=plan.name, error=exc.message)
        ok = not reason
        self._metrics.cycle_completed(plan.name, stats, time.monotonic() - started, ok=ok)
        self._metrics.state_size(self._service.store.series_count(), self._service.store.day_count())
        if ok:
            self._readiness.cycle_succeeded()
        else:
            self._readiness.cycle_failed(reason)


def run(settings: Settings, _args: argparse.Namespace) -> int:
    """Run until SIGTERM/SIGINT (exit 0) or a fatal error (its exit code)."""
    stop = threading.Event()

    signals = StopSignals(stop).install()

    registry = CollectorRegistry()
    metrics = build_metrics(settings, registry)
    outage = OutageWatch(settings.publisher_broker_outage_max.total_seconds())
    readiness = Readiness(kafka_metadata_probe(kafka_config(settings)), outage=outage)
    server = HealthServer(readiness, registry, port=settings.publisher_http_port)
    server.start()
    service: Service | None = None
    scheduler: PlanScheduler | None = None
    try:
        readiness.restoring()
        started = start_service(
            lambda: build_service(settings, client_observer=metrics, pipeline_observer=metrics),
            stop,
            outage.limit,
        )
        if started is None:
            log.info("shutdown_requested", signal=signals.received or "fatal error", during="start-up")
            return 0
        service, restore_seconds = started
        service.runner.stop = stop
        freeze_heap()  # what start-up built stays for good: no collection need walk it again
        metrics.state_restored(restore_seconds, service.store.series_count(), service.store.day_count())
        readiness.restored()
        job = CycleJob(service, metrics, readiness, stop)
        scheduler = PlanScheduler(settings.publisher_plans, settings.zone, job)
        scheduler.start()
        readiness.watch_scheduler(lambda: scheduler is not None and scheduler.running)
        log.info("service_started", port=server.port, plans=[p.name for p in settings.publisher_plans])
        outage_error = await_stop(stop, outage)
        log.info("shutdown_requested", signal=signals.received or "fatal error")

        def exit_code() -> int:
            fatal = outage_error or job.fatal
            return fatal.exit_code if fatal is not None else 0

        _shutdown(scheduler, settings.publisher_shutdown_timeout, exit_code)
        fatal = outage_error or job.fatal
        if fatal is not None:
            raise fatal
        return 0
    finally:
        if service is not None:
            service.close()
        server.stop()
        log.info("service_stopped")


def start_service(
    build: Callable[[], Service],
    stop: threading.Event,
    limit: float,
    *,
    monotonic: Callable[[], float] = time.monotonic,
    pauses: tuple[float, float] = START_PAUSE,
) -> tuple[Service, float] | None:
    """Build and start the service (topics, fencing, restore): ``(service, seconds the successful start
    took)``, or ``None`` when ``stop`` is set while waiting.

    A :class:`RetryableError` (the broker cannot be reached yet) is retried with growing pauses for as long
    as the first failure is less than ``limit`` seconds (``PUBLISHER_BROKER_OUTAGE_MAX``) old; past that it
    becomes a :class:`KafkaFatalError` (exit 4), as an outage of a running service does."""
    pause, longest = pauses
    failed_at: float | None = None
    attempt = 0
    while True:
        attempt += 1
        service: Service | None = None
        began = monotonic()
        try:
            service = build()
            service.start()
        except BaseException as exc:
            if service is not None:
                service.close()  # a failed start leaves nothing open, whatever failed
            if not isinstance(exc, RetryableError):
                raise
            failed_at = began if failed_at is None else failed_at
            waited = monotonic() - failed_at
            if waited >= limit:
                raise KafkaFatalError(
                    f"the service could not start for {waited:.0f}s, longer than PUBLISHER_BROKER_OUTAGE_MAX "
                    f"({limit:.0f}s): {exc.message}"
                ) from exc
            log.warning(
                "start_retried", attempt=attempt, seconds=round(waited, 1), retry_in=pause, error=exc.message
            )
            if stop.wait(min(pause, limit - waited)):
                return None
            pause = min(pause * 2, longest)
            continue
        return service, monotonic() - began


def await_stop(
    stop: threading.Event, outage: OutageWatch, *, interval: float = OUTAGE_CHECK_INTERVAL
) -> FatalError | None:
    """Wait until ``stop`` is set; a broker outage past its limit sets it too and is returned as fatal."""
    while not stop.wait(interval):
        if outage.exceeded():
            waited = outage.down_for()
            error = KafkaFatalError(
                f"the Kafka broker has not answered for {waited:.0f}s, longer than "
                f"PUBLISHER_BROKER_OUTAGE_MAX ({outage.limit:.0f}s); exiting so that the pod is restarted"
            )
            log.error(
                "broker_outage_exceeded", seconds=round(waited, 1), limit=outage.limit, error=error.message
            )
            stop.set()
            return error
    return None


def _shutdown(scheduler: PlanScheduler, timeout: float, exit_code: Callable[[], int] = lambda: 0) -> None:
    """Stop scheduling and wait for the running cycle; past the timeout, leave without it (with
    ``exit_code()``: 0 after SIGTERM, the fatal error's code when one stopped the service).

    Leaving with a transaction open is safe: the next start of this shard aborts it in init_transactions.
    """
    done = threading.Event()

    def _wait() -> None:
        scheduler.shutdown(wait=True)
        done.set()

    threading.Thread(target=_wait, name="shutdown", daemon=True).start()
    if not done.wait(timeout):
        code = exit_code()
        log.warning("shutdown_timed_out", seconds=timeout, exit_code=code)
        os._exit(code)
