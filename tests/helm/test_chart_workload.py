"""The rendered workload: kinds, shard wiring, security context, probes, volumes, services, checksums."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Manifest = dict[str, Any]
Render = Callable[[Mapping[str, Any]], list[Manifest]]

POD_INDEX = "metadata.labels['apps.kubernetes.io/pod-index']"

#: what every render holds, and what each values file adds to it
ALWAYS = ("ConfigMap", "PodDisruptionBudget", "Service", "Service", "ServiceAccount", "StatefulSet")
EXTRA_KINDS = {
    "default": ("Secret",),
    "multi-shard": (),  # existingSecret: the chart creates none
    "sasl-scram": ("Secret", "Secret", "ConfigMap", "NetworkPolicy", "ServiceMonitor"),
    "mtls": ("Secret", "Secret"),  # credentials and the Kafka TLS files
    "oauthbearer": ("Secret",),
}


def env_of(container: Manifest) -> dict[str, Manifest]:
    """The container's env entries by name."""
    return {entry["name"]: entry for entry in container.get("env", [])}


def pod_spec(sts: Manifest) -> Manifest:
    """The pod template's spec."""
    spec: Manifest = sts["spec"]["template"]["spec"]
    return spec


def test_kinds_per_values_file(ci_name: str, rendered: dict[str, list[Manifest]]) -> None:
    assert sorted(m["kind"] for m in rendered[ci_name]) == sorted(ALWAYS + EXTRA_KINDS[ci_name])
    assert {m["metadata"]["namespace"] for m in rendered[ci_name]} == {"metering"}


def test_statefulset_runs_one_pod_per_shard_in_parallel(
    ci_name: str,
    ci_values: dict[str, dict[str, Any]],
    statefulsets: dict[str, Manifest],
    containers: dict[str, Manifest],
) -> None:
    shards = ci_values[ci_name].get("shards", 1)
    sts = statefulsets[ci_name]
    env = env_of(containers[ci_name])
    assert sts["spec"]["replicas"] == shards
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    assert sts["spec"]["serviceName"] == "np-netstream-publisher-headless"
    assert env["PUBLISHER_SHARD_COUNT"] == {"name": "PUBLISHER_SHARD_COUNT", "value": str(shards)}
    assert env["PUBLISHER_SHARD_INDEX"] == {
        "name": "PUBLISHER_SHARD_INDEX",
        "valueFrom": {"fieldRef": {"fieldPath": POD_INDEX}},
    }


def test_three_shards_make_three_replicas(
    statefulsets: dict[str, Manifest], containers: dict[str, Manifest]
) -> None:
    assert statefulsets["multi-shard"]["spec"]["replicas"] == 3
    assert env_of(containers["multi-shard"])["PUBLISHER_SHARD_COUNT"]["value"] == "3"


def test_replica_count_alias_equal_to_shards_renders(
    render: Render, ci_values: dict[str, dict[str, Any]]
) -> None:
    values = {**ci_values["default"], "shards": 4, "replicaCount": 4}
    (sts,) = [m for m in render(values) if m["kind"] == "StatefulSet"]
    assert sts["spec"]["replicas"] == 4


def test_container_runs_the_service_with_the_mounted_config(
    ci_name: str, containers: dict[str, Manifest]
) -> None:
    container = containers[ci_name]
    assert "command" not in container  # the image's entrypoint is netstream-publisher
    assert container["args"] == ["run", "--config", "/etc/netstream-publisher/config.yaml"]
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert env_of(container)["PUBLISHER_REGISTRY_FILE"]["value"] == "/etc/netstream-publisher/registry.yaml"
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/etc/netstream-publisher"]["readOnly"] is True


def test_image_defaults_to_the_app_version_and_can_be_pinned(
    render: Render, ci_values: dict[str, dict[str, Any]], containers: dict[str, Manifest]
) -> None:
    assert containers["default"]["image"] == "netstream-publisher:0.1.0"
    assert containers["multi-shard"]["image"] == "registry.example.test/metering/netstream-publisher:0.1.0"
    digest = "sha256:" + "ab" * 32
    values = {**ci_values["default"], "image": {"repository": "r/np", "tag": "1.2.3", "digest": digest}}
    (sts,) = [m for m in render(values) if m["kind"] == "StatefulSet"]
    assert pod_spec(sts)["containers"][0]["image"] == f"r/np:1.2.3@{digest}"


def test_security_context_is_locked_down(ci_name: str, statefulsets: dict[str, Manifest]) -> None:
    spec = pod_spec(statefulsets[ci_name])
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    context = spec["containers"][0]["securityContext"]
    assert context["runAsNonRoot"] is True
    assert (context["runAsUser"], context["runAsGroup"]) == (10001, 10001)
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["privileged"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}


def test_tmp_is_the_only_writable_path(ci_name: str, statefulsets: dict[str, Manifest]) -> None:
    spec = pod_spec(statefulsets[ci_name])
    volumes = {v["name"]: v for v in spec["volumes"]}
    writable = [m for m in spec["containers"][0]["volumeMounts"] if not m.get("readOnly")]
    assert [m["mountPath"] for m in writable] == ["/tmp"]
    assert volumes[writable[0]["name"]]["emptyDir"] == {"sizeLimit": "64Mi"}


