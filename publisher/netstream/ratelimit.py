"""Client-side rate limit for Netstream: a token bucket (requests per second) plus an in-flight cap.

Netstream documents no rate limit, so the client keeps itself polite: at most ``rate_per_second`` request
starts per second on average, bursts of up to ``max(1, rate)`` after a quiet spell, and never more than
``max_in_flight`` requests open at once.

The bucket works by reservation: a caller takes a token at once, even if that drives the balance below
zero, and then sleeps until its token would have been earned. Concurrent callers therefore queue in the
order they asked, with no polling loop, and every wait goes through the injected ``sleep`` (tests pass a
fake clock and a fake sleep and check the waits exactly).

:meth:`RateLimiter.hold` honours a server's ``Retry-After`` for the whole client: a 429 or 503 tells the
client, not one request, to wait ("before making a new request", RFC 6585), so every request admitted after
the hold waits for its end, then requests start again at the steady rate.

:meth:`RateLimiter.scaled` makes a *view* for lower-priority work (backfill while live polling runs): it
has its own, smaller bucket and in-flight cap, and it draws from the parent's bucket and slots as well, so
the two together never exceed the parent's limits.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from publisher.errors import ConfigError


class _Bucket:
    """A token bucket with reservations; thread-safe."""

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = max(1.0, rate)
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._last = clock()

    def _refill(self, now: float) -> None:
        # ``_last`` may lie in the future during a hold: nothing is earned before it
        if now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now

    def reserve(self) -> float:
        """Take one token now; return how long to wait before it is really ours (0.0 if at once)."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens -= 1.0
            ready = self._last + max(0.0, -self._tokens) / self.rate
            return max(0.0, ready - now)

    def hold(self, seconds: float) -> None:
        """Start no request for ``seconds`` from now, then resume at the steady rate without a burst.

        The bucket's clock is moved to the end of the hold with at most one token, so the requests queued
        behind the hold still start at most ``rate`` per second: a hold never packs starts closer together
        than the bucket allows.
        """
        with self._lock:
            now = self._clock()
            self._refill(now)
            until = now + seconds
            if until <= self._last:
                return
            self._tokens = min(1.0, self.burst, self._tokens + (until - self._last) * self.rate)
            self._last = until


class RateLimiter:
    """Token bucket in requests per second (burst ``max(1, rate)``) plus a cap on requests in flight.

    Use :meth:`slot` (or :meth:`acquire` and :meth:`release`) around each HTTP request. Thread-safe.
    """

    def __init__(
        self,
        rate_per_second: float,
        max_in_flight: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not (rate_per_second > 0 and math.isfinite(rate_per_second)):
            raise ConfigError(
                f"rate limit {rate_per_second!r} is not a positive number; "
                "set NETSTREAM_RATE_LIMIT (requests per second)"
            )
        if max_in_flight < 1:
            raise ConfigError(
                f"max in flight {max_in_flight} is below 1; set NETSTREAM_MAX_IN_FLIGHT to 1 or more"
            )
        self._rate = float(rate_per_second)
        self._max_in_flight = max_in_flight
        self._clock = clock
        self._sleep = sleep
        # own limits first, then the parent's (a view's chain is longer); always acquired in this order
        self._buckets: tuple[_Bucket, ...] = (_Bucket(self._rate, clock),)
        self._slots: tuple[threading.BoundedSemaphore, ...] = (threading.BoundedSemaphore(max_in_flight),)

    @property
    def rate_per_second(self) -> float:
        """Average request starts per second this limiter allows."""
        return self._rate

    @property
    def max_in_flight(self) -> int:
        """Requests this limiter lets run at once."""
        return self._max_in_flight

    @property
    def burst(self) -> float:
        """Requests that may start at once after a quiet spell."""
        return self._buckets[0].burst

    def acquire(self) -> float:
        """Block until a request may start; return the seconds waited (for metrics)."""
        started = self._clock()
        for slot in self._slots:
            slot.acquire()
        waited = max(0.0, self._clock() - started)
        for bucket in self._buckets:
            wait = bucket.reserve()
            if wait > 0.0:
                self._sleep(wait)
                waited += wait
        return waited

    def hold(self, seconds: float) -> None:
        """The server asked the client to wait (``Retry-After``): no request of this limiter, its parent or
        any view sharing its buckets starts for ``seconds``; requests already admitted are not recalled."""
        if seconds > 0.0:
            for bucket in self._buckets:
                bucket.hold(seconds)

    def release(self) -> None:
        """Give back the in-flight slot taken by :meth:`acquire`."""
        for slot in reversed(self._slots):
            slot.release()

    @contextmanager
    def slot(self) -> Iterator[float]:
        """``with limiter.slot() as waited:`` around one request; yields the seconds waited."""
        waited = self.acquire()
        try:
            yield waited
        finally:
            self.release()

    def scaled(self, share: float) -> RateLimiter:
        """A view that takes only ``share`` (0 < share <= 1) of this limiter's rate and in-flight slots.

        The view's requests also count against this limiter, so live polling and a scaled backfill together
        stay within the parent's limits, and the backfill alone stays within its share.
        """
        if not (0.0 < share <= 1.0):
            raise ConfigError(f"rate share {share!r} must be in (0, 1]; pick e.g. 0.5 for half the rate")
        view = RateLimiter(
            self._rate * share,
            max(1, math.floor(self._max_in_flight * share)),
            clock=self._clock,
            sleep=self._sleep,
        )
        view._buckets = (*view._buckets, *self._buckets)
        view._slots = (*view._slots, *self._slots)
        return view

    def __repr__(self) -> str:
        return f"RateLimiter(rate_per_second={self._rate}, max_in_flight={self._max_in_flight})"
