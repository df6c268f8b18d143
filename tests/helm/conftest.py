"""Fixtures of the chart tests: helm/netstream-publisher rendered with Helm's own engine (helm-python-sdk).

Each values file in ``helm/netstream-publisher/ci/`` is rendered once per session; tests read the parsed
manifests. ``render`` renders ad hoc values (for the bad-values table and the checksum tests). A test that
takes a ``ci_name`` argument runs once per values file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "netstream-publisher"
RELEASE = "np"
NAMESPACE = "metering"

#: the values files under ci/, by short name ("default" for ci/default-values.yaml)
CI_FILES = {
    path.name.removesuffix("-values.yaml"): path for path in sorted((CHART / "ci").glob("*-values.yaml"))
}

Manifest = dict[str, Any]
Render = Callable[[Mapping[str, Any]], list[Manifest]]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``ci_name`` with the short name of every values file under ci/."""
    if "ci_name" in metafunc.fixturenames:
        metafunc.parametrize("ci_name", sorted(CI_FILES))


def parse_manifests(templates: Mapping[str, str]) -> list[Manifest]:
    """Every Kubernetes object of a render, in template order (NOTES.txt and empty documents left out)."""
    manifests: list[Manifest] = []
    for path in sorted(templates):
        if not path.endswith(".yaml"):
            continue
        manifests.extend(doc for doc in yaml.safe_load_all(templates[path]) if doc)
    return manifests


def load_ci_values(name: str) -> dict[str, Any]:
    """The values of ``ci/<name>-values.yaml``."""
    data = yaml.safe_load(CI_FILES[name].read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's top directory."""
    return REPO


@pytest.fixture(scope="session")
def chart_dir() -> Path:
    """helm/netstream-publisher."""
    return CHART


@pytest.fixture(scope="session")
def chart() -> Iterator[helm_python.Chart]:
    """The chart, loaded once."""
    with helm_python.Chart.load(CHART) as loaded:
        yield loaded


@pytest.fixture(scope="session")
def render_templates(chart: helm_python.Chart) -> Callable[[Mapping[str, Any]], dict[str, str]]:
    """Render ``values`` (merged over values.yaml, validated by values.schema.json) to template texts."""

    def run(values: Mapping[str, Any]) -> dict[str, str]:
        return chart.render(dict(values), name=RELEASE, namespace=NAMESPACE)

    return run


@pytest.fixture(scope="session")
def render(render_templates: Callable[[Mapping[str, Any]], dict[str, str]]) -> Render:
    """Render ``values`` to parsed manifests; Helm's errors propagate."""

    def run(values: Mapping[str, Any]) -> list[Manifest]:
        return parse_manifests(render_templates(values))

    return run


@pytest.fixture(scope="session")
def ci_values() -> dict[str, dict[str, Any]]:
    """The values of every ci/ file, by short name."""
    return {name: load_ci_values(name) for name in CI_FILES}


@pytest.fixture(scope="session")
def rendered(render: Render, ci_values: dict[str, dict[str, Any]]) -> dict[str, list[Manifest]]:
    """Every ci/ values file rendered once, by short name."""
    return {name: render(values) for name, values in ci_values.items()}


@pytest.fixture(scope="session")
def statefulsets(rendered: dict[str, list[Manifest]]) -> dict[str, Manifest]:
    """The one StatefulSet of each ci/ render, by short name."""
    out: dict[str, Manifest] = {}
    for name, manifests in rendered.items():
        found = [m for m in manifests if m["kind"] == "StatefulSet"]
        assert len(found) == 1, f"{name}: expected one StatefulSet, got {len(found)}"
        out[name] = found[0]
    return out


@pytest.fixture(scope="session")
def containers(statefulsets: dict[str, Manifest]) -> dict[str, Manifest]:
    """The publisher container of each ci/ render, by short name."""
    out: dict[str, Manifest] = {}
    for name, sts in statefulsets.items():
        (container,) = sts["spec"]["template"]["spec"]["containers"]
        out[name] = container
    return out
