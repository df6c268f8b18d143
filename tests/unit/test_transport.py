"""Transport: retries, full jitter, Retry-After, re-auth, error classification, over real loopback HTTP.

The transport sleeps through an injected fake, so every wait is asserted exactly without real sleeping.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from publisher.errors import (
    AuthError,
    NetstreamRequestError,
    NetstreamUnavailable,
    ParseError,
    ResponseTooLarge,
)
from publisher.netstream.auth import ClientCredentialsProvider, StaticTokenProvider, TokenProvider
from publisher.netstream.ratelimit import RateLimiter
from publisher.netstream.transport import (
    HttpCall,
    RetryPolicy,
    Transport,
    problem_details,
    retry_after_seconds,
)
from unit.scripted_server import Recorded, Reply, ScriptedServer, json_reply

API = "/api/cim17/9/MeterReadings2/get"
TOKEN_PATH = "/tenant/oauth2/v2.0/token"
SEED = 20250301
NOW = datetime(2025, 3, 1, 0, 0, 0, tzinfo=UTC)
OK = json_reply({"meterReading": []})


def parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ParseError("response is not JSON", fragment=body[:200].decode(errors="replace")) from exc


class Recorder:
    """Fake sleep plus an observer that records what the transport reported."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.completed: list[int | None] = []
        self.retried: list[tuple[str, float]] = []
        self.limited: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def request_completed(self, status: int | None, seconds: float) -> None:
        assert seconds >= 0.0
        self.completed.append(status)

    def request_retried(self, reason: str, wait: float) -> None:
        self.retried.append((reason, wait))

    def rate_limited(self, wait: float) -> None:
        self.limited.append(wait)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as running:
        yield running


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def transport(
    server: ScriptedServer,
    session: requests.Session,
    rec: Recorder,
    *,
    tokens: TokenProvider | None = None,
    policy: RetryPolicy | None = None,
    read_timeout: float = 10.0,
    max_bytes: int = 1024 * 1024,
    limiter: RateLimiter | None = None,
) -> Transport:
    return Transport(
        session,
        tokens if tokens is not None else StaticTokenProvider("static-token"),
        # a frozen clock: a Retry-After hold of the limiter is not slept through for real in these tests
        limiter if limiter is not None else RateLimiter(1000.0, 4, clock=lambda: 0.0, sleep=lambda _s: None),
        policy=policy
        if policy is not None
        else RetryPolicy(max_retries=3, backoff_initial=1.0, backoff_max=60.0),
        observer=rec,
        timeout=(5.0, read_timeout),
        max_response_bytes=max_bytes,
        sleep=rec.sleep,
        rng=random.Random(SEED),
        now=lambda: NOW,
    )


def call(server: ScriptedServer) -> HttpCall:
    return HttpCall(server.url + API, b'{"reading": []}', "application/json", "application/json")


def jitter(count: int, initial: float = 1.0, ceiling: float = 60.0) -> list[float]:
    rng = random.Random(SEED)
    return [rng.uniform(0.0, min(ceiling, initial * 2**retry)) for retry in range(count)]


def oauth(server: ScriptedServer, session: requests.Session) -> ClientCredentialsProvider:
    counter = itertools.count(1)
    server.fallback(
        TOKEN_PATH, lambda _r: json_reply({"access_token": f"jwt-{next(counter)}", "expires_in": 3599})
    )
    return ClientCredentialsProvider(
        server.url + TOKEN_PATH, "client", "secret-xyz", "scope", session=session
    )


# ------------------------------------------------------------------------------------------------ success


