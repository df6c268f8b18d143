"""docs/configuration.md is generated from the settings model and must match it."""

from __future__ import annotations

from pathlib import Path

from publisher.config import PlanConfig, Settings
from publisher.configdoc import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_committed_doc_is_what_the_model_renders() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), "docs/configuration.md is stale: run `make docs`"


def test_every_setting_has_a_row_with_its_env_name_and_a_description() -> None:
    text = render()
    for name, field in Settings.model_fields.items():
        assert f"`{name.upper()}`" in text
        assert field.description, f"{name} has no description"
    for name in PlanConfig.model_fields:
        assert f"| `{name}` |" in text


def test_defaults_and_secrets_are_rendered() -> None:
    text = render()
    assert "| `netstream.rate_limit` | `NETSTREAM_RATE_LIMIT` | number | `5.0` |" in text
    assert "| `netstream.window` | `NETSTREAM_WINDOW` | duration | `P7D` |" in text
    assert "| `netstream.client_secret` | `NETSTREAM_CLIENT_SECRET` | string, *secret* | — |" in text
    assert "`live`, `daily` (see below)" in text
    assert "| `netstream.format` | `NETSTREAM_FORMAT` | `json` \\| `xml` | `json` |" in text
