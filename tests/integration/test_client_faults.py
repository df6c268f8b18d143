"""NetstreamClient against the real simulator over HTTP, one test per fault class.

Real time, real sockets: waits are short (small back-off) except where Retry-After is the point. In every
case where the client recovers, the readings it returns equal the simulator's truth for the window.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests

from publisher.errors import AuthError, ParseError
from publisher.netstream.auth import ClientCredentialsProvider
from publisher.netstream.client import ClientOptions, NetstreamClient
from publisher.netstream.model import Reading, ReadingsRequest, Target, TargetKind, WireFormat
from publisher.simulator.clock import SimClock
from publisher.simulator.config import FORWARD_30MIN_KWH, SimulatorConfig, SimUsagePoint
from publisher.simulator.faults import FaultKind, FaultRule
from publisher.simulator.recording import RecordedRequest
from publisher.simulator.server import SimulatorServer

API = "/api/cim17/9/MeterReadings2/get"
NOW = datetime(2025, 3, 10, tzinfo=UTC)
START = datetime(2025, 3, 7, tzinfo=UTC)
END = datetime(2025, 3, 8, tzinfo=UTC)
POINTS = ("up-a", "up-b", "up-c")
TARGETS = [Target(TargetKind.USAGE_POINT, mrid) for mrid in POINTS]


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    config = SimulatorConfig(
        usage_points=(
            SimUsagePoint("up-a", "m-a"),
            SimUsagePoint("up-b", None, has_solar=True),
            SimUsagePoint("up-c", "m-c", timezone="Australia/Sydney"),
        ),
        seed=7,
    )
    with SimulatorServer(config, clock=SimClock(NOW)) as running:
        yield running


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


@pytest.fixture
def tokens(sim: SimulatorServer, session: requests.Session) -> ClientCredentialsProvider:
    return ClientCredentialsProvider(
        sim.token_url, "sim-client", "sim-secret", "api://netstream/.default", session=session
    )


def make_client(
    sim: SimulatorServer, tokens: ClientCredentialsProvider, session: requests.Session, **overrides: Any
) -> NetstreamClient:
    values: dict[str, Any] = {
        "base_url": sim.base_url,
        "backoff_initial": 0.05,
        "backoff_max": 0.2,
        "max_retries": 3,
        "read_timeout": 10.0,
        "rate_per_second": 100.0,
        **overrides,
    }
    zones = {point.mrid: point.zone for point in sim.config.usage_points}
    return NetstreamClient(ClientOptions(**values), tokens, session=session, zone_for=zones.get)


def ordered(readings: list[Reading]) -> list[Reading]:
    return sorted(readings, key=lambda r: (r.usage_point, r.reading_type, r.end))


def truth(sim: SimulatorServer, start: datetime = START, end: datetime = END) -> list[Reading]:
    return ordered([reading for mrid in POINTS for reading in sim.truth(mrid, FORWARD_30MIN_KWH, start, end)])


def get_all(client: NetstreamClient) -> list[Reading]:
    return ordered(client.get(ReadingsRequest(tuple(TARGETS), (FORWARD_30MIN_KWH,), START, END)).readings)


def fetch_all(client: NetstreamClient) -> list[Reading]:
    return ordered(
        [
            r
            for window in client.fetch(TARGETS, [FORWARD_30MIN_KWH], START, END)
            for r in window.parsed.readings
        ]
    )


def recorded(sim: SimulatorServer, session: requests.Session) -> list[RecordedRequest]:
    """What the simulator recorded, once it has recorded the client's last request.

    The simulator records a request after answering it, so the client can see the answer first. An
    admin request on the same kept-alive connection is served by the same handler thread, after that
    recording: it is the barrier.
    """
    session.get(sim.base_url + "/_sim/requests", timeout=10).raise_for_status()
    return sim.requests


def api_requests(sim: SimulatorServer, session: requests.Session) -> list[RecordedRequest]:
    return [request for request in recorded(sim, session) if request.path == API]


def token_requests(sim: SimulatorServer, session: requests.Session) -> list[RecordedRequest]:
    return [request for request in recorded(sim, session) if request.path.endswith("/oauth2/v2.0/token")]


@pytest.mark.parametrize("fmt", [WireFormat.JSON, WireFormat.XML])
def test_without_faults_the_readings_are_the_truth(
    sim: SimulatorServer, tokens: ClientCredentialsProvider, session: requests.Session, fmt: WireFormat
) -> None:
    with make_client(sim, tokens, session, fmt=fmt) as client:
        got = get_all(client)
    assert got == truth(sim)
    assert len(got) == 3 * 48
    assert len(api_requests(sim, session)) == 1


def test_429_retry_after_is_honoured(
    sim: SimulatorServer, tokens: ClientCredentialsProvider, session: requests.Session
) -> None:
    sim.faults.add(FaultRule("status", status=429, retry_after="1"))
    with make_client(sim, tokens, session) as client:
        got = get_all(client)
    assert got == truth(sim)
    first, second = api_requests(sim, session)
    assert (first.status, first.fault) == (429, "status")
    assert second.status == 200
    assert second.at - first.at >= 1.0


def test_503_retry_after_http_date_is_honoured(
    sim: SimulatorServer, tokens: ClientCredentialsProvider, session: requests.Session
) -> None:
    mono_origin, wall_origin = time.monotonic(), time.time()
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    sim.faults.add(FaultRule("status", status=503, retry_after=format_datetime(when, usegmt=True)))
    with make_client(sim, tokens, session) as client:
        got = get_all(client)
    assert got == truth(sim)
    first, second = api_requests(sim, session)
    assert first.status == 503
    retried_at = wall_origin + (second.at - mono_origin)  # the retry's arrival on the wall clock
    assert retried_at >= when.timestamp() - 0.01  # 10 ms for relating the two clocks, no more


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retried(
    sim: SimulatorServer, tokens: ClientCredentialsProvider, session: requests.Session, status: int
) -> None:
    sim.faults.add(FaultRule("status", status=status, times=2))
    with make_client(sim, tokens, session) as client:
        got = get_all(client)
    assert got == truth(sim)
    assert [request.status for request in api_requests(sim, session)] == [status, status, 200]


def test_slow_response_beyond_read_timeout_is_retried_by_get(
    sim: SimulatorServer, tokens: ClientCredentialsProvider, session: requests.Session
) -> None:
    sim.faults.add(FaultRule("slow", delay=2.0))
    started = time.monotonic()
    with make_client(sim, tokens, session, read_timeout=0.5) as client:
        got = get_all(client)
    assert got == truth(sim)
    assert time.monotonic() - started >= 0.5  # the first attempt ran into the read timeout
    # the slow attempt is recorded only when the simulator finishes it; the retry was answered normally
    assert [request.fault for request in api_requests(sim, session)].count(None) == 1
    assert sim.faults.rules == []


def test_slow_response_beyond_read_timeout_splits_the_window_in_fetch(
    sim: SimulatorServer, tokens: ClientCredentialsProvider, session: requests.Session
) -> None:
    sim.faults.add(FaultRule("slow", delay=2.0))
    with make_client(sim, tokens, session, read_timeout=0.5, window=timedelta(days=1)) as client:
        windows = list(client.fetch(TARGETS, [FORWARD_30MIN_KWH], START, END))
    assert [(w.request.start, w.request.end) for w in windows] == [
        (START, START + timedelta(hours=12)),
        (START + timedelta(hours=12), END),
    ]
    assert ordered([r for w in windows for r in w.parsed.readings]) == truth(sim)


def test_dropped_connection_is_retried(
    sim: SimulatorServer, tokens: ClientCredentialsProvider, session: requests.Session
) -> None:
    sim.faults.add(FaultRule("drop"))
    with make_client(sim, tokens, session) as client:
        got = get_all(client)
    assert got == truth(sim)
    assert [(request.status, request.fault) for request in api_requests(sim, session)] == [
        (None, "drop"),
        (200, None),
    ]


@pytest.mark.parametrize("kind", ["truncate", "malformed"])
def test_broken_bodies_are_retried(
    sim: SimulatorServer, tokens: ClientCredentialsProvider, session: requests.Session, kind: FaultKind
) -> None:
    sim.faults.add(FaultRule(kind, times=2))
    with make_client(sim, tokens, session) as client:
        got = fetch_all(client)
    assert got == truth(sim)
    assert [request.fault for request in api_requests(sim, session)] == [kind, kind, None]


def test_persistently_malformed_body_raises_the_parse_error(
    sim: SimulatorServer, tokens: ClientCredentialsProvider, session: requests.Session
) -> None:
    sim.faults.add(FaultRule("malformed", times=None))
    with make_client(sim, tokens, session, max_retries=2) as client, pytest.raises(ParseError) as caught:
        get_all(client)
    assert caught.value.fragment
    assert len(api_requests(sim, session)) == 3


def test_unknown_fields_are_tolerated(
    sim: SimulatorServer, tokens: ClientCredentialsProvider, session: requests.Session
) -> None:
    sim.faults.add(FaultRule("extra_fields"))
    with make_client(sim, tokens, session) as client:
        assert get_all(client) == truth(sim)


def test_expired_token_reauthenticates_exactly_once(
    sim: SimulatorServer, tokens: ClientCredentialsProvider, session: requests.Session
) -> None:
    with make_client(sim, tokens, session) as client:
        get_all(client)  # caches a token
        sim.faults.add(FaultRule("expire_token"))
        got = get_all(client)
        sim.revoke_tokens()
        again = get_all(client)
    assert got == truth(sim)
    assert again == truth(sim)
    assert len(token_requests(sim, session)) == 3  # the first token, then one re-auth per expiry
    assert [request.status for request in api_requests(sim, session)] == [200, 401, 200, 401, 200]


def test_401_after_reauth_is_fatal(
    sim: SimulatorServer, tokens: ClientCredentialsProvider, session: requests.Session
) -> None:
    with make_client(sim, tokens, session) as client:
        get_all(client)
        sim.faults.add(FaultRule("status", status=401, times=None))
        with pytest.raises(AuthError, match="NETSTREAM_SCOPE"):
            get_all(client)
    assert len(token_requests(sim, session)) == 2
    assert [request.status for request in api_requests(sim, session)] == [200, 401, 401]


def test_403_is_fatal(
    sim: SimulatorServer, tokens: ClientCredentialsProvider, session: requests.Session
) -> None:
    sim.faults.add(FaultRule("status", status=403))
    with make_client(sim, tokens, session) as client, pytest.raises(AuthError, match="HTTP 403"):
        get_all(client)
    assert len(api_requests(sim, session)) == 1
