"""Every simulator fault kind, observed over real HTTP with the requests library."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from publisher.errors import ParseError
from publisher.netstream.model import WireFormat
from publisher.netstream.parser import parse_response
from publisher.simulator import (
    FORWARD_30MIN_KWH,
    FaultRule,
    SimClock,
    SimulatorConfig,
    SimulatorServer,
    SimUsagePoint,
)

AUCKLAND = ZoneInfo("Pacific/Auckland")
T0 = datetime(2025, 6, 12, tzinfo=UTC)
CONFIG = SimulatorConfig(
    (SimUsagePoint("up-1", "meter-1"), SimUsagePoint("up-2", "meter-2")),
    static_token="static-token",
)
DAY_START = datetime(2025, 6, 9, 12, tzinfo=UTC)
DAY_END = DAY_START + timedelta(days=1)


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer(CONFIG, clock=SimClock(T0)) as server:
        yield server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def body_for(usage_point: str = "up-1") -> dict[str, Any]:
    return {
        "reading": [
            {"timePeriod": {"start": "2025-06-10T00:00:00+12:00", "end": "2025-06-11T00:00:00+12:00"}}
        ],
        "readingType": [{"mRID": FORWARD_30MIN_KWH}],
        "usagePoint": [{"mRID": usage_point}],
    }


def call(
    sim: SimulatorServer,
    http: requests.Session,
    usage_point: str = "up-1",
    *,
    token: str = "static-token",
    accept: str = "application/json",
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": accept}
    return http.post(sim.readings_url, data=json.dumps(body_for(usage_point)), headers=headers, timeout=30)


def token_form() -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": "sim-client",
        "client_secret": "sim-secret",
        "scope": "s",
    }


def faults_seen(sim: SimulatorServer) -> list[tuple[int | None, str | None]]:
    return [(r.status, r.fault) for r in sim.requests]


@pytest.mark.parametrize("status", [400, 403, 500, 502, 503, 504])
def test_status_faults_answer_with_that_status(
    sim: SimulatorServer, http: requests.Session, status: int
) -> None:
    sim.faults.add(FaultRule("status", status=status))
    answer = call(sim, http)
    assert answer.status_code == status
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["status"] == status
    assert call(sim, http).status_code == 200
    assert faults_seen(sim) == [(status, "status"), (200, None)]


def test_a_401_fault_asks_for_a_bearer_token(sim: SimulatorServer, http: requests.Session) -> None:
    sim.faults.add(FaultRule("status", status=401))
    answer = call(sim, http)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_429_carries_retry_after_seconds(sim: SimulatorServer, http: requests.Session) -> None:
    sim.faults.add(FaultRule("status", status=429, retry_after="2"))
    answer = call(sim, http)
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "2"


def test_503_carries_retry_after_as_an_http_date(sim: SimulatorServer, http: requests.Session) -> None:
    when = format_datetime(datetime(2025, 6, 12, 0, 0, 5, tzinfo=UTC), usegmt=True)
    sim.faults.add(FaultRule("status", status=503, retry_after=when))
    answer = call(sim, http)
    assert answer.status_code == 503
    assert parsedate_to_datetime(answer.headers["Retry-After"]) == datetime(2025, 6, 12, 0, 0, 5, tzinfo=UTC)


def test_slow_answers_take_at_least_the_delay(sim: SimulatorServer, http: requests.Session) -> None:
    sim.faults.add(FaultRule("slow", delay=1.0))
    began = time.monotonic()
    answer = call(sim, http)
    assert time.monotonic() - began >= 1.0
    assert answer.status_code == 200
    assert len(answer.json()["meterReading"][0]["intervalBlockInts"][0]["values"]) == 48


def test_a_slow_answer_times_out_a_patient_client(sim: SimulatorServer, http: requests.Session) -> None:
    sim.faults.add(FaultRule("slow", delay=3.0))
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.post(sim.readings_url, data=json.dumps(body_for()), timeout=0.5)


def test_a_dropped_connection_is_a_connection_error(sim: SimulatorServer, http: requests.Session) -> None:
    sim.faults.add(FaultRule("drop"))
    with pytest.raises(requests.exceptions.ConnectionError):
        call(sim, http)
    assert call(sim, http).status_code == 200
    assert faults_seen(sim) == [(None, "drop"), (200, None)]


def raw_exchange(sim: SimulatorServer) -> tuple[bytes, bytes]:
    """One request over a plain socket: (head, body) as received until the server closed."""
    payload = json.dumps(body_for()).encode()
    request = (
        b"POST /api/cim17/9/MeterReadings2/get HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n"
        b"Authorization: Bearer static-token\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    with socket.create_connection(("127.0.0.1", sim.port), timeout=30) as connection:
        connection.sendall(request)
        received = b"".join(iter(lambda: connection.recv(65536), b""))
    head, _, body = received.partition(b"\r\n\r\n")
    return head, body


def content_length(head: bytes) -> int:
    (line,) = [line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
    return int(line.split(b":")[1])


def test_a_truncated_body_breaks_off_half_way(sim: SimulatorServer, http: requests.Session) -> None:
    sim.faults.add(FaultRule("truncate"))
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        call(sim, http)
    assert faults_seen(sim) == [(200, "truncate")]
    head, full = raw_exchange(sim)
    assert content_length(head) == len(full)
    sim.faults.add(FaultRule("truncate"))
    head, half = raw_exchange(sim)
    assert head.startswith(b"HTTP/1.1 200")
    assert content_length(head) == len(full)
    assert half == full[: len(full) // 2]


@pytest.mark.parametrize("fmt", list(WireFormat))
def test_a_malformed_body_does_not_parse(
    sim: SimulatorServer, http: requests.Session, fmt: WireFormat
) -> None:
    sim.faults.add(FaultRule("malformed"))
    answer = call(sim, http, accept=f"application/{fmt.value}")
    assert answer.status_code == 200
    with pytest.raises(ParseError):
        parse_response(answer.content, fmt, default_zone=AUCKLAND)


@pytest.mark.parametrize("fmt", list(WireFormat))
def test_extra_fields_still_parse_to_the_truth(
    sim: SimulatorServer, http: requests.Session, fmt: WireFormat
) -> None:
    plain = call(sim, http, accept=f"application/{fmt.value}")
    sim.faults.add(FaultRule("extra_fields"))
    extra = call(sim, http, accept=f"application/{fmt.value}")
    assert extra.status_code == 200
    assert len(extra.content) > len(plain.content)
    result = parse_response(extra.content, fmt, default_zone=AUCKLAND)
    assert result.rejected == []
    assert result.readings == sim.truth("up-1", FORWARD_30MIN_KWH, DAY_START, DAY_END)
    assert len(result.readings) == 48


def test_expire_token_revokes_every_token(sim: SimulatorServer, http: requests.Session) -> None:
    token = http.post(sim.token_url, data=token_form(), timeout=10).json()["access_token"]
    assert call(sim, http, token=token).status_code == 200
    sim.faults.add(FaultRule("expire_token"))
    refused = call(sim, http, token=token)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert call(sim, http, token=token).status_code == 401
    fresh = http.post(sim.token_url, data=token_form(), timeout=10).json()["access_token"]
    assert call(sim, http, token=fresh).status_code == 200


def test_a_rule_applies_times_then_stops(sim: SimulatorServer, http: requests.Session) -> None:
    sim.faults.add(FaultRule("status", status=503, times=2))
    assert [call(sim, http).status_code for _ in range(3)] == [503, 503, 200]
    assert [fault for _, fault in faults_seen(sim)] == ["status", "status", None]


def test_a_rule_without_times_applies_until_cleared(sim: SimulatorServer, http: requests.Session) -> None:
    sim.faults.add(FaultRule("status", status=500, times=None))
    assert [call(sim, http).status_code for _ in range(4)] == [500] * 4
    sim.faults.clear()
    assert call(sim, http).status_code == 200


def test_match_body_picks_requests_by_content(sim: SimulatorServer, http: requests.Session) -> None:
    sim.faults.add(FaultRule("status", status=502, times=None, match_body=r'"up-2"'))
    assert call(sim, http, "up-1").status_code == 200
    assert call(sim, http, "up-2").status_code == 502
    assert call(sim, http, "up-1").status_code == 200


def test_path_slash_also_hits_the_token_endpoint(sim: SimulatorServer, http: requests.Session) -> None:
    sim.faults.add(FaultRule("status", status=503, path="/"))
    assert http.post(sim.token_url, data=token_form(), timeout=10).status_code == 503
    assert http.post(sim.token_url, data=token_form(), timeout=10).status_code == 200
    sim.faults.add(FaultRule("drop"))
    assert http.post(sim.token_url, data=token_form(), timeout=10).status_code == 200
    assert [rule.kind for rule in sim.faults.rules] == ["drop"]


def test_admin_requests_are_never_faulted(sim: SimulatorServer, http: requests.Session) -> None:
    sim.faults.add(FaultRule("drop", path="/", times=None))
    summary = http.get(sim.base_url + "/_sim/requests", timeout=10)
    assert summary.status_code == 200
    assert summary.json()["count"] == 0
    assert http.delete(sim.base_url + "/_sim/faults", timeout=10).status_code == 204
    assert call(sim, http).status_code == 200


def test_faults_over_the_admin_api(sim: SimulatorServer, http: requests.Session) -> None:
    rule = {"kind": "status", "status": 429, "retry_after": "1", "times": 1}
    assert http.post(sim.base_url + "/_sim/faults", json=rule, timeout=10).status_code == 201
    answer = call(sim, http)
    assert (answer.status_code, answer.headers["Retry-After"]) == (429, "1")
    assert http.get(sim.base_url + "/_sim/requests", timeout=10).json()["requests"][0]["fault"] == "status"
