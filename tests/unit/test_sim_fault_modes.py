"""Simulator fault modes for API storms: probabilistic rules and hung connections (loopback HTTP)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from publisher.errors import ConfigError
from publisher.simulator import FaultRule, SimClock, SimulatorConfig, SimulatorServer, SimUsagePoint
from publisher.simulator.faults import FaultPlan

CONFIG = SimulatorConfig((SimUsagePoint("up-1", "meter-1"),), static_token="static-token")


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer(CONFIG, clock=SimClock(datetime(2025, 6, 12, tzinfo=UTC))) as server:
        yield server


def test_a_probabilistic_rule_applies_about_that_often_and_reproducibly() -> None:
    def draws(seed: int) -> list[bool]:
        plan = FaultPlan(seed)
        rule = FaultRule("status", status=429, retry_after="1", times=None, probability=0.5)
        plan.add(rule)
        return [plan.take("/api/x", b"") is rule for _ in range(2000)]

    first = draws(11)
    assert 900 <= sum(first) <= 1100  # binomial(2000, 0.5): ±100 is beyond 4 standard deviations
    assert draws(11) == first, "the same seed gives the same storm"
    assert draws(12) != first


def test_a_request_a_probabilistic_rule_lets_pass_falls_through_and_keeps_its_count() -> None:
    plan = FaultPlan(3)
    rare = FaultRule("status", status=429, times=2, probability=0.25)
    always = FaultRule("status", status=503, times=None)
    plan.add(rare)
    plan.add(always)
    taken = [plan.take("/api/x", b"") for _ in range(400)]
    assert taken.count(rare) == 2, "times counts applications only"
    assert taken.count(always) == 398
    assert plan.rules == [always]


@pytest.mark.parametrize("probability", [0, -0.1, 1.5, float("nan"), True, "0.5"])
def test_a_probability_outside_zero_to_one_is_refused(probability: object) -> None:
    with pytest.raises(ConfigError, match="fault probability"):
        FaultRule.from_json({"kind": "status", "probability": probability})


def test_probability_round_trips_through_the_admin_json() -> None:
    rule = FaultRule("hang", times=None, probability=0.2)
    assert FaultRule.from_json(rule.to_json()) == rule


def test_a_hung_request_gets_no_answer_until_the_client_gives_up(sim: SimulatorServer) -> None:
    sim.faults.add(FaultRule("hang"))
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(
            sim.readings_url,
            data=b"{}",
            headers={"Authorization": "Bearer static-token", "Content-Type": "application/json"},
            timeout=(2.0, 0.5),
        )
    assert time.monotonic() - started >= 0.5
    # the simulator notices the client hung up and frees the connection; the next request is served
    after = requests.post(
        sim.readings_url,
        data=b"{}",
        headers={"Authorization": "Bearer static-token", "Content-Type": "application/json"},
        timeout=5,
    )
    assert after.status_code == 400  # an empty query is answered normally again
    hung, served = sim.requests
    assert (hung.fault, hung.status) == ("hang", None)
    assert hung.answered is not None
    assert hung.answered >= hung.at
    assert served.fault is None
    assert served.answered is not None
    assert served.answered >= served.at


def test_stopping_the_simulator_releases_a_hung_connection() -> None:
    server = SimulatorServer(CONFIG, clock=SimClock(datetime(2025, 6, 12, tzinfo=UTC)))
    server.start()
    server.faults.add(FaultRule("hang"))
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            requests.post(server.readings_url, data=b"{}", timeout=(2.0, 30.0))
        except requests.RequestException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    server.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], requests.ConnectionError)
