"""Scenario 9, secrets: canary values in every secret input never appear in output, errors or metrics.

Every secret input carries a canary: ``NETSTREAM_TOKEN``, ``NETSTREAM_CLIENT_SECRET``, the Kafka SASL
password from the environment (``KAFKA_SASL_PASSWORD``) and from the config file (``kafka.config``), and a
``ssl.key.password``. Each command runs as a real process with debug logging against the simulator and
the broker, on its success path and on failing paths (a token or client secret the simulator refuses, a
configuration that does not validate); stdout, stderr (logs and the one-line error) and ``/metrics`` are
searched for every canary. The TLS defaults (HTTPS verification, librdkafka certificate verification and
endpoint identification) are checked on the objects the service builds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from structlog.testing import LogCapture

from publisher.app import build_client, kafka_config
from publisher.config import load_settings
from publisher.embedded import free_port
from publisher.simulator.clock import SimClock
from publisher.simulator.server import SimulatorServer
from support.pipeline import FORWARD, small_config, wiring, write_registry
from support.service import wait_for

TOKEN = "CANARY-token-6b1d2f"
CLIENT_SECRET = "CANARY-client-secret-94c3"
SASL_ENV = "CANARY-sasl-env-0f7e"
SASL_FILE = "CANARY-sasl-file-5a2b"
KEY_PASSWORD = "CANARY-key-password-c81d"
CANARIES = (TOKEN, CLIENT_SECRET, SASL_ENV, SASL_FILE, KEY_PASSWORD)
NOW = datetime(2025, 4, 8, 1, 0, tzinfo=UTC)


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    config = replace(small_config(2), static_token=TOKEN, client_secret=CLIENT_SECRET)
    server = SimulatorServer(config, clock=SimClock(NOW))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def env(sim: SimulatorServer, kafka_bootstrap: str, tmp_path: Path) -> dict[str, str]:
    values = wiring(sim, kafka_bootstrap, write_registry(tmp_path / "r.yaml", sim.config)).env
    return {
        **values,
        "NETSTREAM_TOKEN": TOKEN,
        "KAFKA_SASL_PASSWORD": SASL_ENV,
        "PUBLISHER_LOG_LEVEL": "debug",
        "PUBLISHER_HTTP_PORT": str(free_port()),
        "NETSTREAM_MAX_RETRIES": "0",
    }


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f'kafka:\n  config:\n    sasl.password: "{SASL_FILE}"\n    ssl.key.password: "{KEY_PASSWORD}"\n',
        encoding="utf-8",
    )
    return path


def cli(
    env: dict[str, str], config: Path | None, *args: str, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "publisher", *args, *(["--config", str(config)] if config else [])]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("NETSTREAM_", "KAFKA_", "PUBLISHER_"))}
    return subprocess.run(
        argv, env={**clean, **env}, capture_output=True, text=True, timeout=timeout, check=False
    )


def assert_no_canary(*texts: str) -> None:
    for text in texts:
        for canary in CANARIES:
            assert canary not in text, f"secret {canary} leaked:\n{text[-3000:]}"
        assert "CANARY-" not in text


WINDOW = ("--start", "2025-04-07T12:00:00Z", "--end", "2025-04-07T18:00:00Z")


@pytest.mark.timeout(300)
def test_no_command_prints_a_secret_on_its_success_path(env: dict[str, str], config_file: Path) -> None:
    runs = {
        "check": cli(env, config_file, "check"),
        "once": cli(env, config_file, "once"),
        "fetch": cli(
            env, config_file, "fetch", "--usage-point", "up-000", "--reading-type", FORWARD, *WINDOW
        ),
        "backfill": cli(env, config_file, "backfill", *WINDOW, "--no-progress"),
        "replay": cli(env, config_file, "replay", "--from", "2025-04-01T00:00:00Z", "--output", "jsonl"),
    }
    for name, done in runs.items():
        assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"
        assert_no_canary(done.stdout, done.stderr)
    assert '"level": "debug"' in runs["once"].stderr  # debug logging was really on
    assert runs["fetch"].stdout.count("\n") > 0
    assert runs["replay"].stdout.count("\n") > 0


@pytest.mark.timeout(300)
def test_run_with_debug_logging_leaks_no_secret_in_logs_or_metrics(
    env: dict[str, str], config_file: Path, tmp_path: Path
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("NETSTREAM_", "KAFKA_", "PUBLISHER_"))}
    log = tmp_path / "run.log"
    with log.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "publisher", "run", "--config", str(config_file)],
            env={**clean, **env},
            stdout=err,
            stderr=err,
        )
    try:
        port = env["PUBLISHER_HTTP_PORT"]
        wait_for(f"http://127.0.0.1:{port}/readyz", 200)
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    assert code == 0
    assert "netstream_publisher_" in metrics
    assert_no_canary(metrics, log.read_text(encoding="utf-8", errors="replace"))


def test_simulate_does_not_echo_its_token(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("NETSTREAM_", "KAFKA_", "PUBLISHER_"))}
    out = tmp_path / "sim.out"
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "publisher", "simulate", "--port", "0", "--token", TOKEN],
            env={**clean, "PUBLISHER_LOG_LEVEL": "debug"},
            stdout=sink,
            stderr=sink,
        )
    try:
        deadline = time.monotonic() + 30
        while "press Ctrl-C" not in out.read_text(encoding="utf-8") and process.poll() is None:
            assert time.monotonic() < deadline, "the simulator did not start"
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    text = out.read_text(encoding="utf-8")
    assert "NETSTREAM_BASE_URL=" in text
    assert_no_canary(text)


@pytest.mark.timeout(300)
def test_failing_paths_name_the_problem_but_never_the_secret(
    env: dict[str, str], config_file: Path, sim: SimulatorServer, tmp_path: Path
) -> None:
    # a static token the simulator refuses: 401
    wrong_token = {**env, "NETSTREAM_TOKEN": TOKEN + "-wrong"}
    # OAuth2 with a client secret the token endpoint refuses
    oauth = {k: v for k, v in env.items() if k != "NETSTREAM_TOKEN"}
    wrong_secret = {
        **oauth,
        "NETSTREAM_CLIENT_ID": sim.config.client_id,
        "NETSTREAM_CLIENT_SECRET": CLIENT_SECRET + "-wrong",
        "NETSTREAM_TOKEN_URL": sim.token_url,
    }
    # configurations that do not validate, with the secrets in them
    bad_json = {**env, "KAFKA_CONFIG": '{"sasl.password": "' + SASL_ENV}
    bad_shards = {**env, "PUBLISHER_SHARD_COUNT": "0"}
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text(f"netstream:\n  token: [{TOKEN}]\n  client_secret: {{x: {CLIENT_SECRET}}}\n")
    failing = {
        "once, refused token": (cli(wrong_token, config_file, "once"), "NETSTREAM_TOKEN"),
        "check, refused token": (cli(wrong_token, config_file, "check"), "NETSTREAM_TOKEN"),
        "fetch, refused secret": (
            cli(
                wrong_secret,
                config_file,
                "fetch",
                "--usage-point",
                "up-000",
                "--reading-type",
                FORWARD,
                *WINDOW,
            ),
            "NETSTREAM_CLIENT_SECRET",
        ),
        "check, refused secret": (cli(wrong_secret, config_file, "check"), "NETSTREAM_CLIENT_SECRET"),
        "once, KAFKA_CONFIG not JSON": (cli(bad_json, config_file, "once"), "KAFKA_CONFIG"),
        "once, invalid setting": (cli(bad_shards, config_file, "once"), "PUBLISHER_SHARD_COUNT"),
        "check, secrets of the wrong type": (cli(env, bad_file, "check"), "NETSTREAM_CLIENT_SECRET"),
    }
    for name, (done, named) in failing.items():
        assert done.returncode != 0, name
        assert named in done.stdout + done.stderr, f"{name}: {done.stdout[-800:]} {done.stderr[-800:]}"
        assert "Traceback" not in done.stderr, name
        assert_no_canary(done.stdout, done.stderr)
    # with the right secret the same OAuth2 path succeeds, and prints no secret either
    right = cli({**wrong_secret, "NETSTREAM_CLIENT_SECRET": CLIENT_SECRET}, config_file, "once")
    assert right.returncode == 0, right.stderr[-2000:]
    assert_no_canary(right.stdout, right.stderr)


# ------------------------------------------------------------------------------------------ TLS defaults


def test_https_verification_is_on_by_default() -> None:
    settings = load_settings(
        None, {"NETSTREAM_BASE_URL": "https://netstream.invalid", "NETSTREAM_TOKEN": "t"}
    )
    client = build_client(settings)
    try:
        session = client._session
        assert session.verify is True
        response = session.merge_environment_settings("https://netstream.invalid/x", {}, None, None, None)
        assert response["verify"] not in (False, None)  # no environment variable turns it off either
    finally:
        client.close()


def test_kafka_tls_verifies_certificates_and_host_names_by_default() -> None:
    settings = load_settings(
        None, {"KAFKA_BOOTSTRAP_SERVERS": "broker:9093", "KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}
    )
    config = kafka_config(settings)
    assert config["security.protocol"] == "SASL_SSL"
    assert config["enable.ssl.certificate.verification"] == "true"
    assert config["ssl.endpoint.identification.algorithm"] == "https"


def test_an_explicit_kafka_tls_opt_out_is_kept_but_logged(captured_logs: LogCapture) -> None:
    settings = load_settings(
        None,
        {"KAFKA_BOOTSTRAP_SERVERS": "broker:9093", "KAFKA_ENABLE_SSL_CERTIFICATE_VERIFICATION": "false"},
    )
    assert kafka_config(settings)["enable.ssl.certificate.verification"] == "false"
    assert any(event["event"] == "kafka_tls_verification_disabled" for event in captured_logs.entries)
