"""The target registry: YAML and CSV, validation with one-line errors, stable sharding."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from publisher.errors import ConfigError
from publisher.netstream.model import Target, TargetKind
from publisher.registry import load_registry, parse_registry, shard_of

RT = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"

YAML = f"""
usage_points:
  - mrid: up-1
    reading_types: [{RT}]
    meter_mrid: m-1
    timezone: Australia/Sydney
  - mrid: up-2
usage_point_groups:
  - mrid: g-1
meters:
  - mrid: m-9
meter_groups:
  - mrid: mg-1
"""


def test_yaml_registry_has_every_target_kind_in_order() -> None:
    registry = parse_registry(YAML, "r.yaml")
    assert [e.target for e in registry] == [
        Target(TargetKind.USAGE_POINT, "up-1"),
        Target(TargetKind.USAGE_POINT, "up-2"),
        Target(TargetKind.USAGE_POINT_GROUP, "g-1"),
        Target(TargetKind.METER, "m-9"),
        Target(TargetKind.METER_GROUP, "mg-1"),
    ]
    first = registry.entries[0]
    assert (first.reading_types, first.meter_mrid, first.timezone) == ((RT,), "m-1", "Australia/Sydney")
    assert str(registry.zone_of("up-1")) == "Australia/Sydney"
    assert registry.zone_of("up-2") is None
    assert registry.meter_of("up-1") == "m-1"


def test_csv_registry_with_the_same_columns(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        "mrid,reading_types,meter_mrid,timezone,kind\n"
        f"up-1,{RT};{RT.replace('.1.1.12', '.19.1.12')},m-1,,\n"
        "g-1,,,,usage_point_group\n"
    )
    registry = load_registry(path)
    assert [e.target for e in registry] == [
        Target(TargetKind.USAGE_POINT, "up-1"),
        Target(TargetKind.USAGE_POINT_GROUP, "g-1"),
    ]
    assert len(registry.entries[0].reading_types) == 2


@pytest.mark.parametrize(
    ("text", "source", "message"),
    [
        ("usage_points:\n  - meter_mrid: x\n", "r.yaml", "usage_points[0]: 'mrid' is required"),
        ("usage_points:\n  - {mrid: a, colour: red}\n", "r.yaml", "unknown key(s) ['colour']"),
        ("usage_points:\n  - {mrid: a, reading_types: [1.2.3]}\n", "r.yaml", "'1.2.3' is not an 18-field"),
        ("usage_points:\n  - {mrid: a, timezone: Moon/Base}\n", "r.yaml", "'Moon/Base' is not an IANA"),
        ("usage_points:\n  - {mrid: a}\n  - {mrid: a}\n", "r.yaml", "usage_point a is listed twice"),
        ("points: []\n", "r.yaml", "unknown section(s) ['points']"),
        ("usage_points: [\n", "r.yaml", "is not valid YAML"),
        ("id,x\n1,2\n", "r.csv", "needs a header row with an 'mrid' column"),
        ("mrid,kind\na,pump\n", "r.csv", "line 2: kind 'pump' is not one of"),
    ],
)
def test_invalid_registries_give_one_line(text: str, source: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_registry(text, source)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PUBLISHER_REGISTRY_FILE"):
        load_registry(tmp_path / "none.yaml")


def test_sharding_is_stable_balanced_and_partitions_the_registry() -> None:
    text = "usage_points:\n" + "".join(f"  - mrid: up-{i:05d}\n" for i in range(4000))
    registry = parse_registry(text, "big.yaml")
    shards = [registry.for_shard(i, 4) for i in range(4)]
    assert sum(len(s) for s in shards) == 4000
    assert {e.mrid for s in shards for e in s} == {e.mrid for e in registry}
    counts = Counter(shard_of(e.mrid, 4) for e in registry)
    assert all(900 <= n <= 1100 for n in counts.values()), counts
    assert shard_of("up-00001", 4) == shard_of("up-00001", 4)
    assert shard_of("foobar", 7) == (-790332482 & 0x7FFFFFFF) % 7


def test_live_registry_reloads_changes_and_keeps_the_old_one_when_the_new_file_is_invalid(
    tmp_path: Path, captured_logs: object
) -> None:
    from publisher.registry import LiveRegistry

    path = tmp_path / "r.yaml"
    path.write_text("usage_points:\n  - mrid: a\n  - mrid: b\n")
    live = LiveRegistry(path, 0, 1)
    assert [e.mrid for e in live.current] == ["a", "b"]
    assert live.reload_if_changed() is False  # unchanged

    path.write_text("usage_points:\n  - mrid: b\n  - mrid: c\n    timezone: Australia/Perth\n")
    assert live.reload_if_changed() is True
    assert [e.mrid for e in live.current] == ["b", "c"]
    assert str(live.zone_of("c")) == "Australia/Perth"

    path.write_text("usage_points: [\n")
    assert live.reload_if_changed() is False
    assert [e.mrid for e in live.current] == ["b", "c"]
    events = [e["event"] for e in captured_logs.entries]  # type: ignore[attr-defined]
    assert events == ["registry_reloaded", "registry_reload_failed"]
