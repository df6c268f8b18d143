"""The simulator over real HTTP: tokens, 401/400/415/406 answers, content negotiation, targets, admin API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from structlog.testing import LogCapture

from publisher.netstream.model import Reading, WireFormat
from publisher.netstream.parser import parse_response
from publisher.simulator import (
    FORWARD_30MIN_KWH,
    FORWARD_DAILY_KWH,
    MONTHLY_REGISTER_KWH,
    REVERSE_30MIN_KWH,
    SimClock,
    SimulatorConfig,
    SimulatorServer,
    SimUsagePoint,
)

AUCKLAND = ZoneInfo("Pacific/Auckland")
SYDNEY = ZoneInfo("Australia/Sydney")
T0 = datetime(2025, 6, 12, tzinfo=UTC)
POINTS = (
    SimUsagePoint(
        "up-1",
        "meter-1",
        "Pacific/Auckland",
        (FORWARD_30MIN_KWH, REVERSE_30MIN_KWH, MONTHLY_REGISTER_KWH),
        True,
    ),
    SimUsagePoint("up-2", "meter-2", "Australia/Sydney", (FORWARD_30MIN_KWH, MONTHLY_REGISTER_KWH)),
    SimUsagePoint("up-3", None, "Pacific/Auckland", (FORWARD_30MIN_KWH,)),
)
CONFIG = SimulatorConfig(
    POINTS,
    usage_point_groups={"group-all": ("up-1", "up-2", "up-3")},
    meter_groups={"meters-12": ("meter-1", "meter-2")},
    static_token="static-token",
)
ZONES = {"up-1": AUCKLAND, "up-2": SYDNEY, "up-3": AUCKLAND}
DAY_START = datetime(2025, 6, 9, 12, tzinfo=UTC)  # 2025-06-10T00:00+12:00
DAY_END = DAY_START + timedelta(days=1)


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer(CONFIG, clock=SimClock(T0)) as server:
        yield server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def get_token(sim: SimulatorServer, http: requests.Session) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": "sim-client",
        "client_secret": "sim-secret",
        "scope": "https://graph.microsoft.com/.default",
    }
    answer = http.post(sim.token_url, data=form, timeout=10)
    assert answer.status_code == 200
    token = answer.json()["access_token"]
    assert isinstance(token, str)
    return token


def request_body(
    *,
    start: str | None = "2025-06-10T00:00:00+12:00",
    end: str | None = "2025-06-11T00:00:00+12:00",
    reading_types: tuple[str, ...] = (FORWARD_30MIN_KWH,),
    targets: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    period: dict[str, Any] = {}
    if end is not None:
        period.update({"end": end, "endSpecified": True})
    if start is not None:
        period.update({"start": start, "startSpecified": True})
    body: dict[str, Any] = {
        "reading": [{"timePeriod": period}],
        "readingType": [{"mRID": rt} for rt in reading_types],
    }
    for key, mrids in (targets or {"usagePoint": ["up-1"]}).items():
        body[key] = [{"mRID": mrid} for mrid in mrids]
    return body


def xml_request(body: dict[str, Any]) -> bytes:
    period = body["reading"][0]["timePeriod"]
    parts = ['<GetMeterReadings xmlns="http://iec.ch/TC57/2011/GetMeterReadings#"><Reading><timePeriod>']
    parts += [f"<{key}>{period[key]}</{key}>" for key in ("end", "start") if key in period]
    parts.append("</timePeriod></Reading>")
    parts += [f"<ReadingType><mRID>{item['mRID']}</mRID></ReadingType>" for item in body["readingType"]]
    element = {"usagePoint": "UsagePoint", "usagePointGroup": "UsagePointGroup", "endDevice": "EndDevice"}
    element["endDeviceGroup"] = "EndDeviceGroup"
    for key, name in element.items():
        parts += [f"<{name}><mRID>{item['mRID']}</mRID></{name}>" for item in body.get(key, [])]
    parts.append("</GetMeterReadings>")
    return "".join(parts).encode()


def call(
    sim: SimulatorServer,
    http: requests.Session,
    body: dict[str, Any] | bytes,
    *,
    token: str | None = "static-token",
    content_type: str = "application/json",
    accept: str | None = "application/json",
) -> requests.Response:
    headers = {"Content-Type": content_type}
    if accept is not None:
        headers["Accept"] = accept
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http.post(sim.readings_url, data=data, headers=headers, timeout=30)


def parsed(answer: requests.Response, fmt: WireFormat = WireFormat.JSON) -> list[Reading]:
    result = parse_response(answer.content, fmt, default_zone=AUCKLAND, zone_for=ZONES.get)
    assert result.rejected == []
    return sorted(result.readings, key=lambda r: (r.usage_point, r.reading_type, r.end))


def truth(
    sim: SimulatorServer, pairs: list[tuple[str, str]], start: datetime, end: datetime
) -> list[Reading]:
    readings = [r for up, rt in pairs for r in sim.truth(up, rt, start, end)]
    return sorted(readings, key=lambda r: (r.usage_point, r.reading_type, r.end))


# ----------------------------------------------------------------------------------------------- token


def test_token_flow_then_an_authorised_call(sim: SimulatorServer, http: requests.Session) -> None:
    form = {"grant_type": "client_credentials", "client_id": "sim-client", "client_secret": "sim-secret"}
    answer = http.post(sim.token_url, data={**form, "scope": "api://x/.default"}, timeout=10)
    assert answer.status_code == 200
    document = answer.json()
    assert document["token_type"] == "Bearer"
    assert document["expires_in"] == 3599
    assert document["ext_expires_in"] == 3599
    assert len(document["access_token"]) >= 32
    data = call(sim, http, request_body(), token=document["access_token"])
    assert data.status_code == 200
    assert data.headers["Content-Type"].startswith("application/json")
    assert parsed(data) == truth(sim, [("up-1", FORWARD_30MIN_KWH)], DAY_START, DAY_END)
    assert len(parsed(data)) == 48


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "someone-else"}, 401, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"scope": ""}, 400, "invalid_request"),
    ],
)
def test_token_endpoint_refusals_look_like_entra_id(
    sim: SimulatorServer, http: requests.Session, change: dict[str, str], status: int, error: str
) -> None:
    form = {"grant_type": "client_credentials", "client_id": "sim-client", "client_secret": "sim-secret"}
    form["scope"] = "s"
    answer = http.post(sim.token_url, data={**form, **change}, timeout=10)
    assert answer.status_code == status
    document = answer.json()
    assert document["error"] == error
    assert document["error_description"].startswith("AADSTS")
    assert "sim-secret" not in answer.text


def test_an_unknown_tenant_is_refused(sim: SimulatorServer, http: requests.Session) -> None:
    form = {"grant_type": "client_credentials", "client_id": "sim-client", "client_secret": "sim-secret"}
    answer = http.post(
        f"{sim.base_url}/other-tenant/oauth2/v2.0/token", data={**form, "scope": "s"}, timeout=10
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


# ----------------------------------------------------------------------------------------------- 401


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Bearer not-a-token", "Basic c2ltOnNpbQ=="])
def test_missing_or_invalid_bearer_is_401(
    sim: SimulatorServer, http: requests.Session, authorization: str | None
) -> None:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    answer = http.post(sim.readings_url, data=json.dumps(request_body()), headers=headers, timeout=10)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert answer.content == b""


def test_tokens_expire_by_the_simulator_clock(sim: SimulatorServer, http: requests.Session) -> None:
    token = get_token(sim, http)
    sim.clock.advance(timedelta(seconds=3598))
    assert call(sim, http, request_body(), token=token).status_code == 200
    sim.clock.advance(timedelta(seconds=1))
    assert call(sim, http, request_body(), token=token).status_code == 401


def test_revoked_tokens_are_refused_and_new_ones_work(sim: SimulatorServer, http: requests.Session) -> None:
    token = get_token(sim, http)
    sim.revoke_tokens()
    assert call(sim, http, request_body(), token=token).status_code == 401
    assert call(sim, http, request_body(), token=get_token(sim, http)).status_code == 200


def test_the_static_token_is_accepted(sim: SimulatorServer, http: requests.Session) -> None:
    assert call(sim, http, request_body(), token="static-token").status_code == 200


# ----------------------------------------------------------------------------------------------- 400/415/406


def _drop(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


@pytest.mark.parametrize(
    ("body", "content_type", "field"),
    [
        (b"{broken", "application/json", "$"),
        (b"<GetMeterReadings><Reading>", "application/xml", "$"),
        (_drop(request_body(), "reading"), "application/json", "reading"),
        (_drop(request_body(), "readingType"), "application/json", "readingType"),
        (_drop(request_body(), "usagePoint"), "application/json", "usagePoint"),
        (request_body(start=None), "application/json", "reading[0].timePeriod.start"),
        (request_body(end="2025-06-10T00:00:00+12:00"), "application/json", "reading[0].timePeriod"),
        (request_body(end="2025-06-09T00:00:00+12:00"), "application/json", "reading[0].timePeriod"),
    ],
)
def test_bad_requests_get_problem_details(
    sim: SimulatorServer, http: requests.Session, body: dict[str, Any] | bytes, content_type: str, field: str
) -> None:
    answer = call(sim, http, body, content_type=content_type)
    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == 400
    assert {"type", "title", "traceId", "errors"} <= set(problem)
    assert field in problem["errors"]


def test_an_unsupported_content_type_is_415(sim: SimulatorServer, http: requests.Session) -> None:
    answer = call(sim, http, json.dumps(request_body()).encode(), content_type="text/plain")
    assert answer.status_code == 415
    assert answer.json()["status"] == 415


def test_an_unsupported_accept_is_406(sim: SimulatorServer, http: requests.Session) -> None:
    assert call(sim, http, request_body(), accept="text/html").status_code == 406


def test_other_paths_and_methods(sim: SimulatorServer, http: requests.Session) -> None:
    assert http.get(sim.readings_url, timeout=10).status_code == 405
    assert http.post(sim.base_url + "/api/other", timeout=10).status_code == 404
    assert http.get(sim.token_url, timeout=10).status_code == 405


# ----------------------------------------------------------------------------------------------- data


@pytest.mark.parametrize(
    ("content_type", "accept", "fmt"),
    [
        ("application/json", None, WireFormat.JSON),
        ("application/json", "application/xml", WireFormat.XML),
        ("application/xml", "application/xml", WireFormat.XML),
        ("application/xml", "application/json", WireFormat.JSON),
    ],
)
def test_content_negotiation_gives_the_same_readings(
    sim: SimulatorServer, http: requests.Session, content_type: str, accept: str | None, fmt: WireFormat
) -> None:
    body = request_body(
        reading_types=(FORWARD_30MIN_KWH, MONTHLY_REGISTER_KWH), targets={"usagePoint": ["up-1", "up-2"]}
    )
    body["reading"][0]["timePeriod"]["start"] = "2025-05-30T00:00:00+12:00"
    data = json.dumps(body).encode() if content_type == "application/json" else xml_request(body)
    answer = call(sim, http, data, content_type=content_type, accept=accept)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith(f"application/{fmt.value}")
    pairs = [(up, rt) for up in ("up-1", "up-2") for rt in (FORWARD_30MIN_KWH, MONTHLY_REGISTER_KWH)]
    start = datetime(2025, 5, 29, 12, tzinfo=UTC)
    expected = truth(sim, pairs, start, DAY_END)
    assert parsed(answer, fmt) == expected
    assert {r.reading_type for r in expected} == {FORWARD_30MIN_KWH, MONTHLY_REGISTER_KWH}


def test_a_missing_end_means_the_end_of_the_start_day(sim: SimulatorServer, http: requests.Session) -> None:
    answer = call(
        sim,
        http,
        request_body(start="2025-06-10T00:00:00", end=None, targets={"usagePoint": ["up-1", "up-2"]}),
    )
    readings = parsed(answer)
    assert len([r for r in readings if r.usage_point == "up-1"]) == 48
    sydney_day = datetime(2025, 6, 9, 14, tzinfo=UTC)
    assert [r for r in readings if r.usage_point == "up-2"] == truth(
        sim, [("up-2", FORWARD_30MIN_KWH)], sydney_day, sydney_day + timedelta(days=1)
    )


def test_specified_false_does_not_hide_a_value(sim: SimulatorServer, http: requests.Session) -> None:
    body = request_body()
    body["reading"][0]["timePeriod"]["endSpecified"] = False
    body["reading"][0]["timePeriod"]["startSpecified"] = False
    assert len(parsed(call(sim, http, body))) == 48


def test_unknown_mrids_get_200_without_data(sim: SimulatorServer, http: requests.Session) -> None:
    answer = call(sim, http, request_body(targets={"usagePoint": ["nobody"], "endDevice": ["no-meter"]}))
    assert answer.status_code == 200
    assert answer.json() == {"meterReading": []}


def test_a_daily_total_is_served_for_a_half_hourly_channel(
    sim: SimulatorServer, http: requests.Session
) -> None:
    (total,) = parsed(call(sim, http, request_body(reading_types=(FORWARD_DAILY_KWH,))))
    half_hours = sim.truth("up-1", FORWARD_30MIN_KWH, DAY_START, DAY_END)
    assert total.value == sum(r.value or 0 for r in half_hours)


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        ({"usagePointGroup": ["group-all"]}, {"up-1", "up-2", "up-3"}),
        ({"endDevice": ["meter-2"]}, {"up-2"}),
        ({"endDeviceGroup": ["meters-12"]}, {"up-1", "up-2"}),
        ({"usagePoint": ["up-3"], "endDevice": ["meter-1"]}, {"up-1", "up-3"}),
    ],
)
def test_groups_and_meters_expand_to_usage_points(
    sim: SimulatorServer, http: requests.Session, targets: dict[str, list[str]], expected: set[str]
) -> None:
    readings = parsed(call(sim, http, request_body(targets=targets)))
    assert {r.usage_point for r in readings} == expected
    meters = {r.usage_point: r.meter for r in readings}
    assert meters.get("up-3") is None
    assert meters.get("up-1", "meter-1") == "meter-1"


def test_data_appears_as_the_clock_moves(sim: SimulatorServer, http: requests.Session) -> None:
    body = request_body(start="2025-06-12T00:00:00Z", end="2025-06-13T00:00:00Z")
    assert parsed(call(sim, http, body)) == []
    sim.clock.advance(timedelta(hours=2, minutes=5))
    expected = truth(sim, [("up-1", FORWARD_30MIN_KWH)], T0, T0 + timedelta(days=1))
    assert parsed(call(sim, http, body)) == expected
    assert 0 < len(expected) <= 4


# -------------------------------------------------------------------------------------------- record + admin


def test_every_request_is_recorded(sim: SimulatorServer, http: requests.Session) -> None:
    get_token(sim, http)
    call(sim, http, request_body(), token="wrong")
    http.get(sim.base_url + "/_sim/requests", timeout=10)
    recorded = sim.requests
    assert [(r.method, r.path, r.status, r.fault) for r in recorded] == [
        ("POST", "/sim-tenant/oauth2/v2.0/token", 200, None),
        ("POST", "/api/cim17/9/MeterReadings2/get", 401, None),
    ]
    assert recorded[1].headers["Authorization"] == "Bearer wrong"
    assert json.loads(recorded[1].body) == request_body()
    assert recorded[0].at <= recorded[1].at


def test_admin_clock(sim: SimulatorServer, http: requests.Session) -> None:
    admin = sim.base_url + "/_sim/clock"
    assert http.get(admin, timeout=10).json() == {"now": "2025-06-12T00:00:00Z", "manual": True}
    assert http.post(admin, json={"advance_seconds": 90}, timeout=10).json()["now"] == "2025-06-12T00:01:30Z"
    assert (
        http.post(admin, json={"now": "2025-01-01T00:00:00Z"}, timeout=10).json()["now"]
        == "2025-01-01T00:00:00Z"
    )
    assert sim.clock.now() == datetime(2025, 1, 1, tzinfo=UTC)
    assert http.post(admin, json={"now": "2025-01-01T00:00:00"}, timeout=10).status_code == 400
    assert http.post(admin, json={"later": 1}, timeout=10).status_code == 400
    assert http.post(admin, data=b"{", timeout=10).status_code == 400


def test_admin_faults(sim: SimulatorServer, http: requests.Session) -> None:
    admin = sim.base_url + "/_sim/faults"
    added = http.post(
        admin, json={"kind": "status", "status": 503, "retry_after": "1", "times": 2}, timeout=10
    )
    assert added.status_code == 201
    assert added.json()["rules"][0]["status"] == 503
    assert [r.status for r in sim.faults.rules] == [503]
    assert call(sim, http, request_body()).status_code == 503
    assert http.post(admin, json={"kind": "nonsense"}, timeout=10).status_code == 400
    assert http.delete(admin, timeout=10).status_code == 204
    assert http.get(admin, timeout=10).json() == {"rules": []}
    assert call(sim, http, request_body()).status_code == 200


def test_admin_requests_and_truth(sim: SimulatorServer, http: requests.Session) -> None:
    call(sim, http, request_body())
    summary = http.get(sim.base_url + "/_sim/requests", timeout=10).json()
    assert summary["count"] == 1
    assert summary["requests"][0]["status"] == 200
    assert "headers" not in summary["requests"][0]
    params = {"usage_point": "up-1", "reading_type": FORWARD_30MIN_KWH}
    params.update({"start": "2025-06-09T12:00:00+00:00", "end": "2025-06-10T12:00:00+00:00"})
    answer = http.get(sim.base_url + "/_sim/truth", params=params, timeout=10)
    expected = [r.to_json() for r in sim.truth("up-1", FORWARD_30MIN_KWH, DAY_START, DAY_END)]
    assert answer.json() == {"readings": expected}
    assert http.get(sim.base_url + "/_sim/truth", timeout=10).status_code == 400
    assert http.delete(sim.base_url + "/_sim/requests", timeout=10).status_code == 204
    assert sim.requests == []
    assert http.get(sim.base_url + "/_sim/nothing", timeout=10).status_code == 404


def test_admin_revoke_tokens(sim: SimulatorServer, http: requests.Session) -> None:
    token = get_token(sim, http)
    assert http.post(sim.base_url + "/_sim/revoke-tokens", timeout=10).status_code == 204
    assert call(sim, http, request_body(), token=token).status_code == 401


def test_start_and_stop_are_idempotent_and_free_the_port() -> None:
    server = SimulatorServer(CONFIG, clock=SimClock(T0))
    server.start()
    server.start()
    port = server.port
    server.stop()
    server.stop()
    again = SimulatorServer(CONFIG, port=port, clock=SimClock(T0))
    with again, requests.Session() as http:
        assert again.base_url == f"http://127.0.0.1:{port}"
        assert call(again, http, request_body()).status_code == 200


def test_serve_until_stops_when_the_event_is_set() -> None:
    server = SimulatorServer(CONFIG, clock=SimClock(T0))
    server.start()
    port = server.port
    stop = threading.Event()
    runner = threading.Thread(target=server.serve_until, args=(stop,))
    runner.start()
    with requests.Session() as http:
        assert http.get(f"http://127.0.0.1:{port}/_sim/clock", timeout=10).status_code == 200
    stop.set()
    runner.join(timeout=30)
    assert not runner.is_alive()
    with pytest.raises(requests.exceptions.ConnectionError), requests.Session() as http:
        http.get(f"http://127.0.0.1:{port}/_sim/clock", timeout=10)


def test_an_internal_error_is_a_500_and_a_log(
    sim: SimulatorServer, http: requests.Session, monkeypatch: pytest.MonkeyPatch, captured_logs: LogCapture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("bug")

    monkeypatch.setattr(sim._service, "handle", broken)
    answer = call(sim, http, request_body())
    assert answer.status_code == 500
    assert answer.json()["status"] == 500
    assert any(entry["event"] == "request_crashed" for entry in captured_logs.entries)
    assert [r.status for r in sim.requests] == [500]
