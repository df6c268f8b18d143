"""checkov (framework kubernetes) finds nothing on the rendered chart beyond the reviewed skip list.

checkov lives in the separate tools virtualenv (``make tools`` creates ``.tools/``) because its pinned
dependencies would constrain the service's own; ``CHECKOV`` may name another checkov executable.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

Manifest = dict[str, Any]


def checkov_executable(repo_root: Path) -> Path:
    """``$CHECKOV`` or the tools virtualenv's checkov; fail (never skip) when it is missing."""
    configured = os.environ.get("CHECKOV")
    path = Path(configured) if configured else repo_root / ".tools" / "bin" / "checkov"
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"checkov not found at {path}: run `make tools` (or set CHECKOV to a checkov executable)")
    return path


@pytest.fixture(scope="module")
def checkov_report(
    repo_root: Path,
    tmp_path_factory: pytest.TempPathFactory,
    render_templates: Callable[[Mapping[str, Any]], dict[str, str]],
    ci_values: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """One checkov run over every ci/ render, each written to its own file."""
    executable = checkov_executable(repo_root)
    directory = tmp_path_factory.mktemp("rendered")
    for name, values in ci_values.items():
        templates = render_templates(values)
        text = "\n---\n".join(templates[path] for path in sorted(templates) if path.endswith(".yaml"))
        (directory / f"{name}.yaml").write_text(text, encoding="utf-8")
    result = subprocess.run(
        [
            str(executable),
            "--framework",
            "kubernetes",
            "--directory",
            str(directory),
            "--output",
            "json",
            "--skip-download",  # offline: no guidelines or policies fetched
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=directory,
        timeout=100,
    )
    assert result.returncode in (0, 1), f"checkov failed to run: {result.stderr[-2000:]}"
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    (kubernetes,) = [r for r in reports if r["check_type"] == "kubernetes"]
    assert isinstance(kubernetes, dict)
    return kubernetes


@pytest.fixture(scope="module")
def skips(repo_root: Path) -> dict[str, str]:
    """Reviewed skips: check id → reason."""
    data = yaml.safe_load((repo_root / "tests" / "helm" / "checkov-skips.yaml").read_text(encoding="utf-8"))
    return {entry["id"]: entry["reason"] for entry in data["skips"]}


def test_checkov_scanned_every_render(
    checkov_report: dict[str, Any], ci_values: dict[str, dict[str, Any]]
) -> None:
    summary = checkov_report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 100
    files = {Path(c["file_path"]).stem for c in checkov_report["results"]["passed_checks"]}
    assert files == set(ci_values)


def test_no_finding_outside_the_reviewed_skips(checkov_report: dict[str, Any], skips: dict[str, str]) -> None:
    unexpected = sorted(
        f"{c['check_id']} {c['check_name']} ({c['resource']} in {Path(c['file_path']).name})"
        for c in checkov_report["results"]["failed_checks"]
        if c["check_id"] not in skips
    )
    assert unexpected == []


def test_every_skip_is_still_needed_and_explained(
    checkov_report: dict[str, Any], skips: dict[str, str]
) -> None:
    failing = {c["check_id"] for c in checkov_report["results"]["failed_checks"]}
    assert sorted(set(skips) - failing) == []
    assert all(len(reason.split()) >= 10 for reason in skips.values())
