"""Retry-After holds the whole client: the limiter's hold on a fake clock, and the transport setting it."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.errors import NetstreamUnavailable
from publisher.netstream.auth import StaticTokenProvider
from publisher.netstream.ratelimit import RateLimiter
from publisher.netstream.transport import HttpCall, RetryPolicy, Transport
from unit.scripted_server import Reply, ScriptedServer, json_reply

API = "/api/cim17/9/MeterReadings2/get"


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def start(limiter: RateLimiter, fake: FakeTime) -> float:
    """Admit one request; the fake time at which it starts."""
    with limiter.slot():
        return fake.now


def test_a_hold_delays_the_next_request_to_its_end() -> None:
    fake = FakeTime()
    limiter = RateLimiter(5.0, 4, clock=fake.clock, sleep=fake.sleep)
    assert start(limiter, fake) == 0.0
    limiter.hold(2.0)
    assert start(limiter, fake) == pytest.approx(2.0)


def test_after_a_hold_requests_resume_at_the_steady_rate_without_a_burst() -> None:
    fake = FakeTime()
    limiter = RateLimiter(4.0, 4, clock=fake.clock, sleep=fake.sleep)
    fake.now = 100.0  # a long quiet spell: the bucket is full (burst 4)
    limiter.hold(3.0)
    starts = [start(limiter, fake) for _ in range(5)]
    assert starts == pytest.approx([103.0, 103.25, 103.5, 103.75, 104.0])


def test_a_shorter_hold_never_shortens_a_longer_one() -> None:
    fake = FakeTime()
    limiter = RateLimiter(10.0, 4, clock=fake.clock, sleep=fake.sleep)
    limiter.hold(5.0)
    fake.now = 1.0
    limiter.hold(1.0)
    assert start(limiter, fake) == pytest.approx(5.0)


def test_a_hold_on_a_scaled_view_holds_the_parent_and_the_other_way_round() -> None:
    fake = FakeTime()
    parent = RateLimiter(10.0, 4, clock=fake.clock, sleep=fake.sleep)
    view = parent.scaled(0.5)
    view.hold(2.0)
    assert start(parent, fake) == pytest.approx(2.0)
    parent.hold(3.0)
    assert start(view, fake) == pytest.approx(5.0)


@settings(max_examples=80, deadline=None)
@given(
    rate=st.sampled_from([0.5, 1.0, 2.0, 5.0, 10.0]),
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("request"), st.just(0.0)),
            st.tuples(st.just("idle"), st.floats(min_value=0.0, max_value=5.0)),
            st.tuples(st.just("hold"), st.floats(min_value=0.0, max_value=5.0)),
        ),
        min_size=1,
        max_size=60,
    ),
)
def test_holds_never_break_the_token_bucket_bound(rate: float, steps: list[tuple[str, float]]) -> None:
    fake = FakeTime()
    limiter = RateLimiter(rate, 1, clock=fake.clock, sleep=fake.sleep)
    starts: list[float] = []
    for action, amount in steps:
        if action == "request":
            starts.append(start(limiter, fake))
        elif action == "idle":
            fake.now += amount
        else:
            limiter.hold(amount)
    burst = max(1.0, rate)
    for i in range(len(starts)):
        for j in range(i, len(starts)):
            assert j - i + 1 <= rate * (starts[j] - starts[i]) + burst + 1e-9


# ------------------------------------------------------------------------------------------------ transport


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as running:
        yield running


def transport(server: ScriptedServer, limiter: RateLimiter, fake: FakeTime, max_retries: int) -> Transport:
    return Transport(
        requests.Session(),
        StaticTokenProvider("static-token"),
        limiter,
        policy=RetryPolicy(max_retries=max_retries, backoff_initial=0.5, backoff_max=1.0),
        sleep=fake.sleep,
        rng=random.Random(7),
    )


def call(server: ScriptedServer) -> HttpCall:
    return HttpCall(server.url + API, b"{}", "application/json", "application/json")


@pytest.mark.parametrize("status", [429, 503])
def test_a_retry_after_answer_holds_every_later_request_of_the_client(
    server: ScriptedServer, status: int
) -> None:
    fake = FakeTime()
    limiter = RateLimiter(1000.0, 4, clock=fake.clock, sleep=fake.sleep)
    server.script(API, Reply(status=status, headers={"Retry-After": "7"}))
    with pytest.raises(NetstreamUnavailable):
        transport(server, limiter, fake, max_retries=0).post(call(server), bytes)
    # another worker of the same client, or the next cycle's first request, must wait out the Retry-After
    assert start(limiter, fake) == pytest.approx(7.0)


def test_the_retry_itself_waits_once_not_twice(server: ScriptedServer) -> None:
    fake = FakeTime()
    limiter = RateLimiter(1000.0, 4, clock=fake.clock, sleep=fake.sleep)
    server.script(API, Reply(status=429, headers={"Retry-After": "2"}), json_reply({}))
    assert transport(server, limiter, fake, max_retries=3).post(call(server), bytes) == b"{}"
    assert fake.sleeps == [2.0]


def test_a_server_wait_beyond_the_cap_holds_only_for_the_cap(server: ScriptedServer) -> None:
    fake = FakeTime()
    limiter = RateLimiter(1000.0, 4, clock=fake.clock, sleep=fake.sleep)
    server.script(API, Reply(status=429, headers={"Retry-After": "900"}))
    sender = Transport(
        requests.Session(),
        StaticTokenProvider("static-token"),
        limiter,
        policy=RetryPolicy(max_retries=0, retry_after_max=30.0),
        sleep=fake.sleep,
    )
    with pytest.raises(NetstreamUnavailable):
        sender.post(call(server), bytes)
    assert start(limiter, fake) == pytest.approx(30.0)


def test_an_answer_without_retry_after_holds_nobody(server: ScriptedServer) -> None:
    fake = FakeTime()
    limiter = RateLimiter(1000.0, 4, clock=fake.clock, sleep=fake.sleep)
    server.script(API, Reply(status=503))
    with pytest.raises(NetstreamUnavailable):
        transport(server, limiter, fake, max_retries=0).post(call(server), bytes)
    assert start(limiter, fake) == 0.0
