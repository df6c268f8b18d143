"""RateLimiter: token-bucket math on a fake clock, and the in-flight cap seen by a real loopback server."""

from __future__ import annotations

import threading

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.errors import ConfigError
from publisher.netstream.ratelimit import RateLimiter
from unit.scripted_server import Reply, ScriptedServer


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def run(limiter: RateLimiter, count: int) -> list[float]:
    waits = []
    for _ in range(count):
        with limiter.slot() as waited:
            waits.append(waited)
    return waits


@pytest.mark.parametrize(
    ("rate", "count"), [(5.0, 20), (5.0, 5), (2.5, 10), (0.5, 4), (1.0, 1), (10.0, 37), (100.0, 250)]
)
def test_n_requests_at_r_per_second_take_n_minus_burst_over_r(rate: float, count: int) -> None:
    fake = FakeTime()
    limiter = RateLimiter(rate, 1, clock=fake.clock, sleep=fake.sleep)
    run(limiter, count)
    burst = max(1.0, rate)
    assert fake.now == pytest.approx(max(0.0, count - burst) / rate)


@settings(max_examples=60, deadline=None)
@given(rate=st.floats(min_value=0.1, max_value=50.0), count=st.integers(min_value=1, max_value=80))
def test_bucket_math_holds_for_any_rate(rate: float, count: int) -> None:
    fake = FakeTime()
    limiter = RateLimiter(rate, 2, clock=fake.clock, sleep=fake.sleep)
    waits = run(limiter, count)
    assert fake.now == pytest.approx(max(0.0, count - max(1.0, rate)) / rate)
    assert sum(waits) == pytest.approx(fake.now)
    assert all(wait <= 1.0 / rate + 1e-9 for wait in waits)


def test_acquire_reports_the_seconds_waited() -> None:
    fake = FakeTime()
    limiter = RateLimiter(2.0, 1, clock=fake.clock, sleep=fake.sleep)
    assert run(limiter, 4) == [0.0, 0.0, pytest.approx(0.5), pytest.approx(0.5)]
    assert fake.sleeps == [pytest.approx(0.5), pytest.approx(0.5)]


def test_bucket_refills_after_a_quiet_spell_but_never_beyond_the_burst() -> None:
    fake = FakeTime()
    limiter = RateLimiter(4.0, 1, clock=fake.clock, sleep=fake.sleep)
    run(limiter, 4)  # burst used up
    fake.now += 100.0  # a long idle spell earns 400 tokens, capped at the burst of 4
    assert run(limiter, 5) == [0.0, 0.0, 0.0, 0.0, pytest.approx(0.25)]


def test_fractional_rate_has_a_burst_of_one() -> None:
    fake = FakeTime()
    limiter = RateLimiter(0.25, 1, clock=fake.clock, sleep=fake.sleep)
    assert limiter.burst == 1.0
    assert run(limiter, 3) == [0.0, pytest.approx(4.0), pytest.approx(4.0)]


def test_concurrent_callers_reserve_successive_slots() -> None:
    fake = FakeTime()
    lock = threading.Lock()

    def sleep(seconds: float) -> None:  # record only; threads do not advance a shared fake clock
        with lock:
            fake.sleeps.append(seconds)

    limiter = RateLimiter(1.0, 8, clock=fake.clock, sleep=sleep)
    threads = [threading.Thread(target=run, args=(limiter, 1)) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # one burst token, then each caller queues one second behind the previous one
    assert sorted(fake.sleeps) == [
        pytest.approx(1.0),
        pytest.approx(2.0),
        pytest.approx(3.0),
        pytest.approx(4.0),
    ]


def test_scaled_view_takes_only_its_share_of_the_rate() -> None:
    fake = FakeTime()
    parent = RateLimiter(10.0, 4, clock=fake.clock, sleep=fake.sleep)
    view = parent.scaled(0.2)
    assert view.rate_per_second == pytest.approx(2.0)
    assert view.max_in_flight == 1
    run(view, 12)
    assert fake.now == pytest.approx((12 - 2) / 2.0)


def test_scaled_view_counts_against_the_parent() -> None:
    fake = FakeTime()
    parent = RateLimiter(2.0, 4, clock=fake.clock, sleep=fake.sleep)
    view = parent.scaled(0.5)
    assert run(view, 1) == [0.0]  # took one of the parent's two burst tokens too
    assert run(parent, 2) == [0.0, pytest.approx(0.5)]


@pytest.mark.parametrize(("rate", "in_flight", "share"), [(0.0, 1, 1.0), (-1.0, 1, 1.0), (1.0, 0, 1.0)])
def test_invalid_limits_are_config_errors(rate: float, in_flight: int, share: float) -> None:
    with pytest.raises(ConfigError, match="NETSTREAM_"):
        RateLimiter(rate, in_flight)


@pytest.mark.parametrize("share", [0.0, -0.5, 1.5])
def test_invalid_share_is_a_config_error(share: float) -> None:
    with pytest.raises(ConfigError, match="share"):
        RateLimiter(1.0, 1).scaled(share)


def _hammer(limiter: RateLimiter, url: str, requests_count: int) -> None:
    session = requests.Session()
    errors: list[BaseException] = []

    def one() -> None:
        try:
            with limiter.slot():
                session.post(url, data=b"{}", timeout=(5, 30)).raise_for_status()
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(requests_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    session.close()
    assert errors == []


@pytest.mark.parametrize("cap", [1, 3])
def test_in_flight_cap_is_the_concurrency_the_server_sees(cap: int) -> None:
    with ScriptedServer() as server:
        server.fallback("/x", Reply(body=b"{}"))
        server.rendezvous(cap)
        _hammer(RateLimiter(1000.0, cap), server.url + "/x", 12)
        assert len(server.requests) == 12
        assert server.max_concurrency == cap


def test_scaled_view_caps_its_share_of_the_slots() -> None:
    with ScriptedServer() as server:
        server.fallback("/x", Reply(body=b"{}"))
        server.rendezvous(2)
        view = RateLimiter(1000.0, 4).scaled(0.5)
        _hammer(view, server.url + "/x", 10)
        assert server.max_concurrency == 2
