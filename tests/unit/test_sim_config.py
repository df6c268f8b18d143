"""Simulator configuration, clock and fault rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from publisher.errors import ConfigError
from publisher.netstream.model import Target, TargetKind
from publisher.simulator import FaultPlan, FaultRule, SimClock, SimulatorConfig, SimUsagePoint

T0 = datetime(2025, 6, 10, 12, tzinfo=UTC)


# ----------------------------------------------------------------------------------------------- config


def test_demo_is_a_realistic_mix() -> None:
    demo = SimulatorConfig.demo()
    points = demo.usage_points
    assert len(points) == 30
    assert any(p.has_solar for p in points)
    assert any(not p.has_solar for p in points)
    assert {p.timezone for p in points} == {"Pacific/Auckland", "Australia/Sydney"}
    assert any(p.meter_mrid is None for p in points)
    assert len(demo.usage_point_groups) == 2
    assert len(demo.meter_groups) == 1
    assert SimulatorConfig.demo() == demo
    assert SimulatorConfig.demo(seed=2).usage_points[0].mrid != points[0].mrid


def test_groups_and_meters_resolve_to_usage_points() -> None:
    demo = SimulatorConfig.demo(count=12)
    everyone, solar = demo.usage_point_groups
    (meters,) = demo.meter_groups
    assert [p.mrid for p in demo.resolve([Target(TargetKind.USAGE_POINT_GROUP, everyone)])] == [
        p.mrid for p in demo.usage_points
    ]
    assert all(p.has_solar for p in demo.resolve([Target(TargetKind.USAGE_POINT_GROUP, solar)]))
    first = demo.usage_points[0]
    assert first.meter_mrid is not None
    assert demo.resolve([Target(TargetKind.METER, first.meter_mrid)]) == [first]
    group_points = demo.resolve([Target(TargetKind.METER_GROUP, meters)])
    assert {p.meter_mrid for p in group_points} == set(demo.meter_groups[meters])


def test_resolve_drops_unknown_ids_and_duplicates() -> None:
    demo = SimulatorConfig.demo(count=3)
    first = demo.usage_points[0]
    targets = [Target(TargetKind.USAGE_POINT, "nope"), Target(TargetKind.USAGE_POINT, first.mrid)]
    targets += [Target(TargetKind.USAGE_POINT, first.mrid), Target(TargetKind.METER_GROUP, "nope")]
    assert demo.resolve(targets) == [first]


@pytest.mark.parametrize(
    "knobs",
    [
        {"late_fraction": 1.5},
        {"gap_fraction": -0.1},
        {"max_late": timedelta(seconds=5)},
        {"revision_after": timedelta()},
        {"token_lifetime": 0},
    ],
)
def test_bad_knobs_are_config_errors(knobs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="simulator"):
        SimulatorConfig((SimUsagePoint("up", None),), **knobs)


def test_duplicate_usage_points_are_refused() -> None:
    with pytest.raises(ConfigError, match="listed twice"):
        SimulatorConfig((SimUsagePoint("up", None), SimUsagePoint("up", "m")))


@pytest.mark.parametrize(
    ("code", "match"),
    [
        ("1.2.3", "malformed"),
        ("0.0.0.12.1.1.37.0.0.0.0.0.0.0.224.3.38.0", "cannot generate"),
    ],
)
def test_unsupported_reading_types_are_refused(code: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SimUsagePoint("up", None, reading_types=(code,))


def test_unknown_time_zones_are_refused() -> None:
    with pytest.raises(ConfigError, match="time zone"):
        SimUsagePoint("up", None, timezone="Mars/Olympus")


def test_groups_are_read_only() -> None:
    config = SimulatorConfig((SimUsagePoint("up", None),), usage_point_groups={"g": ("up",)})
    assert config.usage_point_groups["g"] == ("up",)
    with pytest.raises(TypeError):
        config.usage_point_groups["h"] = ()  # type: ignore[index]  # proving the mapping is read-only


def test_secrets_stay_out_of_repr() -> None:
    config = SimulatorConfig((SimUsagePoint("up", None),), client_secret="s3cret", static_token="t0ken")
    assert "s3cret" not in repr(config)
    assert "t0ken" not in repr(config)


# ----------------------------------------------------------------------------------------------- clock


def test_manual_clock_moves_only_when_told() -> None:
    clock = SimClock(T0)
    assert clock.now() == T0
    assert clock.is_manual
    clock.advance(timedelta(minutes=5))
    assert clock.now() == T0 + timedelta(minutes=5)
    clock.set(datetime(2025, 1, 1, 13, tzinfo=UTC))
    assert clock.now() == datetime(2025, 1, 1, 13, tzinfo=UTC)


def test_system_clock_follows_real_time_with_an_offset() -> None:
    clock = SimClock.system()
    assert not clock.is_manual
    before = datetime.now(UTC)
    assert clock.now() >= before
    clock.advance(timedelta(days=1))
    assert clock.now() >= before + timedelta(days=1)
    clock.set(T0)
    assert T0 <= clock.now() < T0 + timedelta(minutes=10)
    assert clock.now().tzinfo is UTC


def test_clock_refuses_naive_times() -> None:
    with pytest.raises(ConfigError, match="no UTC offset"):
        SimClock(datetime(2025, 1, 1))  # noqa: DTZ001 -- the naive datetime is the point of the test
    with pytest.raises(ConfigError, match="no UTC offset"):
        SimClock(T0).set(datetime(2025, 1, 1))  # noqa: DTZ001 -- the naive datetime is the point of the test


# ----------------------------------------------------------------------------------------------- faults


def test_rules_apply_the_given_number_of_times_in_order() -> None:
    plan = FaultPlan()
    first, second = FaultRule("status", status=503, times=2), FaultRule("drop", times=None)
    plan.add(first)
    plan.add(second)
    taken = [plan.take("/api/x", b"") for _ in range(4)]
    assert taken == [first, first, second, second]
    assert plan.rules == [second]
    plan.clear()
    assert plan.take("/api/x", b"") is None


def test_rules_match_path_prefix_and_body() -> None:
    plan = FaultPlan()
    rule = FaultRule("slow", delay=0.5, match_body="up-7", path="/api/")
    plan.add(rule)
    assert plan.take("/tenant/oauth2/v2.0/token", b"up-7") is None
    assert plan.take("/api/x", b'{"usagePoint":[{"mRID":"up-1"}]}') is None
    assert plan.take("/api/x", b'{"usagePoint":[{"mRID":"up-7"}]}') is rule
    assert plan.rules == []


def test_rules_round_trip_through_json() -> None:
    rule = FaultRule("status", status=429, retry_after="2", times=3)
    assert FaultRule.from_json(rule.to_json()) == rule


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "explode"},
        {"kind": "status", "status": 42},
        {"kind": "slow", "delay": -1},
        {"kind": "drop", "times": 0},
        {"kind": "drop", "path": "api"},
        {"kind": "drop", "match_body": "("},
        {"kind": "drop", "colour": "red"},
        {"status": 500},
        ["drop"],
    ],
)
def test_bad_rules_are_config_errors(data: object) -> None:
    with pytest.raises(ConfigError, match="fault"):
        FaultRule.from_json(data)
