"""One logical call to Netstream over HTTP: bearer auth, rate limit, retries, Retry-After and a size limit.

Every attempt is classified the way the Singer SDK splits retriable from fatal API errors:

=======================================  ===================================================================
outcome of one attempt                   what happens
=======================================  ===================================================================
2xx and the body parses                  the parsed value is returned
2xx and ``parse`` raises ParseError      retried like a 5xx; when retries run out the ParseError is raised
401 with a cached token                  the token is invalidated and the call repeated once, without waiting
401 with a fresh token, or a second 401  AuthError (a static token's provider raises its own AuthError)
403                                      AuthError (permissions/entitlements)
429, 500, 502, 503, 504                  retried
connection refused/reset/dropped, TLS   retried
read timeout                             ``split_too_large``: ResponseTooLarge at once; otherwise retried
body larger than ``max_response_bytes``  ResponseTooLarge at once (the same window would be as large again)
other 5xx                                NetstreamUnavailable, not retried now (the next cycle tries again)
other 3xx/4xx                            NetstreamRequestError with the status and the problem details
unusable URL                             ConfigError naming NETSTREAM_BASE_URL
=======================================  ===================================================================

Waiting between attempts: ``Retry-After`` (delta-seconds or HTTP-date, RFC 9110) is honoured exactly when the
server sends it, capped at ``retry_after_max``, and by the whole client: the rate limiter holds every request
that has not started yet until the wait is over (:meth:`RateLimiter.hold`); otherwise full jitter,
``rng.uniform(0, min(backoff_max, backoff_initial * 2**retry))`` with ``retry`` counting from 0. After
``max_retries`` retries the call raises NetstreamUnavailable. Every wait goes through the injected ``sleep``.
Neither the token nor the Authorization header is ever logged.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

import requests
import structlog
from urllib3.exceptions import ReadTimeoutError

from publisher.errors import (
    AuthError,
    ConfigError,
    NetstreamRequestError,
    NetstreamUnavailable,
    ParseError,
    PublisherError,
    ResponseTooLarge,
)

if TYPE_CHECKING:
    from publisher.netstream.auth import Token, TokenProvider
    from publisher.netstream.ratelimit import RateLimiter

log = structlog.get_logger(__name__)

T = TypeVar("T")

#: statuses retried with back-off (or Retry-After)
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

_CHUNK = 64 * 1024
_ERROR_BODY_LIMIT = 64 * 1024
_DETAIL_LIMIT = 500
_DELTA_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")


class ClientObserver(Protocol):
    """Metrics hook; the Netstream side knows nothing of Prometheus."""

    def request_completed(self, status: int | None, seconds: float) -> None:
        """One HTTP attempt ended; ``status`` is None when no response arrived."""
        ...

    def request_retried(self, reason: str, wait: float) -> None:
        """An attempt failed transiently; the next one starts after ``wait`` seconds."""
        ...

    def rate_limited(self, wait: float) -> None:
        """The client-side rate limiter held a request back for ``wait`` seconds."""
        ...


class NullObserver:
    """An observer that records nothing."""

    def request_completed(self, status: int | None, seconds: float) -> None:
        del status, seconds

    def request_retried(self, reason: str, wait: float) -> None:
        del reason, wait

    def rate_limited(self, wait: float) -> None:
        del wait


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry transient failures."""

    max_retries: int = 5
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    retry_after_max: float = 300.0

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Full jitter: uniform in ``[0, min(backoff_max, backoff_initial * 2**retry)]``; ``retry`` from 0."""
        ceiling = min(self.backoff_max, self.backoff_initial * 2.0 ** min(retry, 64))
        return rng.uniform(0.0, ceiling)


@dataclass(frozen=True)
class HttpCall:
    """What to POST: the URL, the body and the media types of request and reply."""

    url: str
    body: bytes
    content_type: str
    accept: str


def retry_after_seconds(value: str, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` value asks for: delta-seconds or an HTTP-date (RFC 9110 §10.2.3).

    A date in the past means 0. Returns None when the value is neither form.
    """
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" dates come back naive; HTTP-dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def problem_details(content_type: str, body: bytes) -> str:
    """One line describing an error body: ProblemDetails title/detail/errors, else the start of the text."""
    text = body.decode("utf-8", errors="replace")
    if "json" in content_type.lower():
        try:
            doc: Any = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            parts = [str(doc[key]) for key in ("title", "detail") if doc.get(key)]
            parts.extend(_problem_errors(doc.get("errors")))
            if doc.get("traceId"):
                parts.append(f"traceId {doc['traceId']}")
            if parts:
                return _one_line("; ".join(parts))[:_DETAIL_LIMIT]
    return _one_line(text[:_DETAIL_LIMIT]) or "empty body"


