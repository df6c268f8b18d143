"""The command line: help lists the commands, errors are one line with distinct exit codes, no tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from publisher.cli import main
from publisher.errors import (
    AuthError,
    BrokerStartError,
    ConfigError,
    KafkaFatalError,
    NetstreamRequestError,
    PublisherError,
    ShutdownRequested,
)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "publisher", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        timeout=60,
        check=False,
    )


def test_help_lists_the_implemented_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "check" in result.stdout


def test_version_names_the_build(capsys: pytest.CaptureFixture[str]) -> None:
    from publisher import __version__
    from publisher.buildinfo import build_kind

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"netstream-publisher {__version__} ({build_kind()})\n"
    assert build_kind() in {"compiled", "interpreted"}


def test_invalid_configuration_is_one_line_exit_2_without_traceback() -> None:
    result = run_cli("check", env={"NETSTREAM_TIMEZONE": "Nowhere/Land"})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "NETSTREAM_TIMEZONE" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_flag_is_one_line_exit_2() -> None:
    result = run_cli("check", "--no-such-flag")
    assert result.returncode == 2
    assert "unrecognized arguments: --no-such-flag" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--config", str(tmp_path / "nope.yaml")])
    assert code == 2
    assert "cannot read config file" in capsys.readouterr().err


def test_check_fails_cleanly_without_kafka(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check"])
    out = capsys.readouterr().out
    assert code == 1
    assert "ok   configuration" in out
    assert "FAIL kafka: KAFKA_BOOTSTRAP_SERVERS is not set" in out


def test_every_error_class_has_a_distinct_exit_code() -> None:
    classes = [ConfigError, AuthError, KafkaFatalError, NetstreamRequestError, BrokerStartError]
    codes = [cls.exit_code for cls in classes]
    assert len(set(codes)) == len(codes)
    assert 0 not in codes
    assert 1 not in codes
    assert PublisherError.exit_code == 1
    assert ShutdownRequested.exit_code == 0
