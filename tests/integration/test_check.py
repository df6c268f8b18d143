"""``netstream-publisher check`` against the simulator and the broker, each component broken in turn.

Also the readiness of the health server against a broker of the test's own that it pauses (SIGSTOP).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from prometheus_client import CollectorRegistry

from publisher.app import build_service
from publisher.cli import main
from publisher.embedded import EmbeddedBroker
from publisher.health import HealthServer, Readiness, kafka_metadata_probe
from publisher.metrics import Metrics, build_metrics
from publisher.pipeline.runner import group_targets
from publisher.simulator.clock import SimClock
from publisher.simulator.faults import FaultRule
from publisher.simulator.server import SimulatorServer
from support.pipeline import read_events, small_config, wiring, write_registry

NOW = datetime(2025, 4, 8, 3, 0, tzinfo=UTC)
TOKEN = "static-TOKEN-7f3a9c1e5b"
CLIENT_SECRET = "client-SECRET-2d8e4a6b0f"
COMPONENTS = [
    "configuration",
    "registry",
    "netstream",
    "kafka",
    "kafka topics",
    "kafka transactions",
    "schemas",
]


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    config = replace(small_config(3), static_token=TOKEN, client_secret=CLIENT_SECRET)
    server = SimulatorServer(config, clock=SimClock(NOW))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def env(
    sim: SimulatorServer, kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    values = wiring(sim, kafka_bootstrap, write_registry(tmp_path / "registry.yaml", sim.config)).env
    values["NETSTREAM_TOKEN"] = TOKEN
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@dataclass(frozen=True)
class Outcome:
    code: int
    lines: dict[str, str]  # component -> "ok" / "FAIL" / "skip" line
    out: str
    err: str

    def status(self, component: str) -> str:
        return self.lines[component][:4].strip()


def run_check(capsys: pytest.CaptureFixture[str]) -> Outcome:
    code = main(["check"])
    captured = capsys.readouterr()
    lines: dict[str, str] = {}
    for line in captured.out.splitlines():
        component = line[5:].partition(":")[0]
        assert component not in lines, f"one line per component: {line}"
        lines[component] = line
    for secret in (TOKEN, CLIENT_SECRET):
        assert secret not in captured.out
        assert secret not in captured.err
    return Outcome(code, lines, captured.out, captured.err)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def only_failing(outcome: Outcome) -> list[str]:
    return [name for name in COMPONENTS if outcome.status(name) != "ok"]


# ------------------------------------------------------------------------------------------------ all ok


def test_everything_ok_exits_0_with_one_ok_line_per_component(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = run_check(capsys)

    assert outcome.code == 0, outcome.out
    assert list(outcome.lines) == COMPONENTS
    assert all(line.startswith(f"ok   {name}: ") for name, line in outcome.lines.items())
    assert "3 target(s): 3 usage point(s); 3 on shard 0 of 1" in outcome.lines["registry"]
    assert "GetMeterReadings for usage point up-000 over the last hour" in outcome.lines["netstream"]
    assert (
        f"{env['PUBLISHER_STATE_TOPIC']} missing, will be created (4 partitions)"
        in outcome.lines["kafka topics"]
    )
    assert (
        f"transactional.id {env['PUBLISHER_TRANSACTIONAL_ID_PREFIX']}-check-"
        in outcome.lines["kafka transactions"]
    )
    assert "MeterReading" in outcome.lines["schemas"]
    assert "compatible with 1 released version(s)" in outcome.lines["schemas"]
    assert "static token" in outcome.lines["configuration"]


def test_existing_topics_with_the_right_settings_pass(
    env: dict[str, str],
    make_topic: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    readings = make_topic("readings", partitions=3)
    state = make_topic("state", partitions=4, compacted=True)
    monkeypatch.setenv("PUBLISHER_TOPIC", readings)
    monkeypatch.setenv("PUBLISHER_STATE_TOPIC", state)

    outcome = run_check(capsys)

    assert outcome.code == 0, outcome.out
    topics = outcome.lines["kafka topics"]
    assert f"{readings} (3 partitions, cleanup.policy=delete)" in topics
    assert f"{state} (4 partitions, cleanup.policy=compact)" in topics


# ------------------------------------------------------------------------------------------------ broken


def test_a_bad_configuration_value_is_one_line_and_exit_2(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PUBLISHER_SHARD_COUNT", "zero")

    outcome = run_check(capsys)

    assert outcome.code == 2
    assert outcome.out == ""
    assert outcome.err.count("\n") == 1
    assert "PUBLISHER_SHARD_COUNT" in outcome.err


def test_netstream_unreachable_fails_netstream_only(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = closed_port()
    monkeypatch.setenv("NETSTREAM_BASE_URL", f"http://127.0.0.1:{port}")

    outcome = run_check(capsys)

    assert outcome.code == 1
    assert only_failing(outcome) == ["netstream"]
    line = outcome.lines["netstream"]
    assert line.startswith(f"FAIL netstream: Netstream at http://127.0.0.1:{port} did not answer")
    assert "check NETSTREAM_BASE_URL" in line


@pytest.mark.parametrize(
    ("status", "named"),
    [(401, "Netstream rejected NETSTREAM_TOKEN (HTTP 401)"), (403, "HTTP 403")],
    ids=["401", "403"],
)
def test_netstream_refusing_the_token_names_the_credentials(
    sim: SimulatorServer,
    env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    status: int,
    named: str,
) -> None:
    sim.faults.add(FaultRule(kind="status", status=status, times=None))

    outcome = run_check(capsys)

    assert outcome.code == 1
    assert only_failing(outcome) == ["netstream"]
    line = outcome.lines["netstream"]
    assert named in line
    assert "credentials: NETSTREAM_TOKEN" in line


def test_refused_client_credentials_name_the_client_and_hide_the_secret(
    sim: SimulatorServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("NETSTREAM_TOKEN")
    monkeypatch.setenv("NETSTREAM_CLIENT_ID", sim.config.client_id)
    monkeypatch.setenv("NETSTREAM_CLIENT_SECRET", CLIENT_SECRET + "-wrong")
    monkeypatch.setenv("NETSTREAM_TOKEN_URL", sim.token_url)

    outcome = run_check(capsys)

    assert outcome.code == 1
    assert only_failing(outcome) == ["netstream"]
    line = outcome.lines["netstream"]
    assert "token endpoint refused the client credentials" in line
    assert f"NETSTREAM_CLIENT_ID {sim.config.client_id}" in line
    assert "wrong" not in outcome.out + outcome.err


def test_an_unreachable_token_endpoint_fails_netstream(
    sim: SimulatorServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = closed_port()
    monkeypatch.delenv("NETSTREAM_TOKEN")
    monkeypatch.setenv("NETSTREAM_CLIENT_ID", sim.config.client_id)
    monkeypatch.setenv("NETSTREAM_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("NETSTREAM_TOKEN_URL", f"http://127.0.0.1:{port}/tenant/oauth2/v2.0/token")

    outcome = run_check(capsys)

    assert only_failing(outcome) == ["netstream"]
    assert outcome.lines["netstream"] == (
        f"FAIL netstream: could not get a token (token endpoint http://127.0.0.1:{port}/tenant/oauth2/v2.0/"
        "token is unreachable (ConnectionError)); check NETSTREAM_TOKEN_URL or NETSTREAM_TENANT_ID"
    )


def test_good_client_credentials_pass(
    sim: SimulatorServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("NETSTREAM_TOKEN")
    monkeypatch.setenv("NETSTREAM_CLIENT_ID", sim.config.client_id)
    monkeypatch.setenv("NETSTREAM_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("NETSTREAM_TOKEN_URL", sim.token_url)

    outcome = run_check(capsys)

    assert outcome.code == 0, outcome.out
    assert "OAuth2 client credentials" in outcome.lines["configuration"]
    assert outcome.lines["netstream"].startswith("ok   netstream: ")


def test_kafka_unreachable_fails_kafka_and_skips_what_depends_on_it(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = closed_port()
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{port}")

    outcome = run_check(capsys)

    assert outcome.code == 1
    assert only_failing(outcome) == ["kafka", "kafka topics", "kafka transactions"]
    assert outcome.lines["kafka"].startswith(
        f"FAIL kafka: Kafka at 127.0.0.1:{port} did not answer a metadata request"
    )
    assert "check KAFKA_BOOTSTRAP_SERVERS" in outcome.lines["kafka"]
    assert outcome.lines["kafka topics"] == "skip kafka topics: not checked because Kafka did not answer"
    assert outcome.status("kafka transactions") == "skip"


def test_a_state_topic_that_is_not_compacted_fails_kafka_topics(
    env: dict[str, str],
    make_topic: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = make_topic("state", partitions=4, compacted=False)
    monkeypatch.setenv("PUBLISHER_STATE_TOPIC", state)

    outcome = run_check(capsys)

    assert outcome.code == 1
    assert only_failing(outcome) == ["kafka topics"]
    assert outcome.lines["kafka topics"] == (
        f"FAIL kafka topics: state topic {state} has cleanup.policy=delete but must be compact alone "
        "(it holds the dedup state); alter the topic or choose another PUBLISHER_STATE_TOPIC"
    )


def test_a_state_topic_with_other_partitions_and_a_compacted_readings_topic_fail_in_one_line(
    env: dict[str, str],
    make_topic: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = make_topic("state", partitions=2, compacted=True)
    readings = make_topic("readings", partitions=3, compacted=True)
    monkeypatch.setenv("PUBLISHER_STATE_TOPIC", state)
    monkeypatch.setenv("PUBLISHER_TOPIC", readings)

    outcome = run_check(capsys)

    assert only_failing(outcome) == ["kafka topics"]
    line = outcome.lines["kafka topics"]
    assert f"topic {readings} has cleanup.policy=compact" in line
    assert f"state topic {state} has 2 partitions but PUBLISHER_STATE_PARTITIONS is 4" in line
    assert "set PUBLISHER_STATE_PARTITIONS=2" in line


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read registry"),
        ("usage_points: [\n", "is not valid YAML"),
        ("usage_points:\n  - mrid: up-1\n    colour: blue\n", "unknown key(s) ['colour']"),
        ("usage_points: []\n", "lists no targets"),
    ],
    ids=["missing", "not-yaml", "unknown-key", "empty"],
)
def test_a_missing_or_invalid_registry_fails_registry(
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: str | None,
    problem: str,
) -> None:
    path = tmp_path / "broken.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    monkeypatch.setenv("PUBLISHER_REGISTRY_FILE", str(path))

    outcome = run_check(capsys)

    assert outcome.code == 1
    assert only_failing(outcome) == ["registry"]
    assert outcome.lines["registry"].startswith("FAIL registry: ")
    assert problem in outcome.lines["registry"]
    assert "a placeholder usage point" in outcome.lines["netstream"]


def test_no_registry_configured_fails_registry_with_the_fix(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PUBLISHER_REGISTRY_FILE")

    outcome = run_check(capsys)

    assert only_failing(outcome) == ["registry"]
    assert outcome.lines["registry"] == (
        "FAIL registry: PUBLISHER_REGISTRY_FILE is not set; "
        "point it at the usage point registry (YAML or CSV)"
    )


# ------------------------------------------------------------------------------------------------ readiness


def wait_for_status(url: str, status: int, timeout: float = 60.0) -> requests.Response:
    deadline = time.monotonic() + timeout
    while True:
        reply = requests.get(url, timeout=5)
        if reply.status_code == status:
            return reply
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} stayed {reply.status_code}: {reply.text}")
        time.sleep(0.05)


def test_readiness_follows_a_paused_broker() -> None:
    with EmbeddedBroker() as broker:
        probe = kafka_metadata_probe({"bootstrap.servers": broker.bootstrap_servers}, timeout=1.0)
        readiness = Readiness(probe, probe_interval=0.2)
        registry = CollectorRegistry()
        Metrics(registry, dlq_topic="dlq", topics=["readings"])
        with HealthServer(readiness, registry, host="127.0.0.1", port=0) as server:
            ready = server.url + "/readyz"
            readiness.restoring()
            restoring = requests.get(ready, timeout=5)
            assert restoring.status_code == 503
            assert restoring.json()["failing"]["state"] == "state is being restored from the state topic"

            readiness.restored()
            assert wait_for_status(ready, 200).json() == {"ready": True}

            broker.pause()
            try:
                down = wait_for_status(ready, 503)
                assert down.json() == {
                    "ready": False,
                    "failing": {"broker": "no answer to a metadata request"},
                }
                assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
            finally:
                broker.resume()

            assert wait_for_status(ready, 200).json() == {"ready": True}
            metrics = requests.get(server.url + "/metrics", timeout=5).text
            assert "netstream_publisher_events_published_total" in metrics


# ------------------------------------------------------------------------------------------------ metrics


def test_metrics_observe_a_real_cycle(sim: SimulatorServer, kafka_bootstrap: str, tmp_path: Path) -> None:
    settings = wiring(sim, kafka_bootstrap, write_registry(tmp_path / "r.yaml", sim.config)).settings(
        NETSTREAM_TOKEN=TOKEN
    )
    registry = CollectorRegistry()
    metrics = build_metrics(settings, registry, clock=sim.clock.now)
    service = build_service(settings, clock=sim.clock.now, client_observer=metrics, pipeline_observer=metrics)
    plan = settings.publisher_plans[0]
    try:
        started = time.monotonic()
        service.start()
        metrics.state_restored(
            time.monotonic() - started, service.store.series_count(), service.store.day_count()
        )
        started = time.monotonic()
        stats = service.runner.cycle(
            plan.name, group_targets(service.registry, plan.reading_types), plan.lookback
        )
        metrics.cycle_completed(plan.name, stats, time.monotonic() - started, ok=stats.failed_windows == 0)
    finally:
        service.close()

    events = read_events(kafka_bootstrap, settings.publisher_topic)
    topic = settings.publisher_topic
    assert events
    assert registry.get_sample_value("netstream_publisher_events_published_total", {"topic": topic}) == len(
        events
    )
    assert registry.get_sample_value("netstream_publisher_transactions_total", {"outcome": "committed"}) == (
        stats.windows
    )
    assert registry.get_sample_value("netstream_publisher_api_requests_total", {"status": "200"}) == len(
        [r for r in sim.requests if r.path.startswith("/api/")]
    )
    assert (
        registry.get_sample_value(
            "netstream_publisher_cycles_total", {"plan": plan.name, "outcome": "succeeded"}
        )
        == 1.0
    )
    assert (
        registry.get_sample_value(
            "netstream_publisher_last_cycle_success_timestamp_seconds", {"plan": plan.name}
        )
        == NOW.timestamp()
    )
    assert registry.get_sample_value("netstream_publisher_state_series") == 0.0  # a fresh state topic
