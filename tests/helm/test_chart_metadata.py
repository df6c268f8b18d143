"""Chart metadata, values documentation and Helm's own lint."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

_KEY_LINE = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z0-9_.\-]+):(?:\s|$)")


def test_app_version_is_the_package_version(repo_root: Path, chart_dir: Path) -> None:
    project = tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text(encoding="utf-8"))
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == project["version"]
    assert chart["name"] == "netstream-publisher"


def test_helm_loads_the_metadata_and_the_schema(chart: helm_python.Chart) -> None:
    assert chart.metadata["kubeVersion"] == ">=1.28.0-0"  # the pod-index label
    schema = chart.schema
    assert schema is not None
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("kube_version", ["v1.29.0", "v1.33.0"])
def test_strict_lint_is_clean(
    chart_dir: Path, ci_name: str, ci_values: dict[str, dict[str, Any]], kube_version: str
) -> None:
    report = helm_python.lint(chart_dir, ci_values[ci_name], strict=True, kube_version=kube_version)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == []
    assert problems == []
    assert report["total_charts_linted"] == 1


def test_defaults_lint_clean_but_an_install_needs_the_endpoints(
    chart_dir: Path, chart: helm_python.Chart
) -> None:
    report = helm_python.lint(chart_dir, strict=True)
    assert report["errors"] == []
    with pytest.raises(helm_python.HelmRenderError, match=r"netstream\.baseUrl is required: set it to"):
        chart.render(name="np", namespace="metering")


def test_every_key_of_values_yaml_is_commented(chart_dir: Path) -> None:
    lines = (chart_dir / "values.yaml").read_text(encoding="utf-8").splitlines()
    undocumented = []
    for number, line in enumerate(lines):
        match = _KEY_LINE.match(line)
        if match is None or line.lstrip().startswith("#"):
            continue
        previous = next((p for p in reversed(lines[:number]) if p.strip()), "")
        if " # " not in line and not previous.lstrip().startswith("#"):
            undocumented.append(f"line {number + 1}: {match['key']}")
    assert undocumented == []


def _schema_paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for key, sub in schema.get("properties", {}).items():
        paths.add(prefix + key)
        paths |= _schema_paths(sub, f"{prefix}{key}.")
    return paths


def _value_paths(values: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> set[str]:
    """Keys of ``values`` down to where the schema stops naming properties (free-form maps)."""
    paths: set[str] = set()
    for key, value in values.items():
        paths.add(prefix + key)
        sub = schema.get("properties", {}).get(key, {})
        if isinstance(value, dict) and "properties" in sub:
            paths |= _value_paths(value, sub, f"{prefix}{key}.")
    return paths


def test_schema_types_every_default_value(chart_dir: Path) -> None:
    schema = json.loads((chart_dir / "values.schema.json").read_text(encoding="utf-8"))
    values = yaml.safe_load((chart_dir / "values.yaml").read_text(encoding="utf-8"))
    in_schema = _schema_paths(schema)
    assert _value_paths(values, schema) - in_schema == set()
    assert {key for key in in_schema if "." not in key} - {"global"} == set(values)


def test_keys_outside_tooling_relies_on_exist(chart_dir: Path) -> None:
    values = yaml.safe_load((chart_dir / "values.yaml").read_text(encoding="utf-8"))
    for path in (
        "shards",
        "replicaCount",
        "existingSecret",
        "netstream.clientSecret",
        "netstream.clientId",
        "netstream.baseUrl",
        "image.repository",
        "image.tag",
        "kafka.bootstrapServers",
        "registry",
    ):
        node: Any = values
        for part in path.split("."):
            assert isinstance(node, dict)
            assert part in node, f"values.yaml lacks {path}"
            node = node[part]
