"""The optional NetworkPolicy and the Grafana dashboard ConfigMap."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

Manifest = dict[str, Any]

#: metrics the dashboard must show (without the netstream_publisher_ prefix)
REQUIRED = (
    "events_published_total",
    "events_suppressed_total",
    "events_revised_total",
    "events_dead_lettered_total",
    "api_requests_total",
    "api_request_seconds_bucket",
    "transactions_total",
    "state_restore_seconds",
    "state_series",
    "data_freshness_seconds",
    "data_completeness_ratio",
)
#: further metrics of the service the dashboard may show
OPTIONAL = (
    "cycles_total",
    "cycle_duration_seconds_bucket",
    "last_cycle_success_timestamp_seconds",
    "api_retries_total",
    "process_resident_memory_bytes",
)


def only(manifests: list[Manifest], kind: str) -> Manifest:
    """The one manifest of ``kind``."""
    (found,) = [m for m in manifests if m["kind"] == kind]
    return found


def test_network_policy_is_off_by_default(rendered: dict[str, list[Manifest]]) -> None:
    assert not [m for m in rendered["default"] if m["kind"] == "NetworkPolicy"]


def test_network_policy_allows_only_kafka_registry_netstream_and_dns(
    rendered: dict[str, list[Manifest]],
) -> None:
    policy = only(rendered["sasl-scram"], "NetworkPolicy")
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    sts = only(rendered["sasl-scram"], "StatefulSet")
    assert spec["podSelector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]

    dns, *targets = spec["egress"]
    assert dns["to"] == [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}]
    assert dns["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    allowed = [
        (sorted(peer["ipBlock"]["cidr"] for peer in rule["to"]), [p["port"] for p in rule["ports"]])
        for rule in targets
    ]
    assert allowed == [
        (["10.20.0.0/24"], [9093]),  # Kafka
        (["198.51.100.0/24", "203.0.113.0/24"], [443]),  # Netstream
        (["10.20.1.0/28"], [8081]),  # Schema Registry
    ]
    for rule in targets:
        assert all(set(peer) == {"ipBlock"} for peer in rule["to"])

    (ingress,) = spec["ingress"]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert ingress["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]


def test_dashboard_config_map_is_labelled_for_the_grafana_sidecar(
    rendered: dict[str, list[Manifest]], chart_dir: Path
) -> None:
    dashboards = [m for m in rendered["sasl-scram"] if m["metadata"]["name"].endswith("-dashboard")]
    (dashboard,) = dashboards
    assert dashboard["kind"] == "ConfigMap"
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["annotations"] == {"grafana_folder": "Metering"}
    (text,) = dashboard["data"].values()
    assert json.loads(text) == json.loads(
        (chart_dir / "files" / "dashboard.json").read_text(encoding="utf-8")
    )
    assert not [m for m in rendered["default"] if m["metadata"]["name"].endswith("-dashboard")]


def test_dashboard_queries_every_required_metric_and_only_ours(chart_dir: Path) -> None:
    dashboard = json.loads((chart_dir / "files" / "dashboard.json").read_text(encoding="utf-8"))
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    expressions = "\n".join(t["expr"] for p in panels for t in p["targets"])
    used = set(re.findall(r"\bnetstream_publisher_(\w+)", expressions))
    assert set(REQUIRED) <= used
    assert used <= set(REQUIRED) | set(OPTIONAL)
    series = re.findall(r"\b([a-z_]+)\{", expressions)  # every selector names one of our series
    assert series
    assert all(name.startswith("netstream_publisher_") for name in series)
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    assert all(t["datasource"]["uid"] == "${datasource}" for p in panels for t in p["targets"])
    by_title = {p["title"]: p for p in panels}
    assert "sum by (status)" in by_title["API requests by status / s"]["targets"][0]["expr"]
    assert "sum by (outcome)" in by_title["Transactions by outcome / s"]["targets"][0]["expr"]
    assert "by (shard)" in by_title["Data freshness by shard"]["targets"][0]["expr"]
    assert "by (shard)" in by_title["Data completeness by shard"]["targets"][0]["expr"]
    assert "api_request_seconds_bucket" in by_title["API request duration"]["targets"][0]["expr"]


def test_dashboard_panels_do_not_overlap(chart_dir: Path) -> None:
    dashboard = json.loads((chart_dir / "files" / "dashboard.json").read_text(encoding="utf-8"))
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not mine & cells, panel["title"]
        cells |= mine
