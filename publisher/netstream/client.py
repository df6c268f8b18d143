"""The Netstream client: one GetMeterReadings call, or a long range planned as windows and batches.

:meth:`NetstreamClient.get` is one logical call (auth, rate limit and retries live in
:mod:`publisher.netstream.transport`). :meth:`NetstreamClient.fetch` plans a range:

- **windows**: ``[start, end)`` in UTC, cut at ``start + k * window``; only the last window is shorter;
- **batches**: targets grouped by kind (one kind per request), in the given order, at most ``batch_size``
  per request; every request asks for all the reading types;
- **order**: results come back window-major, then batch, whatever order the requests finish in; up to
  ``max_in_flight`` requests run at once and only a bounded number of results wait to be consumed;
- **shrinking**: when a window is too large (read timeout, or a body over ``max_response_bytes``) it is cut
  in two at a whole number of ``min_window`` units from its start, nearest half way, and the halves are
  fetched in order. A window of one ``min_window`` unit that is still too large raises NetstreamUnavailable.
  Every cut falls on the ``min_window`` grid from the planned window's start, so with ``start`` on an
  interval boundary and ``min_window`` a multiple of the interval no interval is ever split between requests.
"""

from __future__ import annotations

import itertools
import random
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from zoneinfo import ZoneInfo

import requests
import structlog
from requests.adapters import HTTPAdapter

from publisher import __version__
from publisher.errors import (
    ConfigError,
    NetstreamRequestError,
    NetstreamUnavailable,
    ParseError,
    ResponseTooLarge,
)
from publisher.netstream.auth import TokenProvider
from publisher.netstream.model import ReadingsRequest, Target, TargetKind, WireFormat
from publisher.netstream.parser import ParsedResponse, parse_response
from publisher.netstream.ratelimit import RateLimiter
from publisher.netstream.request import content_type, render_request
from publisher.netstream.transport import ClientObserver, HttpCall, NullObserver, RetryPolicy, Transport

__all__ = [
    "ENDPOINT_PATH",
    "ClientObserver",
    "ClientOptions",
    "FetchedWindow",
    "NetstreamClient",
    "NullObserver",
    "plan_batches",
    "plan_windows",
    "split_window",
]

log = structlog.get_logger(__name__)

#: appended to the base URL (NETSTREAM_BASE_URL)
ENDPOINT_PATH = "/api/cim17/9/MeterReadings2/get"

_AUCKLAND = ZoneInfo("Pacific/Auckland")
_SEVEN_DAYS = timedelta(days=7)
_ONE_HOUR = timedelta(hours=1)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class ClientOptions:
    """How the client talks to Netstream; each field mirrors a NETSTREAM_* setting."""

    base_url: str
    fmt: WireFormat = WireFormat.JSON
    default_zone: ZoneInfo = _AUCKLAND
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    max_retries: int = 5
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    retry_after_max: float = 300.0  # cap on a server-requested wait
    rate_per_second: float = 5.0
    max_in_flight: int = 4
    window: timedelta = _SEVEN_DAYS  # longest window per request
    min_window: timedelta = _ONE_HOUR  # shrink no further than this
    batch_size: int = 10  # targets per request
    max_response_bytes: int = 64 * 1024 * 1024
    user_agent: str = f"netstream-publisher/{__version__}"

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"NETSTREAM_BASE_URL {self.base_url!r} is not an http(s) URL; set it to e.g. https://sit.sbs.digital"
            )
        positive: tuple[tuple[str, float], ...] = (
            ("NETSTREAM_CONNECT_TIMEOUT", self.connect_timeout),
            ("NETSTREAM_READ_TIMEOUT", self.read_timeout),
            ("NETSTREAM_BACKOFF_INITIAL", self.backoff_initial),
            ("NETSTREAM_BACKOFF_MAX", self.backoff_max),
            ("NETSTREAM_RATE_LIMIT", self.rate_per_second),
            ("NETSTREAM_MAX_IN_FLIGHT", self.max_in_flight),
            ("NETSTREAM_BATCH_SIZE", self.batch_size),
            ("NETSTREAM_WINDOW (seconds)", self.window.total_seconds()),
            ("NETSTREAM_MIN_WINDOW (seconds)", self.min_window.total_seconds()),
            ("max_response_bytes", self.max_response_bytes),
        )
        for name, value in positive:
            if not value > 0:
                raise ConfigError(f"{name} is {value}; set it to a positive number")
        if self.max_retries < 0 or self.retry_after_max < 0:
            raise ConfigError("NETSTREAM_MAX_RETRIES and NETSTREAM_RETRY_AFTER_MAX must not be negative")
        if self.min_window > self.window:
            raise ConfigError(
                "NETSTREAM_MIN_WINDOW must not exceed NETSTREAM_WINDOW; lower it or raise the window"
            )

    @property
    def url(self) -> str:
        """The GetMeterReadings endpoint."""
        return self.base_url.rstrip("/") + ENDPOINT_PATH