def test_probes_cover_liveness_readiness_and_state_restore(
    ci_name: str, containers: dict[str, Manifest]
) -> None:
    container = containers[ci_name]
    for probe, path in (
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
        ("startupProbe", "/healthz"),
    ):
        assert container[probe]["httpGet"] == {"path": path, "port": "http"}
    startup = container["startupProbe"]
    assert startup["failureThreshold"] * startup["periodSeconds"] >= 600  # room for restoring the state


def test_requests_and_a_memory_limit_by_default(ci_name: str, containers: dict[str, Manifest]) -> None:
    resources = containers[ci_name]["resources"]
    assert set(resources["requests"]) == {"cpu", "memory"}
    assert "memory" in resources["limits"]


def test_service_account_mounts_no_token(ci_name: str, rendered: dict[str, list[Manifest]]) -> None:
    (account,) = [m for m in rendered[ci_name] if m["kind"] == "ServiceAccount"]
    assert account["automountServiceAccountToken"] is False
    (sts,) = [m for m in rendered[ci_name] if m["kind"] == "StatefulSet"]
    assert pod_spec(sts)["serviceAccountName"] == account["metadata"]["name"]


def test_headless_and_metrics_services_select_the_pods(
    ci_name: str, rendered: dict[str, list[Manifest]]
) -> None:
    services = {m["metadata"]["name"]: m for m in rendered[ci_name] if m["kind"] == "Service"}
    headless = services["np-netstream-publisher-headless"]
    metrics = services["np-netstream-publisher-metrics"]
    assert headless["spec"]["clusterIP"] == "None"
    assert "clusterIP" not in metrics["spec"]
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert metrics["spec"]["publishNotReadyAddresses"] is True  # scraped while not ready, too
    (sts,) = [m for m in rendered[ci_name] if m["kind"] == "StatefulSet"]
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    for service in (headless, metrics):
        assert service["spec"]["ports"] == [
            {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}
        ]
        assert service["spec"]["selector"].items() <= pod_labels.items()


def test_service_monitor_scrapes_metrics_only_when_enabled(rendered: dict[str, list[Manifest]]) -> None:
    (monitor,) = [m for m in rendered["sasl-scram"] if m["kind"] == "ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"] == [
        {"port": "http", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
    ]
    (metrics,) = [m for m in rendered["sasl-scram"] if m["metadata"]["name"].endswith("-metrics")]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= metrics["metadata"]["labels"].items()
    assert not [m for m in rendered["default"] if m["kind"] == "ServiceMonitor"]


def test_disruption_budget_allows_one_shard_down(ci_name: str, rendered: dict[str, list[Manifest]]) -> None:
    (pdb,) = [m for m in rendered[ci_name] if m["kind"] == "PodDisruptionBudget"]
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["maxUnavailable"] == 1
    (sts,) = [m for m in rendered[ci_name] if m["kind"] == "StatefulSet"]
    assert pdb["spec"]["selector"] == sts["spec"]["selector"]


def _annotations(render: Render, values: Mapping[str, Any]) -> dict[str, str]:
    (sts,) = [m for m in render(values) if m["kind"] == "StatefulSet"]
    annotations: dict[str, str] = sts["spec"]["template"]["metadata"]["annotations"]
    return annotations


def test_checksums_change_with_config_and_secret(
    render: Render, ci_values: dict[str, dict[str, Any]]
) -> None:
    base = ci_values["default"]
    before = _annotations(render, base)
    assert len(before["checksum/config"]) == len(before["checksum/secret"]) == 64
    assert _annotations(render, base) == before  # deterministic

    config_changed = _annotations(render, {**base, "publisher": {"logLevel": "debug"}})
    assert config_changed["checksum/config"] != before["checksum/config"]
    assert config_changed["checksum/secret"] == before["checksum/secret"]

    registry_changed = _annotations(render, {**base, "registry": {"usage_points": [{"mrid": "up-new"}]}})
    assert registry_changed["checksum/config"] != before["checksum/config"]

    secret_changed = _annotations(
        render, {**base, "netstream": {**base["netstream"], "clientSecret": "rotated"}}
    )
    assert secret_changed["checksum/secret"] != before["checksum/secret"]
    assert secret_changed["checksum/config"] == before["checksum/config"]


def test_pod_labels_annotations_and_scheduling_pass_through(
    render: Render, ci_values: dict[str, dict[str, Any]], statefulsets: dict[str, Manifest]
) -> None:
    values = {
        **ci_values["default"],
        "podLabels": {"team": "metering"},
        "podAnnotations": {"example.test/owner": "metering"},
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "priorityClassName": "metering-critical",
        "extraEnv": [{"name": "PUBLISHER_STATE_HORIZON_DAYS", "value": "7"}],
    }
    (sts,) = [m for m in render(values) if m["kind"] == "StatefulSet"]
    template = sts["spec"]["template"]
    assert template["metadata"]["labels"]["team"] == "metering"
    assert template["metadata"]["annotations"]["example.test/owner"] == "metering"
    assert template["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert template["spec"]["priorityClassName"] == "metering-critical"
    assert env_of(template["spec"]["containers"][0])["PUBLISHER_STATE_HORIZON_DAYS"]["value"] == "7"
    spread = pod_spec(statefulsets["multi-shard"])["topologySpreadConstraints"]
    assert spread[0]["topologyKey"] == "topology.kubernetes.io/zone"
