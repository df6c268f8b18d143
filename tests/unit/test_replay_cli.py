"""``replay`` on the command line: bad flags end with one line and exit code 2, before Kafka is touched."""

from __future__ import annotations

import pytest

from publisher.cli import main


@pytest.fixture(autouse=True)
def _no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    # nothing answers here: every case must fail on its flags before any Kafka client is built
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")
    monkeypatch.delenv("SCHEMA_REGISTRY_URL", raising=False)
    monkeypatch.setenv("PUBLISHER_LOG_FORMAT", "json")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--from", "2025-03-01", "--to-topic", "replays", "--output", "jsonl"],
            "give exactly one of --to-topic NAME or --output jsonl",
        ),
        (["--from", "2025-03-01"], "give exactly one of --to-topic NAME or --output jsonl"),
        (
            ["--from", "2025-03-02", "--to", "2025-03-01", "--output", "jsonl"],
            "--from 2025-03-02 must be before --to 2025-03-01",
        ),
        (["--from", "yesterday", "--output", "jsonl"], "--from 'yesterday' is not a time"),
        (
            ["--from", "2025-03-01", "--to-topic", "netstream.meter-readings.v1"],
            "is a topic the publisher itself writes",
        ),
    ],
)
def test_bad_flags_end_with_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code = main(["replay", *argv])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.startswith("netstream-publisher: error: ")
    assert captured.err.count("\n") == 1
    assert message in captured.err


@pytest.mark.parametrize(
    "argv",
    [["--to-topic", "replays", "--output", "jsonl"], ["--from", "2025-03-01", "--output", "csv"]],
    ids=["missing-from", "unknown-output"],
)
def test_flags_argparse_rejects_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["replay", *argv])
    err = capsys.readouterr().err
    assert caught.value.code == 2
    assert err.count("\n") == 1
    assert err.startswith("netstream-publisher replay: error: ")