def test_sends_auth_media_types_and_gzip_and_returns_the_parsed_body(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    server.script(API, OK)
    assert transport(server, session, rec).post(call(server), parse) == {"meterReading": []}
    (request,) = server.requests_to(API)
    assert request.method == "POST"
    assert request.body == b'{"reading": []}'
    assert request.headers["Authorization"] == "Bearer static-token"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Accept-Encoding"] == "gzip"
    assert rec.sleeps == []
    assert rec.completed == [200]


def test_gzip_bodies_are_decoded(server: ScriptedServer, session: requests.Session, rec: Recorder) -> None:
    server.script(API, json_reply({"meterReading": [{"values": [1, 2]}]}, gzip=True))
    assert transport(server, session, rec).post(call(server), parse) == {"meterReading": [{"values": [1, 2]}]}


# ------------------------------------------------------------------------------------------------ retries


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_status_is_retried_with_jitter(
    server: ScriptedServer, session: requests.Session, rec: Recorder, status: int
) -> None:
    server.script(API, Reply(status=status), Reply(status=status), OK)
    assert transport(server, session, rec).post(call(server), parse) == {"meterReading": []}
    assert len(server.requests_to(API)) == 3
    assert rec.sleeps == jitter(2)
    assert rec.retried == [(f"http_{status}", wait) for wait in jitter(2)]
    assert rec.completed == [status, status, 200]


def test_gives_up_after_max_retries(server: ScriptedServer, session: requests.Session, rec: Recorder) -> None:
    server.fallback(API, Reply(status=503))
    with capture_logs() as logs, pytest.raises(NetstreamUnavailable) as caught:
        transport(server, session, rec).post(call(server), parse)
    assert len(server.requests_to(API)) == 4
    assert rec.sleeps == jitter(3)
    message = str(caught.value)
    assert "HTTP 503" in message
    assert "4 attempts" in message
    assert "it will be retried next cycle" in message
    assert caught.value.status == 503
    events = [entry["event"] for entry in logs]
    assert events == ["request_retried"] * 3 + ["request_failed"]
    assert [entry["attempt"] for entry in logs[:3]] == [1, 2, 3]
    assert [entry["wait"] for entry in logs[:3]] == jitter(3)


def test_full_jitter_stays_within_the_exponential_ceiling(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    server.fallback(API, Reply(status=500))
    policy = RetryPolicy(max_retries=9, backoff_initial=0.5, backoff_max=8.0)
    with pytest.raises(NetstreamUnavailable):
        transport(server, session, rec, policy=policy).post(call(server), parse)
    assert rec.sleeps == jitter(9, initial=0.5, ceiling=8.0)
    for retry, wait in enumerate(rec.sleeps):
        assert 0.0 <= wait <= min(8.0, 0.5 * 2**retry)


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    retry=st.integers(min_value=0, max_value=200),
    initial=st.floats(min_value=0.01, max_value=10.0),
    ceiling=st.floats(min_value=0.01, max_value=600.0),
)
def test_backoff_is_uniform_below_the_capped_ceiling(
    seed: int, retry: int, initial: float, ceiling: float
) -> None:
    policy = RetryPolicy(backoff_initial=initial, backoff_max=ceiling)
    wait = policy.backoff(retry, random.Random(seed))
    assert 0.0 <= wait <= min(ceiling, initial * 2.0 ** min(retry, 64))


def test_zero_retries_means_one_attempt(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    server.fallback(API, Reply(status=502))
    with pytest.raises(NetstreamUnavailable, match="1 attempts"):
        transport(server, session, rec, policy=RetryPolicy(max_retries=0)).post(call(server), parse)
    assert rec.sleeps == []


def test_other_5xx_is_not_retried(server: ScriptedServer, session: requests.Session, rec: Recorder) -> None:
    server.fallback(API, Reply(status=501, body=b"Not Implemented", content_type="text/plain"))
    with pytest.raises(NetstreamUnavailable, match="HTTP 501") as caught:
        transport(server, session, rec).post(call(server), parse)
    assert caught.value.status == 501
    assert len(server.requests_to(API)) == 1


# ------------------------------------------------------------------------------------------------ Retry-After


@pytest.mark.parametrize(
    ("status", "header", "expected"), [(429, "7", 7.0), (503, "2", 2.0), (429, "0", 0.0)]
)
def test_retry_after_seconds_replace_the_backoff(
    server: ScriptedServer,
    session: requests.Session,
    rec: Recorder,
    status: int,
    header: str,
    expected: float,
) -> None:
    server.script(API, Reply(status=status, headers={"Retry-After": header}), OK)
    transport(server, session, rec).post(call(server), parse)
    assert rec.sleeps == [expected]


def test_retry_after_http_date_is_honoured_exactly(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    when = format_datetime(NOW + timedelta(seconds=12), usegmt=True)
    server.script(API, Reply(status=429, headers={"Retry-After": when}), OK)
    transport(server, session, rec).post(call(server), parse)
    assert rec.sleeps == [12.0]


def test_retry_after_beyond_the_cap_waits_the_cap(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    server.script(API, Reply(status=429, headers={"Retry-After": "900"}), OK)
    policy = RetryPolicy(max_retries=3, retry_after_max=300.0)
    with capture_logs() as logs:
        transport(server, session, rec, policy=policy).post(call(server), parse)
    assert rec.sleeps == [300.0]
    capped = [entry for entry in logs if entry["event"] == "retry_after_capped"]
    assert capped == [
        {"event": "retry_after_capped", "requested": 900.0, "cap": 300.0, "log_level": "warning"}
    ]


def test_invalid_retry_after_falls_back_to_jitter(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    server.script(API, Reply(status=503, headers={"Retry-After": "soon"}), OK)
    with capture_logs() as logs:
        transport(server, session, rec).post(call(server), parse)
    assert rec.sleeps == jitter(1)
    assert "retry_after_invalid" in [entry["event"] for entry in logs]


def test_exhausted_retries_carry_the_servers_wait(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    server.fallback(API, Reply(status=429, headers={"Retry-After": "5"}))
    with pytest.raises(NetstreamUnavailable) as caught:
        transport(server, session, rec).post(call(server), parse)
    assert rec.sleeps == [5.0, 5.0, 5.0]
    assert caught.value.retry_after == 5.0
    assert caught.value.status == 429


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 3 ", 3.0),
        ("1.5", 1.5),
        ("Sat, 01 Mar 2025 00:01:00 GMT", 60.0),
        ("Saturday, 01-Mar-25 00:00:30 GMT", 30.0),  # RFC 850, obsolete but allowed
        ("Sat Mar  1 00:00:10 2025", 10.0),  # asctime
        ("Fri, 28 Feb 2025 23:00:00 GMT", 0.0),  # in the past
        ("soon", None),
        ("-5", None),
        ("", None),
    ],
)
def test_retry_after_parsing(value: str, expected: float | None) -> None:
    assert retry_after_seconds(value, NOW) == expected


# ------------------------------------------------------------------------------------------------ auth


def test_401_on_a_cached_token_reauthenticates_exactly_once(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    tokens = oauth(server, session)
    tokens.get()  # warm the cache: the next request uses a cached token
    server.script(API, Reply(status=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}), OK)
    assert transport(server, session, rec, tokens=tokens).post(call(server), parse) == {"meterReading": []}
    first, second = server.requests_to(API)
    assert first.headers["Authorization"] == "Bearer jwt-1"
    assert second.headers["Authorization"] == "Bearer jwt-2"
    assert len(server.requests_to(TOKEN_PATH)) == 2
    assert rec.sleeps == []


def test_second_401_after_reauth_is_fatal(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    tokens = oauth(server, session)
    tokens.get()
    server.fallback(API, Reply(status=401))
    with pytest.raises(AuthError, match="NETSTREAM_SCOPE"):
        transport(server, session, rec, tokens=tokens).post(call(server), parse)
    assert len(server.requests_to(API)) == 2
    assert len(server.requests_to(TOKEN_PATH)) == 2


def test_401_on_a_fresh_token_is_fatal_at_once(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    tokens = oauth(server, session)
    server.fallback(API, Reply(status=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}))
    with pytest.raises(AuthError) as caught:
        transport(server, session, rec, tokens=tokens).post(call(server), parse)
    assert "freshly issued token" in str(caught.value)
    assert "NETSTREAM_SCOPE" in str(caught.value)
    assert "invalid_token" in str(caught.value)
    assert len(server.requests_to(API)) == 1
    assert len(server.requests_to(TOKEN_PATH)) == 1


def test_401_on_a_static_token_names_netstream_token(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    server.fallback(API, Reply(status=401))
    with pytest.raises(AuthError, match="NETSTREAM_TOKEN"):
        transport(server, session, rec).post(call(server), parse)
    assert len(server.requests_to(API)) == 1


def test_403_is_fatal(server: ScriptedServer, session: requests.Session, rec: Recorder) -> None:
    server.fallback(API, Reply(status=403))
    with pytest.raises(AuthError, match="Retailer Admin") as caught:
        transport(server, session, rec).post(call(server), parse)
    assert "HTTP 403" in str(caught.value)
    assert len(server.requests_to(API)) == 1


def test_token_endpoint_outage_is_retried_by_the_policy(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    tokens = oauth(server, session)
    server.script(TOKEN_PATH, Reply(status=503), Reply(status=500))
    server.script(API, OK)
    assert transport(server, session, rec, tokens=tokens).post(call(server), parse) == {"meterReading": []}
    assert rec.sleeps == jitter(2)
    assert [reason for reason, _ in rec.retried] == ["token_endpoint", "token_endpoint"]
    assert len(server.requests_to(API)) == 1


def test_token_endpoint_refusal_is_fatal(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    tokens = oauth(server, session)
    server.script(TOKEN_PATH, json_reply({"error": "unauthorized_client"}, status=400))
    with pytest.raises(AuthError, match="NETSTREAM_CLIENT_SECRET"):
        transport(server, session, rec, tokens=tokens).post(call(server), parse)
    assert server.requests_to(API) == []


def test_no_token_or_authorization_in_logs(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    tokens = oauth(server, session)
    tokens.get()
    server.script(API, Reply(status=401), Reply(status=503), Reply(status=200, body=b"{trunc"), OK)
    with capture_logs() as logs:
        transport(server, session, rec, tokens=tokens).post(call(server), parse)
    rendered = repr(logs)
    assert [entry["event"] for entry in logs] == [
        "token_invalidated",
        "token_rejected",
        "token_refreshed",
        "request_retried",
        "request_retried",
    ]
    for secret in ("jwt-1", "jwt-2", "secret-xyz", "Bearer"):
        assert secret not in rendered


# ------------------------------------------------------------------------------------------------ 4xx


def test_400_problem_details_are_in_the_message(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    problem = {
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "errors": {"reading": ["The reading field is required."], "usagePoint": ["Unknown mRID."]},
        "traceId": "00-4bf92f3577b34da6-00",
    }
    server.fallback(API, json_reply(problem, status=400, content_type="application/problem+json"))
    with pytest.raises(NetstreamRequestError) as caught:
        transport(server, session, rec).post(call(server), parse)
    error = caught.value
    assert error.status == 400
    assert error.exit_code == 5
    for part in (
        "HTTP 400",
        "One or more validation errors occurred.",
        "reading: The reading field is required.",
        "usagePoint: Unknown mRID.",
        "00-4bf92f3577b34da6-00",
    ):
        assert part in str(error)
    assert len(server.requests_to(API)) == 1
    assert rec.sleeps == []


def test_4xx_text_body_is_cut_to_500_characters(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    server.fallback(API, Reply(status=404, body=b"x" * 2000 + b"\nmore", content_type="text/plain"))
    with pytest.raises(NetstreamRequestError) as caught:
        transport(server, session, rec).post(call(server), parse)
    assert caught.value.status == 404
    assert "x" * 500 in str(caught.value)
    assert "x" * 501 not in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("application/problem+json", b'{"title": "Bad", "detail": "no  start"}', "Bad; no start"),
        ("application/json", b'{"errors": ["a", "b"]}', "a; b"),
        ("application/json", b"[1, 2]", "[1, 2]"),
        ("application/json", b"{broken", "{broken"),
        ("text/html", b"<h1>Bad\r\nRequest</h1>", "<h1>Bad Request</h1>"),
        ("text/plain", b"", "empty body"),
    ],
)
def test_problem_details_shapes(content_type: str, body: bytes, expected: str) -> None:
    assert problem_details(content_type, body) == expected


def test_redirect_is_a_request_error(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    server.fallback(API, Reply(status=302, headers={"Location": "https://elsewhere.example/api"}))
    with pytest.raises(NetstreamRequestError, match="NETSTREAM_BASE_URL"):
        transport(server, session, rec).post(call(server), parse)


# ------------------------------------------------------------------------------------------------ network


def test_dropped_connection_is_retried(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    server.script(API, Reply(drop=True), OK)
    assert transport(server, session, rec).post(call(server), parse) == {"meterReading": []}
    assert len(server.requests_to(API)) == 2
    assert rec.retried == [("connection_error", jitter(1)[0])]
    assert rec.completed == [None, 200]


def test_connection_cut_mid_body_is_retried(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    server.script(API, Reply(body=b'{"meterReading": [' + b"0" * 5000 + b"]}", truncate_to=100), OK)
    assert transport(server, session, rec).post(call(server), parse) == {"meterReading": []}
    assert rec.retried == [("connection_dropped", jitter(1)[0])]
    assert rec.completed == [200, 200]


def test_refused_connection_exhausts_retries(session: requests.Session, rec: Recorder) -> None:
    with ScriptedServer() as gone:
        pass  # stopped: its port now refuses connections
    with pytest.raises(NetstreamUnavailable, match="connection error") as caught:
        transport(gone, session, rec).post(call(gone), parse)
    assert caught.value.status is None
    assert isinstance(caught.value.__cause__, requests.ConnectionError)
    assert rec.sleeps == jitter(3)


def test_unparseable_200_is_retried_then_succeeds(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    server.script(API, Reply(body=b'{"meterReading": [{"val'), Reply(body=b"<html>gateway</html>"), OK)
    assert transport(server, session, rec).post(call(server), parse) == {"meterReading": []}
    assert [reason for reason, _ in rec.retried] == ["unparseable_body", "unparseable_body"]
    assert rec.sleeps == jitter(2)


def test_persistently_unparseable_200_raises_the_parse_error(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    server.fallback(API, Reply(body=b'{"meterReading": [{"val'))
    with pytest.raises(ParseError) as caught:
        transport(server, session, rec).post(call(server), parse)
    assert caught.value.fragment == '{"meterReading": [{"val'
    assert len(server.requests_to(API)) == 4


def test_read_timeout_is_retried_by_get(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    server.script(API, Reply(hold=True), OK)
    assert transport(server, session, rec, read_timeout=0.3).post(call(server), parse) == {"meterReading": []}
    assert rec.retried == [("read_timeout", jitter(1)[0])]


def test_read_timeout_asks_to_split_the_window(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    server.script(API, Reply(hold=True), OK)
    with pytest.raises(ResponseTooLarge, match="split"):
        transport(server, session, rec, read_timeout=0.3).post(call(server), parse, split_too_large=True)
    assert len(server.requests_to(API)) == 1
    assert rec.sleeps == []


@pytest.mark.parametrize("compressed", [False, True])
def test_oversize_body_is_too_large_at_once(
    server: ScriptedServer, session: requests.Session, rec: Recorder, compressed: bool
) -> None:
    server.fallback(API, Reply(body=b'{"pad": "' + b"a" * 5000 + b'"}', gzip=compressed))
    with pytest.raises(ResponseTooLarge, match="1000 bytes"):
        transport(server, session, rec, max_bytes=1000).post(call(server), parse)
    assert len(server.requests_to(API)) == 1
    assert rec.sleeps == []


def test_body_of_exactly_the_limit_is_accepted(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    body = b'{"pad": "' + b"a" * 89 + b'"}'
    assert len(body) == 100
    server.fallback(API, Reply(body=body))
    assert transport(server, session, rec, max_bytes=100).post(call(server), parse) == {"pad": "a" * 89}


# ------------------------------------------------------------------------------------------------ rate limit


def test_rate_limiter_waits_are_reported(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    server.fallback(API, OK)
    limiter = RateLimiter(2.0, 1, clock=lambda: 0.0, sleep=rec.sleep)
    sender = transport(server, session, rec, limiter=limiter)
    for _ in range(3):
        sender.post(call(server), parse)
    assert rec.sleeps == [0.5]
    assert rec.limited == [0.5]


def test_handler_function_sees_the_request(
    server: ScriptedServer, session: requests.Session, rec: Recorder
) -> None:
    def echo(request: Recorded) -> Reply:
        return json_reply({"got": request.json()})

    server.fallback(API, echo)
    assert transport(server, session, rec).post(call(server), parse) == {"got": {"reading": []}}