def _problem_errors(errors: object) -> list[str]:
    if isinstance(errors, dict):
        out = []
        for field, messages in errors.items():
            listed = messages if isinstance(messages, list) else [messages]
            out.append(f"{field}: {', '.join(str(message) for message in listed)}")
        return out
    if isinstance(errors, list):
        return [str(error) for error in errors]
    return []


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _is_read_timeout(exc: requests.RequestException) -> bool:
    """A read timeout before the headers (ReadTimeout) or while streaming the body (wrapped by requests)."""
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return True
    return isinstance(exc, requests.ConnectionError) and any(
        isinstance(arg, ReadTimeoutError) for arg in exc.args
    )


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes


@dataclass(frozen=True)
class _Failure:
    """A transient outcome: retry after a wait."""

    reason: str
    status: int | None
    retry_after: float | None = None  # seconds the server asked for, uncapped
    detail: str = ""
    error: PublisherError | None = None  # raised as-is when retries run out (ParseError, token endpoint)
    cause: BaseException | None = None


@dataclass(frozen=True)
class _Fatal:
    """An outcome that ends the call at once."""

    status: int | None
    error: PublisherError
    cause: BaseException | None = None


_Outcome = _Reply | _Failure | _Fatal


class Transport:
    """POSTs one request with auth, rate limit and the retry policy; returns ``parse(body)``."""

    def __init__(
        self,
        session: requests.Session,
        tokens: TokenProvider,
        limiter: RateLimiter,
        *,
        policy: RetryPolicy | None = None,
        observer: ClientObserver | None = None,
        timeout: tuple[float, float] = (10.0, 120.0),
        max_response_bytes: int = 64 * 1024 * 1024,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        now: Callable[[], datetime] = _utcnow,
        user_agent: str | None = None,
    ) -> None:
        self._session = session
        self._tokens = tokens
        self._limiter = limiter
        self._policy = policy if policy is not None else RetryPolicy()
        self._observer: ClientObserver = observer if observer is not None else NullObserver()
        self._timeout = timeout
        self._max_bytes = max_response_bytes
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 - back-off jitter, not cryptography
        self._now = now
        self._user_agent = user_agent

    def post(self, call: HttpCall, parse: Callable[[bytes], T], *, split_too_large: bool = False) -> T:
        """Send ``call`` until it succeeds, fails fatally or runs out of retries; return ``parse(body)``.

        Raises AuthError, NetstreamRequestError, ConfigError (fatal), NetstreamUnavailable (retries
        exhausted), ResponseTooLarge (split the window) or the last ParseError.
        """
        retry = 0
        renewed = False
        while True:
            try:
                token = self._tokens.get()
            except NetstreamUnavailable as exc:
                failure = _Failure("token_endpoint", exc.status, error=exc, cause=exc)
            else:
                outcome = self._attempt(call, token, split_too_large=split_too_large)
                if isinstance(outcome, _Reply):
                    try:
                        return parse(outcome.body)
                    except ParseError as exc:
                        failure = _Failure("unparseable_body", outcome.status, error=exc)
                elif outcome.reason == "unauthorized":
                    self._renew(token, renewed=renewed, detail=outcome.detail)
                    renewed = True
                    continue
                else:
                    failure = outcome
            if retry >= self._policy.max_retries:
                self._give_up(failure, attempts=retry + 1)
            wait = self._wait(failure, retry)
            log.warning(
                "request_retried", reason=failure.reason, status=failure.status, attempt=retry + 1, wait=wait
            )
            self._observer.request_retried(failure.reason, wait)
            self._sleep(wait)
            retry += 1

    # ------------------------------------------------------------------------------------------ decisions

    def _renew(self, token: Token, *, renewed: bool, detail: str) -> None:
        """A 401: invalidate a cached token once; a fresh token (or a second 401) is fatal."""
        if token.fresh or renewed:
            log.error("request_failed", reason="unauthorized", status=401, fresh_token=token.fresh)
            hint = f" ({detail})" if detail else ""
            raise AuthError(
                f"Netstream rejected a freshly issued token (HTTP 401{hint}): check NETSTREAM_SCOPE "
                "(e.g. api://<application id>/.default) and that the API registration is active"
            )
        try:
            self._tokens.invalidate(token)
        except AuthError:
            log.error("request_failed", reason="unauthorized", status=401, renewable=False)  # noqa: TRY400 - re-raised; reported once, without a traceback
            raise
        log.info("token_rejected", status=401)

    def _wait(self, failure: _Failure, retry: int) -> float:
        if failure.retry_after is None:
            return self._policy.backoff(retry, self._rng)
        cap = self._policy.retry_after_max
        if failure.retry_after > cap:
            log.warning("retry_after_capped", requested=failure.retry_after, cap=cap)
            return cap
        return failure.retry_after

    def _give_up(self, failure: _Failure, *, attempts: int) -> NoReturn:
        log.error("request_failed", reason=failure.reason, status=failure.status, attempts=attempts)
        if isinstance(failure.error, ParseError):
            raise failure.error
        if failure.reason == "token_endpoint":
            what = f"token endpoint HTTP {failure.status}" if failure.status else "token endpoint unreachable"
        elif failure.status is not None:
            what = f"HTTP {failure.status}"
        else:
            what = failure.reason.replace("_", " ")
        retry_after = (
            None if failure.retry_after is None else min(failure.retry_after, self._policy.retry_after_max)
        )
        raise NetstreamUnavailable(
            f"Netstream is unavailable ({what}) after {attempts} attempts; it will be retried next cycle",
            status=failure.status,
            retry_after=retry_after,
        ) from failure.cause

    # ------------------------------------------------------------------------------------------ one attempt

    def _attempt(self, call: HttpCall, token: Token, *, split_too_large: bool) -> _Reply | _Failure:
        headers = {
            "Authorization": f"Bearer {token.value}",
            "Content-Type": call.content_type,
            "Accept": call.accept,
            "Accept-Encoding": "gzip",
        }
        if self._user_agent:
            headers["User-Agent"] = self._user_agent
        waited = self._limiter.acquire()
        try:
            if waited > 0.0:
                self._observer.rate_limited(waited)
            started = time.monotonic()
            outcome = self._exchange(call, headers, split_too_large=split_too_large)
            self._observer.request_completed(outcome.status, time.monotonic() - started)
            if isinstance(outcome, _Failure) and outcome.retry_after is not None:
                # before the slot is given back: no request of this client starts until the wait is over
                self._limiter.hold(min(outcome.retry_after, self._policy.retry_after_max))
        finally:
            self._limiter.release()
        if isinstance(outcome, _Fatal):
            if not isinstance(outcome.error, ResponseTooLarge):
                log.error("request_failed", status=outcome.status, error=type(outcome.error).__name__)
            raise outcome.error from outcome.cause
        return outcome

    def _exchange(self, call: HttpCall, headers: dict[str, str], *, split_too_large: bool) -> _Outcome:
        try:
            response = self._session.post(
                call.url,
                data=call.body,
                headers=headers,
                timeout=self._timeout,
                stream=True,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            return self._network_failure(call, exc, None, split_too_large=split_too_large)
        with response:
            if 200 <= response.status_code < 300:
                return self._read_body(call, response, split_too_large=split_too_large)
            return self._classify(response)

    def _read_body(self, call: HttpCall, response: requests.Response, *, split_too_large: bool) -> _Outcome:
        status = response.status_code
        declared = response.headers.get("Content-Length", "")
        encoded = response.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
        if declared.isdigit() and not encoded and int(declared) > self._max_bytes:
            return _Fatal(status, self._too_large(int(declared)))
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=_CHUNK):
                size += len(chunk)
                if size > self._max_bytes:
                    return _Fatal(status, self._too_large(size))
                chunks.append(chunk)
        except requests.RequestException as exc:
            return self._network_failure(call, exc, status, split_too_large=split_too_large)
        return _Reply(status, b"".join(chunks))

    def _too_large(self, size: int) -> ResponseTooLarge:
        return ResponseTooLarge(
            f"Netstream response exceeds {self._max_bytes} bytes (at least {size}); "
            "fetch a shorter window or fewer targets per request"
        )

    def _classify(self, response: requests.Response) -> _Outcome:
        status = response.status_code
        if status == 401:
            challenge = _one_line(response.headers.get("WWW-Authenticate", ""))[:200]
            return _Failure("unauthorized", status, detail=challenge)
        if status == 403:
            return _Fatal(
                status,
                AuthError(
                    "Netstream refused access (HTTP 403): the API registration lacks permission for these "
                    "targets; ask a Retailer Admin to check API Security and the user's usage point group "
                    "entitlements"
                ),
            )
        if status in RETRYABLE_STATUSES:
            return _Failure(f"http_{status}", status, retry_after=self._server_wait(response))
        details = problem_details(response.headers.get("Content-Type", ""), _read_limited(response))
        if status >= 500:
            return _Fatal(
                status,
                NetstreamUnavailable(
                    f"Netstream failed with HTTP {status} ({details}); it will be retried next cycle",
                    status=status,
                ),
            )
        if 300 <= status < 400:
            location = response.headers.get("Location", "?")
            return _Fatal(
                status,
                NetstreamRequestError(
                    f"Netstream redirected the request (HTTP {status} to {location}); "
                    "set NETSTREAM_BASE_URL to the final host",
                    status=status,
                ),
            )
        return _Fatal(
            status,
            NetstreamRequestError(
                f"Netstream rejected the request with HTTP {status}: {details}; "
                "fix the targets, reading types or time window in the request",
                status=status,
            ),
        )

    def _server_wait(self, response: requests.Response) -> float | None:
        header = response.headers.get("Retry-After")
        if header is None:
            return None
        seconds = retry_after_seconds(header, self._now())
        if seconds is None:
            log.warning("retry_after_invalid", value=header[:64])
        return seconds

    def _network_failure(
        self, call: HttpCall, exc: requests.RequestException, status: int | None, *, split_too_large: bool
    ) -> _Outcome:
        if _is_read_timeout(exc):
            if split_too_large:
                return _Fatal(
                    status,
                    ResponseTooLarge(
                        f"Netstream did not answer within the read timeout ({self._timeout[1]} s); "
                        "the window will be split"
                    ),
                    exc,
                )
            return _Failure("read_timeout", status, cause=exc)
        transient = (
            requests.ConnectionError
            | requests.Timeout
            | requests.exceptions.ChunkedEncodingError
            | requests.exceptions.ContentDecodingError
        )
        if isinstance(exc, transient):
            if isinstance(exc, requests.exceptions.SSLError):
                return _Failure("tls_error", status, cause=exc)
            return _Failure(
                "connection_dropped" if status is not None else "connection_error", status, cause=exc
            )
        return _Fatal(
            status,
            ConfigError(
                f"cannot send to {call.url!r} ({type(exc).__name__}); set NETSTREAM_BASE_URL to https://host"
            ),
            exc,
        )


def _read_limited(response: requests.Response) -> bytes:
    """Up to 64 KiB of an error body; whatever arrived if the connection fails."""
    body = b""
    try:
        for chunk in response.iter_content(chunk_size=_CHUNK):
            body += chunk
            if len(body) >= _ERROR_BODY_LIMIT:
                break
    except requests.RequestException:
        pass  # the status already says what went wrong; the details are a bonus
    return body[:_ERROR_BODY_LIMIT]
