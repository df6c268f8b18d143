"""`registry import FILE` and `registry list` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from publisher.cli import main
from publisher.registry import shard_of

GOOD = "usage_points:\n  - mrid: up-1\n    timezone: Pacific/Auckland\n  - mrid: up-2\n"


def test_import_installs_a_valid_registry_and_list_shows_it_with_shards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    installed = tmp_path / "etc" / "registry.yaml"
    monkeypatch.setenv("PUBLISHER_REGISTRY_FILE", str(installed))
    monkeypatch.setenv("PUBLISHER_SHARD_COUNT", "3")
    monkeypatch.setenv("PUBLISHER_STATE_PARTITIONS", "3")
    source = tmp_path / "new.yaml"
    source.write_text(GOOD, encoding="utf-8")
    assert main(["registry", "import", str(source)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["imported"] == 2
    assert sum(summary["per_shard"].values()) == 2
    assert installed.read_text(encoding="utf-8") == GOOD

    assert main(["registry", "list"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["mrid"] for row in rows] == ["up-1", "up-2"]
    assert rows[0]["timezone"] == "Pacific/Auckland"
    assert [row["shard"] for row in rows] == [shard_of("up-1", 3), shard_of("up-2", 3)]


def test_an_invalid_file_is_refused_and_the_installed_registry_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    installed = tmp_path / "registry.yaml"
    installed.write_text(GOOD, encoding="utf-8")
    monkeypatch.setenv("PUBLISHER_REGISTRY_FILE", str(installed))
    bad = tmp_path / "bad.yaml"
    bad.write_text("usage_points:\n  - timezone: Mars/Base\n", encoding="utf-8")
    assert main(["registry", "import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert installed.read_text(encoding="utf-8") == GOOD


def test_list_without_a_registry_file_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PUBLISHER_REGISTRY_FILE", raising=False)
    assert main(["registry", "list"]) == 2
    assert "PUBLISHER_REGISTRY_FILE is not set" in capsys.readouterr().err