@dataclass(frozen=True)
class FetchedWindow:
    """One request's result: the (possibly shrunk) request and what its response held."""

    request: ReadingsRequest
    parsed: ParsedResponse
    raw_format: WireFormat


@dataclass(frozen=True)
class FailedWindow:
    """A request that failed after the client's retries (Netstream unavailable, or a response that could
    not be read); :meth:`NetstreamClient.fetch_each` goes on with the other requests."""

    request: ReadingsRequest
    error: NetstreamUnavailable | ParseError


#: :meth:`NetstreamClient.fetch_each` gives up the rest of a fetch after this many requests in a row found
#: Netstream unavailable: then the service is down, not one window, and every further request would only
#: spend its own retries on it before the next cycle
UNAVAILABLE_IN_A_ROW = 3


# ------------------------------------------------------------------------------------------------ planning


def _aware(label: str, moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NetstreamRequestError(
            f"fetch {label} {moment.isoformat()} has no time zone; pass timezone-aware datetimes"
        )
    return moment.astimezone(UTC)


def plan_windows(start: datetime, end: datetime, window: timedelta) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` in UTC, cut at ``start + k * window``; empty when ``start >= end``."""
    if window <= timedelta(0):
        raise ConfigError(f"window {window} is not positive; set NETSTREAM_WINDOW to a positive duration")
    origin, upper = _aware("start", start), _aware("end", end)
    lower = origin
    windows: list[tuple[datetime, datetime]] = []
    for k in itertools.count(1):
        if lower >= upper:
            break
        cut = min(origin + k * window, upper)
        windows.append((lower, cut))
        lower = cut
    return windows


def plan_batches(targets: Iterable[Target], batch_size: int) -> list[tuple[Target, ...]]:
    """Targets grouped by kind (in order of first appearance, duplicates dropped), ``batch_size`` at most."""
    if batch_size < 1:
        raise ConfigError(f"batch size {batch_size} is below 1; set NETSTREAM_BATCH_SIZE to 1 or more")
    by_kind: dict[TargetKind, list[Target]] = {}
    for target in dict.fromkeys(targets):
        by_kind.setdefault(target.kind, []).append(target)
    return [
        tuple(group[i : i + batch_size])
        for group in by_kind.values()
        for i in range(0, len(group), batch_size)
    ]


def split_window(start: datetime, end: datetime, min_window: timedelta) -> datetime | None:
    """Where to cut a too-large window: whole ``min_window`` units from ``start``, nearest half way.

    None when the window is no longer than one unit (it cannot shrink any further).
    """
    unit = min_window // _MICROSECOND
    span = (end - start) // _MICROSECOND
    units = -(-span // unit)  # ceiling: a partial last unit counts
    if units < 2:
        return None
    return start + (units // 2) * min_window


def _fetched_only(
    items: Generator[FetchedWindow | FailedWindow, None, None],
) -> Generator[FetchedWindow, None, None]:
    """``items`` of a fetch that raises its failures, typed as such; closing this closes ``items``."""
    try:
        for item in items:
            assert isinstance(item, FetchedWindow)  # a failure was raised, not yielded
            yield item
    finally:
        items.close()


def _nothing() -> Generator[FetchedWindow, None, None]:
    yield from ()


# ------------------------------------------------------------------------------------------------ client


def pooled_session(options: ClientOptions) -> requests.Session:
    """A session with one pooled connection per in-flight request and no urllib3-level retries."""
    session = requests.Session()
    # max_retries=0: urllib3 never retries on its own; the transport's policy does
    adapter = HTTPAdapter(
        pool_connections=options.max_in_flight, pool_maxsize=options.max_in_flight, max_retries=0
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class NetstreamClient:
    """GetMeterReadings over HTTP. Thread-safe; close it (or use ``with``) to release pooled connections."""

    def __init__(
        self,
        options: ClientOptions,
        tokens: TokenProvider,
        *,
        session: requests.Session | None = None,
        observer: ClientObserver | None = None,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        zone_for: Callable[[str], ZoneInfo | None] | None = None,
        owns_session: bool | None = None,
    ) -> None:
        self._options = options
        #: close the session on close(): always for our own, on request for one handed in
        self._owns_session = session is None if owns_session is None else owns_session
        self._session = session if session is not None else pooled_session(options)
        self._zone_for = zone_for
        self._transport = Transport(
            self._session,
            tokens,
            limiter
            if limiter is not None
            else RateLimiter(options.rate_per_second, options.max_in_flight, sleep=sleep),
            policy=RetryPolicy(
                max_retries=options.max_retries,
                backoff_initial=options.backoff_initial,
                backoff_max=options.backoff_max,
                retry_after_max=options.retry_after_max,
            ),
            observer=observer if observer is not None else NullObserver(),
            timeout=(options.connect_timeout, options.read_timeout),
            max_response_bytes=options.max_response_bytes,
            sleep=sleep,
            rng=rng,
            user_agent=options.user_agent,
        )

    @property
    def options(self) -> ClientOptions:
        return self._options

    def get(self, request: ReadingsRequest) -> ParsedResponse:
        """One logical call with auth and retries; the parsed response.

        Raises AuthError, NetstreamRequestError (fatal), NetstreamUnavailable (retries exhausted),
        ParseError (still unparseable after the retries) or ResponseTooLarge (body over the size limit).
        """
        return self._send(request, split_too_large=False)

    def fetch(
        self, targets: Sequence[Target], reading_types: Sequence[str], start: datetime, end: datetime
    ) -> Generator[FetchedWindow, None, None]:
        """Every window and batch of ``[start, end)``, fetched concurrently; window-major, then batch. The
        first request that fails after its retries raises its error and ends the fetch."""
        return _fetched_only(self._planned(targets, reading_types, start, end, tolerate=False))

    def fetch_each(
        self, targets: Sequence[Target], reading_types: Sequence[str], start: datetime, end: datetime
    ) -> Generator[FetchedWindow | FailedWindow, None, None]:
        """As :meth:`fetch`, but a request that fails after its retries is yielded as a
        :class:`FailedWindow` and the others go on, until :data:`UNAVAILABLE_IN_A_ROW` requests in a row
        found Netstream unavailable: that last error is raised and the rest is left for the next cycle."""
        return self._planned(targets, reading_types, start, end, tolerate=True)

    def _planned(
        self,
        targets: Sequence[Target],
        reading_types: Sequence[str],
        start: datetime,
        end: datetime,
        *,
        tolerate: bool,
    ) -> Generator[FetchedWindow | FailedWindow, None, None]:
        """The requests are planned (and bad arguments raised) at once; fetched as the result is iterated."""
        windows = plan_windows(start, end, self._options.window)
        batches = plan_batches(targets, self._options.batch_size)
        types = tuple(dict.fromkeys(reading_types))
        if not (windows and batches and types):
            return _nothing()
        log.info(
            "fetch_planned", windows=len(windows), batches=len(batches), requests=len(windows) * len(batches)
        )
        requests_ = (
            ReadingsRequest(targets=batch, reading_types=types, start=lower, end=upper)
            for lower, upper in windows
            for batch in batches
        )
        return self._run(requests_, tolerate=tolerate)

    def close(self) -> None:
        """Release pooled connections (only of a session the client created itself)."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> NetstreamClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------ internals

    def _run(
        self, planned: Iterator[ReadingsRequest], *, tolerate: bool
    ) -> Generator[FetchedWindow | FailedWindow, None, None]:
        workers = self._options.max_in_flight
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="netstream-fetch")
        pending: deque[tuple[ReadingsRequest, Future[list[FetchedWindow]]]] = deque()
        unavailable = 0  # requests in a row that found Netstream unavailable
        try:
            for request in itertools.islice(planned, 2 * workers):
                pending.append((request, executor.submit(self._fetch_window, request)))
            while pending:
                request, future = pending.popleft()
                try:
                    results: Sequence[FetchedWindow | FailedWindow] = future.result()
                except (NetstreamUnavailable, ParseError) as exc:
                    unavailable = unavailable + 1 if isinstance(exc, NetstreamUnavailable) else unavailable
                    if not tolerate or unavailable >= UNAVAILABLE_IN_A_ROW:
                        if tolerate:
                            log.warning("fetch_abandoned", failed_in_a_row=unavailable, error=exc.message)
                        raise
                    results = [FailedWindow(request, exc)]
                else:
                    unavailable = 0
                following = next(planned, None)
                if following is not None:
                    pending.append((following, executor.submit(self._fetch_window, following)))
                yield from results
        finally:
            for _, future in pending:
                future.cancel()
            executor.shutdown(wait=True, cancel_futures=True)

    def _fetch_window(self, request: ReadingsRequest) -> list[FetchedWindow]:
        try:
            parsed = self._send(request, split_too_large=True)
        except ResponseTooLarge as exc:
            return self._split(request, exc)
        return [FetchedWindow(request=request, parsed=parsed, raw_format=self._options.fmt)]

    def _split(self, request: ReadingsRequest, exc: ResponseTooLarge) -> list[FetchedWindow]:
        cut = split_window(request.start, request.end, self._options.min_window)
        if cut is None:
            log.error(
                "window_split_exhausted", start=request.start, end=request.end, targets=len(request.targets)
            )
            raise NetstreamUnavailable(
                f"Netstream cannot answer even a {request.end - request.start} window for "
                f"{len(request.targets)} target(s) ({exc.message}); it will be retried next cycle; "
                "if it persists lower NETSTREAM_BATCH_SIZE or NETSTREAM_MIN_WINDOW"
            ) from exc
        log.warning("window_split", start=request.start, end=request.end, at=cut, reason=exc.message)
        return [
            *self._fetch_window(replace(request, end=cut)),
            *self._fetch_window(replace(request, start=cut)),
        ]

    def _send(self, request: ReadingsRequest, *, split_too_large: bool) -> ParsedResponse:
        fmt = self._options.fmt
        media = content_type(fmt)
        call = HttpCall(
            self._options.url, render_request(request, fmt, self._options.default_zone), media, media
        )
        window = (request.start.astimezone(UTC), request.end.astimezone(UTC))
        return self._transport.post(
            call, lambda body: self._parse(body, window), split_too_large=split_too_large
        )

    def _parse(self, body: bytes, window: tuple[datetime, datetime]) -> ParsedResponse:
        return parse_response(
            body,
            self._options.fmt,
            default_zone=self._options.default_zone,
            zone_for=self._zone_for,
            max_bytes=self._options.max_response_bytes,
            window=window,
        )
