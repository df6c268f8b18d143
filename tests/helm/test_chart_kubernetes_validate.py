"""Every rendered manifest is valid for Kubernetes 1.29 to 1.33 (kubernetes-validate --strict).

kubernetes-validate ships the schemas of the built-in kinds only. The ServiceMonitor is a custom resource
of the Prometheus Operator, so it is checked on its own below against the fields its CRD requires.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

Manifest = dict[str, Any]

KUBERNETES_VERSIONS = ("1.29", "1.30", "1.31", "1.32", "1.33")
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}


@pytest.mark.parametrize("kube_version", KUBERNETES_VERSIONS)
def test_manifests_validate_strictly(
    ci_name: str, kube_version: str, rendered: dict[str, list[Manifest]]
) -> None:
    problems = []
    checked = 0
    for manifest in rendered[ci_name]:
        if (manifest["apiVersion"], manifest["kind"]) in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(manifest, kube_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(part) for part in exc.path)
            problems.append(f"{manifest['kind']}/{manifest['metadata']['name']} at {where}: {exc.message}")
        checked += 1
    assert problems == []
    assert checked >= 6


def test_service_monitor_has_the_fields_its_crd_requires(rendered: dict[str, list[Manifest]]) -> None:
    (monitor,) = [m for m in rendered["sasl-scram"] if m["kind"] == "ServiceMonitor"]
    assert set(monitor) == {"apiVersion", "kind", "metadata", "spec"}
    spec = monitor["spec"]
    assert set(spec) <= {"selector", "namespaceSelector", "endpoints", "jobLabel", "targetLabels"}
    assert isinstance(spec["selector"]["matchLabels"], dict)
    assert spec["namespaceSelector"] == {"matchNames": ["metering"]}
    for endpoint in spec["endpoints"]:
        assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "scheme"}
        assert isinstance(endpoint["port"], str)


def test_an_invalid_manifest_is_caught(rendered: dict[str, list[Manifest]]) -> None:
    (sts,) = [m for m in rendered["default"] if m["kind"] == "StatefulSet"]
    broken = {**sts, "spec": {**sts["spec"], "podManagementPolicy": ["Parallel"]}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.29", strict=True)
    unknown = {**sts, "spec": {**sts["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, "1.33", strict=True)
