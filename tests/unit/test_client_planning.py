"""NetstreamClient: window and batch planning, concurrency with ordered results, window shrinking."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from publisher.errors import ConfigError, NetstreamRequestError, NetstreamUnavailable, ParseError
from publisher.netstream.auth import StaticTokenProvider
from publisher.netstream.client import (
    ENDPOINT_PATH,
    UNAVAILABLE_IN_A_ROW,
    ClientOptions,
    FailedWindow,
    FetchedWindow,
    NetstreamClient,
    plan_batches,
    plan_windows,
    split_window,
)
from publisher.netstream.model import ReadingsRequest, Target, TargetKind, WireFormat
from publisher.netstream.ratelimit import RateLimiter
from unit.scripted_server import Recorded, Reply, ScriptedServer, json_reply

RT = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"  # 30-minute forward kWh
NZ = ZoneInfo("Pacific/Auckland")
T0 = datetime(2025, 3, 1, tzinfo=UTC)
HALF_HOUR = timedelta(minutes=30)


def up(n: int) -> Target:
    return Target(TargetKind.USAGE_POINT, f"up-{n}")


def meter(n: int) -> Target:
    return Target(TargetKind.METER, f"m-{n}")


# ------------------------------------------------------------------------------------------------ windows


def test_windows_fall_on_the_grid_from_start() -> None:
    windows = plan_windows(T0, T0 + timedelta(days=19, hours=6), timedelta(days=7))
    assert windows == [
        (T0, T0 + timedelta(days=7)),
        (T0 + timedelta(days=7), T0 + timedelta(days=14)),
        (T0 + timedelta(days=14), T0 + timedelta(days=19, hours=6)),
    ]


def test_windows_are_planned_in_utc_across_a_dst_change() -> None:
    start = datetime(2025, 4, 1, tzinfo=NZ)  # NZ daylight time ends on 6 April 2025
    windows = plan_windows(start, datetime(2025, 4, 15, tzinfo=NZ), timedelta(days=7))
    # two local weeks are 14 days and 1 hour of real time: windows are exact 7 x 24 h in UTC
    assert windows == [
        (datetime(2025, 3, 31, 11, tzinfo=UTC), datetime(2025, 4, 7, 11, tzinfo=UTC)),
        (datetime(2025, 4, 7, 11, tzinfo=UTC), datetime(2025, 4, 14, 11, tzinfo=UTC)),
        (datetime(2025, 4, 14, 11, tzinfo=UTC), datetime(2025, 4, 14, 12, tzinfo=UTC)),  # 15 April 00:00 NZST
    ]
    assert all(lower.tzinfo is UTC and upper.tzinfo is UTC for lower, upper in windows)


def test_empty_or_reversed_range_plans_nothing() -> None:
    assert plan_windows(T0, T0, timedelta(hours=1)) == []
    assert plan_windows(T0, T0 - timedelta(days=1), timedelta(hours=1)) == []


def test_naive_times_are_refused() -> None:
    with pytest.raises(NetstreamRequestError, match="time zone"):
        plan_windows(datetime(2025, 3, 1), T0, timedelta(hours=1))  # noqa: DTZ001 - the point of the test


@settings(max_examples=80, deadline=None)
@given(
    offset_minutes=st.integers(min_value=0, max_value=60 * 24 * 400),
    span_minutes=st.integers(min_value=1, max_value=60 * 24 * 120),
    window_minutes=st.integers(min_value=1, max_value=60 * 24 * 31),
)
def test_windows_cover_the_range_exactly(offset_minutes: int, span_minutes: int, window_minutes: int) -> None:
    start = T0 + timedelta(minutes=offset_minutes)
    end = start + timedelta(minutes=span_minutes)
    window = timedelta(minutes=window_minutes)
    windows = plan_windows(start, end, window)
    assert windows[0][0] == start
    assert windows[-1][1] == end
    for k, (lower, upper) in enumerate(windows):
        assert lower == start + k * window
        assert lower < upper <= lower + window
        if k + 1 < len(windows):
            assert windows[k + 1][0] == upper
            assert upper - lower == window


# ------------------------------------------------------------------------------------------------ batches


def test_batches_keep_kinds_apart_and_order() -> None:
    targets = [up(1), meter(1), up(2), up(3), Target(TargetKind.METER_GROUP, "g-1"), meter(2), up(1)]
    assert plan_batches(targets, 2) == [
        (up(1), up(2)),
        (up(3),),
        (meter(1), meter(2)),
        (Target(TargetKind.METER_GROUP, "g-1"),),
    ]


@settings(max_examples=60, deadline=None)
@given(
    picks=st.lists(
        st.tuples(st.sampled_from(list(TargetKind)), st.integers(min_value=0, max_value=30)), max_size=80
    ),
    size=st.integers(min_value=1, max_value=12),
)
def test_batches_are_bounded_single_kind_and_complete(picks: list[tuple[TargetKind, int]], size: int) -> None:
    targets = [Target(kind, f"{kind.value}-{n}") for kind, n in picks]
    batches = plan_batches(targets, size)
    assert all(1 <= len(batch) <= size for batch in batches)
    assert all(len({target.kind for target in batch}) == 1 for batch in batches)
    flat = [target for batch in batches for target in batch]
    assert sorted(flat, key=repr) == sorted(set(targets), key=repr)


def test_bad_batch_size_or_window_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="NETSTREAM_BATCH_SIZE"):
        plan_batches([up(1)], 0)
    with pytest.raises(ConfigError, match="NETSTREAM_WINDOW"):
        plan_windows(T0, T0 + timedelta(days=1), timedelta(0))


# ------------------------------------------------------------------------------------------------ split


@pytest.mark.parametrize(
    ("span", "cut"),
    [
        (timedelta(days=7), timedelta(hours=84)),
        (timedelta(hours=21), timedelta(hours=10)),
        (timedelta(hours=3), timedelta(hours=1)),
        (timedelta(hours=2), timedelta(hours=1)),
        (timedelta(minutes=90), timedelta(hours=1)),
        (timedelta(hours=1), None),
        (timedelta(minutes=20), None),
    ],
)
def test_split_cuts_on_the_min_window_grid(span: timedelta, cut: timedelta | None) -> None:
    expected = None if cut is None else T0 + cut
    assert split_window(T0, T0 + span, timedelta(hours=1)) == expected


# ------------------------------------------------------------------------------------------------ client


def _local(moment: datetime) -> str:
    return moment.astimezone(NZ).replace(tzinfo=None).isoformat()


def answer(request: Recorded) -> Reply:
    """A canonical JSON response: 0.5 kWh for every half hour of the window, per requested usage point."""
    body = request.json()
    period = body["reading"][0]["timePeriod"]
    start = datetime.fromisoformat(period["start"]).astimezone(UTC)
    end = datetime.fromisoformat(period["end"]).astimezone(UTC)
    count = (end - start) // HALF_HOUR
    return json_reply(
        {
            "meterReading": [
                {
                    "usagePoint": {"mRID": point["mRID"]},
                    "readingType": {"mRID": RT},
                    "intervalBlockInts": [
                        {
                            "timePeriod": {"start": _local(start), "end": _local(end)},
                            "values": [0.5] * count,
                            "qualities": [256] * count,
                        }
                    ],
                }
                for point in body.get("usagePoint", [])
            ]
        }
    )


def window_of(request: Recorded) -> tuple[datetime, datetime]:
    period = request.json()["reading"][0]["timePeriod"]
    return (
        datetime.fromisoformat(period["start"]).astimezone(UTC),
        datetime.fromisoformat(period["end"]).astimezone(UTC),
    )


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as running:
        yield running


def client(server: ScriptedServer, sleeps: list[float] | None = None, **overrides: Any) -> NetstreamClient:
    options = ClientOptions(base_url=server.url + "/", **overrides)
    record = sleeps if sleeps is not None else []
    # a limiter that never waits (frozen clock, no-op sleep: a Retry-After hold costs no real time), so
    # ``sleeps`` holds only the retry waits
    limiter = RateLimiter(1000.0, 16, clock=lambda: 0.0, sleep=lambda _s: None)
    return NetstreamClient(
        options, StaticTokenProvider("tok"), sleep=record.append, rng=random.Random(7), limiter=limiter
    )


def test_get_posts_to_the_endpoint_and_parses(server: ScriptedServer) -> None:
    server.fallback(ENDPOINT_PATH, answer)
    request = ReadingsRequest((up(1),), (RT,), T0, T0 + timedelta(hours=2))
    with client(server) as netstream:
        parsed = netstream.get(request)
    assert [(r.usage_point, r.start, r.value) for r in parsed.readings] == [
        ("up-1", T0 + k * HALF_HOUR, Decimal("0.5")) for k in range(4)
    ]
    (sent,) = server.requests_to(ENDPOINT_PATH)
    assert sent.headers["User-Agent"].startswith("netstream-publisher/")
    assert sent.headers["Authorization"] == "Bearer tok"
    assert window_of(sent) == (T0, T0 + timedelta(hours=2))


def test_get_retries_through_the_client_with_exact_waits(server: ScriptedServer) -> None:
    server.script(ENDPOINT_PATH, Reply(status=503), Reply(status=429, headers={"Retry-After": "3"}))
    server.fallback(ENDPOINT_PATH, answer)
    sleeps: list[float] = []
    with client(server, sleeps, backoff_initial=2.0) as netstream:
        netstream.get(ReadingsRequest((up(1),), (RT,), T0, T0 + HALF_HOUR))
    assert sleeps == [random.Random(7).uniform(0, 2.0), 3.0]


def test_xml_format_sends_and_accepts_xml(server: ScriptedServer) -> None:
    server.fallback(
        ENDPOINT_PATH,
        Reply(body=b'<?xml version="1.0"?><MeterReadings2 xmlns="urn:x"/>', content_type="application/xml"),
    )
    with client(server, fmt=WireFormat.XML) as netstream:
        parsed = netstream.get(ReadingsRequest((up(1),), (RT,), T0, T0 + HALF_HOUR))
    assert parsed.readings == []
    (sent,) = server.requests_to(ENDPOINT_PATH)
    assert sent.headers["Content-Type"] == "application/xml"
    assert sent.headers["Accept"] == "application/xml"
    assert sent.body.lstrip().startswith(b"<?xml")


def test_fetch_plans_windows_by_batches_and_yields_in_order(server: ScriptedServer) -> None:
    server.fallback(ENDPOINT_PATH, answer)
    targets = [up(1), meter(1), up(2), up(3), up(4), up(5), meter(2)]
    end = T0 + timedelta(days=15)
    with client(server, window=timedelta(days=7), batch_size=2, max_in_flight=3) as netstream:
        results = list(netstream.fetch(targets, [RT, RT], T0, end))
    expected_windows = [
        (T0, T0 + timedelta(days=7)),
        (T0 + timedelta(days=7), T0 + timedelta(days=14)),
        (T0 + timedelta(days=14), end),
    ]
    expected_batches = [(up(1), up(2)), (up(3), up(4)), (up(5),), (meter(1), meter(2))]
    assert [(r.request.start, r.request.end, r.request.targets) for r in results] == [
        (lower, upper, batch) for lower, upper in expected_windows for batch in expected_batches
    ]
    assert all(r.request.reading_types == (RT,) for r in results)
    assert all(r.raw_format is WireFormat.JSON for r in results)
    sent = server.requests_to(ENDPOINT_PATH)
    assert len(sent) == 12
    for request in sent:  # one target kind per request
        body = request.json()
        assert ("usagePoint" in body) != ("endDevice" in body)
        assert len(body.get("usagePoint", body.get("endDevice"))) <= 2
    first = results[0]
    assert {r.usage_point for r in first.parsed.readings} == {"up-1", "up-2"}
    assert len(first.parsed.readings) == 2 * 7 * 48


def test_fetch_runs_up_to_max_in_flight_at_once(server: ScriptedServer) -> None:
    server.fallback(ENDPOINT_PATH, answer)
    server.rendezvous(3)
    targets = [up(n) for n in range(12)]
    with client(server, window=timedelta(hours=6), batch_size=1, max_in_flight=3) as netstream:
        results = list(netstream.fetch(targets, [RT], T0, T0 + timedelta(hours=12)))
    assert server.max_concurrency == 3
    assert [(r.request.start, r.request.targets[0].mrid) for r in results] == [
        (T0 + timedelta(hours=6) * w, f"up-{n}") for w in range(2) for n in range(12)
    ]


def test_shared_limiter_caps_in_flight_below_the_worker_count(server: ScriptedServer) -> None:
    server.fallback(ENDPOINT_PATH, answer)
    server.rendezvous(2)
    options = ClientOptions(base_url=server.url, batch_size=1, max_in_flight=4)
    with NetstreamClient(options, StaticTokenProvider("tok"), limiter=RateLimiter(1000.0, 2)) as netstream:
        results = list(netstream.fetch([up(n) for n in range(10)], [RT], T0, T0 + HALF_HOUR))
    assert len(results) == 10
    assert server.max_concurrency == 2


def test_read_timeout_shrinks_the_window(server: ScriptedServer) -> None:
    def slow_for_long_windows(request: Recorded) -> Reply:
        lower, upper = window_of(request)
        return Reply(hold=True) if upper - lower > timedelta(hours=6) else answer(request)

    server.fallback(ENDPOINT_PATH, slow_for_long_windows)
    sleeps: list[float] = []
    with (
        capture_logs() as logs,
        client(server, sleeps, window=timedelta(days=1), read_timeout=0.3) as netstream,
    ):
        results = list(netstream.fetch([up(1)], [RT], T0, T0 + timedelta(days=1)))
    assert [(r.request.start, r.request.end) for r in results] == [
        (T0 + timedelta(hours=6) * k, T0 + timedelta(hours=6) * (k + 1)) for k in range(4)
    ]
    assert [len(r.parsed.readings) for r in results] == [12, 12, 12, 12]
    assert sleeps == []  # a timed-out window is split at once, not retried
    assert len(server.requests_to(ENDPOINT_PATH)) == 7  # 24h, 12h, 6h, 6h, 12h, 6h, 6h
    assert [entry["at"] for entry in logs if entry["event"] == "window_split"] == [
        T0 + timedelta(hours=12),
        T0 + timedelta(hours=6),
        T0 + timedelta(hours=18),
    ]


def test_oversize_response_shrinks_the_window(server: ScriptedServer) -> None:
    def large_for_long_windows(request: Recorded) -> Reply:
        lower, upper = window_of(request)
        if upper - lower > timedelta(hours=2):
            return json_reply({"meterReading": [], "padding": "x" * 5000})
        return answer(request)

    server.fallback(ENDPOINT_PATH, large_for_long_windows)
    with client(server, window=timedelta(hours=7), max_response_bytes=4000) as netstream:
        results = list(netstream.fetch([up(1)], [RT], T0, T0 + timedelta(hours=7)))
    assert [(r.request.start - T0, r.request.end - T0) for r in results] == [
        (timedelta(hours=a), timedelta(hours=b)) for a, b in [(0, 1), (1, 3), (3, 5), (5, 7)]
    ]
    readings = [reading for r in results for reading in r.parsed.readings]
    assert [reading.start for reading in readings] == [T0 + k * HALF_HOUR for k in range(14)]


def test_window_that_cannot_shrink_further_is_unavailable(server: ScriptedServer) -> None:
    server.fallback(ENDPOINT_PATH, json_reply({"meterReading": [], "padding": "x" * 5000}))
    with (
        client(server, window=timedelta(hours=3), max_response_bytes=1000) as netstream,
        pytest.raises(NetstreamUnavailable, match="it will be retried next cycle") as caught,
    ):
        list(netstream.fetch([up(1)], [RT], T0, T0 + timedelta(hours=3)))
    assert "NETSTREAM_MIN_WINDOW" in str(caught.value)
    assert [window_of(r) for r in server.requests_to(ENDPOINT_PATH)] == [
        (T0, T0 + timedelta(hours=3)),
        (T0, T0 + timedelta(hours=1)),
    ]


def test_results_before_a_failure_are_yielded_first(server: ScriptedServer) -> None:
    def refuse_second_window(request: Recorded) -> Reply:
        lower, _ = window_of(request)
        if lower >= T0 + timedelta(hours=1):
            return json_reply(
                {"title": "window too old"}, status=400, content_type="application/problem+json"
            )
        return answer(request)

    server.fallback(ENDPOINT_PATH, refuse_second_window)
    got: list[FetchedWindow] = []
    with client(server, window=timedelta(hours=1), max_in_flight=2) as netstream:
        stream = netstream.fetch([up(1), up(2)], [RT], T0, T0 + timedelta(hours=3))
        with pytest.raises(NetstreamRequestError, match="window too old"):
            got.extend(stream)
    assert [r.request.start for r in got] == [T0]


def failing_windows(*hours: int, reply: Reply | None = None) -> Any:
    """A handler that answers every window starting at one of ``hours`` (after T0) with ``reply`` (503)."""
    failing = {T0 + timedelta(hours=h) for h in hours}

    def handle(request: Recorded) -> Reply:
        if window_of(request)[0] in failing:
            return reply or Reply(status=503)
        return answer(request)

    return handle


def test_fetch_each_goes_on_past_a_window_that_keeps_failing(server: ScriptedServer) -> None:
    server.fallback(ENDPOINT_PATH, failing_windows(1))
    with client(server, window=timedelta(hours=1), max_in_flight=2, max_retries=2) as netstream:
        results = list(netstream.fetch_each([up(1)], [RT], T0, T0 + timedelta(hours=4)))
    assert [(type(r).__name__, r.request.start) for r in results] == [
        ("FetchedWindow", T0),
        ("FailedWindow", T0 + timedelta(hours=1)),
        ("FetchedWindow", T0 + timedelta(hours=2)),
        ("FetchedWindow", T0 + timedelta(hours=3)),
    ]
    failed = results[1]
    assert isinstance(failed, FailedWindow)
    assert isinstance(failed.error, NetstreamUnavailable)
    assert len(server.requests_to(ENDPOINT_PATH)) == 3 + 3  # the failing window: first try and 2 retries


def test_fetch_each_yields_an_unreadable_window_and_goes_on(server: ScriptedServer) -> None:
    unreadable = Reply(body=b"{not json", content_type="application/json")
    server.fallback(ENDPOINT_PATH, failing_windows(0, 1, 2, reply=unreadable))
    with client(server, window=timedelta(hours=1), max_in_flight=1, max_retries=0) as netstream:
        results = list(netstream.fetch_each([up(1)], [RT], T0, T0 + timedelta(hours=4)))
    # unreadable responses say nothing about Netstream's health: three in a row do not stop the fetch
    assert [type(r).__name__ for r in results] == ["FailedWindow"] * 3 + ["FetchedWindow"]
    assert all(isinstance(r.error, ParseError) for r in results if isinstance(r, FailedWindow))


def test_fetch_each_gives_up_when_netstream_is_down_not_one_window(server: ScriptedServer) -> None:
    server.fallback(ENDPOINT_PATH, failing_windows(*range(1, 20)))
    got: list[FetchedWindow | FailedWindow] = []
    with (
        capture_logs() as logs,
        client(server, window=timedelta(hours=1), max_in_flight=1, max_retries=1) as netstream,
    ):
        stream = netstream.fetch_each([up(1)], [RT], T0, T0 + timedelta(hours=20))
        with pytest.raises(NetstreamUnavailable):
            got.extend(stream)
    assert [type(r).__name__ for r in got] == ["FetchedWindow"] + ["FailedWindow"] * (
        UNAVAILABLE_IN_A_ROW - 1
    )
    (abandoned,) = [e for e in logs if e["event"] == "fetch_abandoned"]
    assert abandoned["failed_in_a_row"] == UNAVAILABLE_IN_A_ROW
    # the first window, the failing ones (each tried twice) and at most the look-ahead of one worker
    assert len(server.requests_to(ENDPOINT_PATH)) <= 1 + 2 * UNAVAILABLE_IN_A_ROW + 2 * 2


def test_a_success_between_failures_resets_the_count(server: ScriptedServer) -> None:
    server.fallback(ENDPOINT_PATH, failing_windows(0, 1, 3, 4, 6, 7))
    with client(server, window=timedelta(hours=1), max_in_flight=1, max_retries=0) as netstream:
        results = list(netstream.fetch_each([up(1)], [RT], T0, T0 + timedelta(hours=9)))
    assert "".join("x" if isinstance(r, FailedWindow) else "." for r in results) == "xx.xx.xx."


def test_fetch_raises_the_first_failure_it_meets(server: ScriptedServer) -> None:
    server.fallback(ENDPOINT_PATH, failing_windows(1))
    got: list[FetchedWindow] = []
    with client(server, window=timedelta(hours=1), max_in_flight=1, max_retries=0) as netstream:
        stream = netstream.fetch([up(1)], [RT], T0, T0 + timedelta(hours=4))
        with pytest.raises(NetstreamUnavailable):
            got.extend(stream)
    assert [r.request.start for r in got] == [T0]


def test_closing_the_stream_early_stops_submitting(server: ScriptedServer) -> None:
    server.fallback(ENDPOINT_PATH, answer)
    with client(server, window=timedelta(hours=1), max_in_flight=1) as netstream:
        stream = netstream.fetch([up(1)], [RT], T0, T0 + timedelta(hours=20))
        first = next(stream)
        stream.close()
    assert first.request.start == T0
    assert 1 <= len(server.requests_to(ENDPOINT_PATH)) <= 3  # the first plus at most the look-ahead


def test_nothing_to_fetch_sends_nothing(server: ScriptedServer) -> None:
    with client(server) as netstream:
        assert list(netstream.fetch([], [RT], T0, T0 + timedelta(days=1))) == []
        assert list(netstream.fetch([up(1)], [], T0, T0 + timedelta(days=1))) == []
        assert list(netstream.fetch([up(1)], [RT], T0, T0)) == []
    assert server.requests == []


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"base_url": "ftp://x"}, "NETSTREAM_BASE_URL"),
        ({"read_timeout": 0.0}, "NETSTREAM_READ_TIMEOUT"),
        ({"batch_size": 0}, "NETSTREAM_BATCH_SIZE"),
        ({"max_retries": -1}, "NETSTREAM_MAX_RETRIES"),
        ({"min_window": timedelta(days=8)}, "NETSTREAM_MIN_WINDOW"),
    ],
)
def test_invalid_options_are_config_errors(overrides: dict[str, Any], names: str) -> None:
    values: dict[str, Any] = {"base_url": "https://sit.sbs.digital", **overrides}
    with pytest.raises(ConfigError, match=names):
        ClientOptions(**values)


def test_options_build_the_endpoint_url() -> None:
    assert ClientOptions(base_url="https://sit.sbs.digital/").url == "https://sit.sbs.digital" + ENDPOINT_PATH


def test_a_given_session_is_left_open(server: ScriptedServer) -> None:
    server.fallback(ENDPOINT_PATH, answer)
    with requests.Session() as session:
        with NetstreamClient(ClientOptions(base_url=server.url), StaticTokenProvider("tok"), session=session):
            pass
        assert (
            session.post(server.url + ENDPOINT_PATH, data=json.dumps(_body()), timeout=5).status_code == 200
        )


def _body() -> dict[str, Any]:
    return {
        "reading": [
            {"timePeriod": {"start": "2025-03-01T13:00:00+13:00", "end": "2025-03-01T13:30:00+13:00"}}
        ]
    }
