"""values.schema.json and the chart's own checks refuse every case of bad-values.yaml, in Helm itself."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

Render = Callable[[Mapping[str, Any]], dict[str, str]]

CASES = yaml.safe_load((Path(__file__).parent / "bad-values.yaml").read_text(encoding="utf-8"))["cases"]
SCHEMA_CASES = [case for case in CASES if case["by"] == "schema"]
ERRORS = {"schema": helm_python.HelmValuesError, "template": helm_python.HelmRenderError}


def merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` deep-merged over ``base``; a null removes the key, as in Helm."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def test_the_table_covers_both_kinds_of_refusal() -> None:
    assert {case["by"] for case in CASES} == set(ERRORS)
    assert len({case["id"] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_render_refuses_bad_values(
    case: dict[str, Any], render_templates: Render, ci_values: dict[str, dict[str, Any]]
) -> None:
    values = merged(ci_values["default"], case["values"])
    with pytest.raises(ERRORS[case["by"]]) as caught:
        render_templates(values)
    message = str(caught.value)
    assert case["error"] in message
    if case["by"] == "template":
        assert len(message.strip().splitlines()) == 1  # one line naming the value and the fix


# helm lint renders in lint mode, where a template's `fail` is only logged, so lint can report the schema
# cases alone; `helm install`, `upgrade` and `template` refuse the template cases too (test above).
@pytest.mark.parametrize("case", SCHEMA_CASES, ids=[case["id"] for case in SCHEMA_CASES])
def test_lint_reports_schema_violations(
    case: dict[str, Any], chart_dir: Path, ci_values: dict[str, dict[str, Any]]
) -> None:
    report = helm_python.lint(chart_dir, merged(ci_values["default"], case["values"]), strict=True)
    assert any(case["error"] in error for error in report["errors"])


def test_the_default_values_themselves_render(
    render_templates: Render, ci_values: dict[str, dict[str, Any]]
) -> None:
    assert merged(ci_values["default"], {}) == ci_values["default"]
    assert any(path.endswith("statefulset.yaml") for path in render_templates(ci_values["default"]))
