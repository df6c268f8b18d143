"""Request planning of the runner: usage points together, every group or meter target on its own."""

from __future__ import annotations

from publisher.netstream.model import Target, TargetKind
from publisher.pipeline.runner import Group, _requests, group_targets
from publisher.registry import parse_registry

UP, UPG, M, MG = (
    TargetKind.USAGE_POINT,
    TargetKind.USAGE_POINT_GROUP,
    TargetKind.METER,
    TargetKind.METER_GROUP,
)


def test_group_and_meter_targets_are_requested_one_by_one() -> None:
    group = Group(
        (Target(UP, "u1"), Target(UPG, "g1"), Target(UP, "u2"), Target(M, "m1"), Target(MG, "mg1")),
        ("rt",),
    )
    assert _requests([group]) == [
        ((Target(UP, "u1"), Target(UP, "u2")), ("rt",)),
        ((Target(UPG, "g1"),), ("rt",)),
        ((Target(M, "m1"),), ("rt",)),
        ((Target(MG, "mg1"),), ("rt",)),
    ]


def test_targets_are_grouped_by_their_reading_types_in_file_order() -> None:
    rt_a, rt_b = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0", "0.0.5.4.19.1.12.0.0.0.0.0.0.0.224.3.72.0"
    registry = parse_registry(
        f"usage_points:\n  - mrid: u1\n  - mrid: u2\n    reading_types: [{rt_b}]\n  - mrid: u3\n", "r.yaml"
    )
    groups = group_targets(registry, (rt_a,))
    assert [(tuple(t.mrid for t in g.targets), g.reading_types) for g in groups] == [
        (("u1", "u3"), (rt_a,)),
        (("u2",), (rt_b,)),
    ]
