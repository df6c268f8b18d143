"""Typed configuration: YAML plus environment, environment wins, one-line errors, secrets masked."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from publisher.config import DEFAULT_READING_TYPE, load_settings
from publisher.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_match_the_design_contract() -> None:
    settings = load_settings(None, {})
    assert settings.publisher_topic == "netstream.meter-readings.v1"
    assert settings.publisher_dlq_topic == "netstream.meter-readings.dlq.v1"
    assert settings.publisher_state_topic == "netstream-publisher.state.v1"
    assert settings.netstream_format == "json"
    assert settings.netstream_timezone == "Pacific/Auckland"
    assert settings.netstream_scope == "https://graph.microsoft.com/.default"
    assert (settings.publisher_shard_index, settings.publisher_shard_count) == (0, 1)
    assert settings.publisher_http_port == 8080
    assert settings.publisher_state_horizon_days == 14
    live, daily = settings.publisher_plans
    assert (live.name, live.interval, live.lookback) == ("live", timedelta(minutes=30), timedelta(hours=6))
    assert (daily.name, daily.cron, daily.lookback) == ("daily", "0 3 * * *", timedelta(days=14))
    assert live.reading_types == daily.reading_types == (DEFAULT_READING_TYPE,)


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path, "netstream:\n  timezone: Australia/Sydney\n  format: xml\npublisher:\n  topic: a\n"
    )
    settings = load_settings(path, {"NETSTREAM_TIMEZONE": "Australia/Perth"})
    assert settings.netstream_timezone == "Australia/Perth"
    assert settings.netstream_format == "xml"
    assert settings.publisher_topic == "a"


def test_environment_names_are_case_insensitive_and_empty_values_ignored() -> None:
    settings = load_settings(None, {"publisher_topic": "lower", "PUBLISHER_SHARD_COUNT": ""})
    assert settings.publisher_topic == "lower"
    assert settings.publisher_shard_count == 1


def test_token_url_is_built_from_the_tenant() -> None:
    settings = load_settings(None, {"NETSTREAM_TENANT_ID": "t-1"})
    assert settings.token_url() == "https://login.microsoftonline.com/t-1/oauth2/v2.0/token"
    explicit = load_settings(
        None, {"NETSTREAM_TENANT_ID": "t-1", "NETSTREAM_TOKEN_URL": "http://127.0.0.1:1/tok"}
    )
    assert explicit.token_url() == "http://127.0.0.1:1/tok"


def test_kafka_passthrough_variables_become_librdkafka_settings(tmp_path: Path) -> None:
    path = write(tmp_path, "kafka:\n  bootstrap_servers: b:9092\n  config:\n    client.id: from-file\n")
    env = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512"}
    settings = load_settings(path, env)
    assert settings.librdkafka() == {
        "bootstrap.servers": "b:9092",
        "client.id": "from-file",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
    }


def test_plans_from_yaml_accept_iso_durations_and_seconds(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "publisher:\n  plans:\n"
        "    - {name: live, interval: 1800, lookback: PT6H}\n"
        "    - {name: nightly, cron: '0 3 * * *', lookback: P14D, reading_types: [a.b]}\n",
    )
    plans = load_settings(path, {}).publisher_plans
    assert [(p.name, p.interval, p.cron, p.lookback) for p in plans] == [
        ("live", timedelta(minutes=30), None, timedelta(hours=6)),
        ("nightly", None, "0 3 * * *", timedelta(days=14)),
    ]
    assert plans[1].reading_types == ("a.b",)


@pytest.mark.parametrize(
    ("env", "text", "expected"),
    [
        (
            {"NETSTREAM_TIMEZONE": "Mars/Olympus"},
            "",
            "netstream.timezone (NETSTREAM_TIMEZONE): 'Mars/Olympus'",
        ),
        ({"NETSTREAM_RATE_LIMIT": "0"}, "", "netstream.rate_limit (NETSTREAM_RATE_LIMIT)"),
        ({"NETSTREAM_FORMAT": "csv"}, "", "netstream.format (NETSTREAM_FORMAT)"),
        ({"NETSTREAM_BASE_URL": "ftp://x"}, "", "is not an http(s) URL"),
        (
            {"PUBLISHER_SHARD_INDEX": "2", "PUBLISHER_SHARD_COUNT": "2"},
            "",
            "must be below publisher_shard_count",
        ),
        ({"PUBLISHER_SHARD_COUNT": "5"}, "", "must be a multiple of publisher_shard_count"),
        ({}, "netstream:\n  timezon: UTC\n", "netstream.timezon (NETSTREAM_TIMEZON): unknown key"),
        ({}, "netstrem:\n  timezone: UTC\n", "unknown section 'netstrem'"),
        ({}, "netstream: [1, 2]\n", "must be a mapping"),
        ({}, "netstream:\n  timezone: [\n", "is not valid YAML at line"),
        (
            {},
            "publisher:\n  plans: [{name: x, lookback: PT1H}]\n",
            "needs exactly one of 'interval' or 'cron'",
        ),
    ],
)
def test_invalid_values_give_one_line_naming_the_key(
    tmp_path: Path, env: dict[str, str], text: str, expected: str
) -> None:
    path = write(tmp_path, text) if text else None
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    assert caught.value.exit_code == 2


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "absent.yaml", {})


def test_secrets_are_masked_in_repr_masked_view_and_errors() -> None:
    env = {
        "NETSTREAM_CLIENT_SECRET": "s3cr3t-value",
        "NETSTREAM_TOKEN": "t0k3n-value",
        "KAFKA_SASL_PASSWORD": "pa55-value",
    }
    settings = load_settings(None, env)
    dumped = repr(settings) + str(settings.masked())
    for secret in env.values():
        assert secret not in dumped
    assert settings.masked()["kafka_config"]["sasl.password"] == "**********"
    assert settings.netstream_client_secret is not None
    assert settings.netstream_client_secret.get_secret_value() == "s3cr3t-value"
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {**env, "NETSTREAM_CLIENT_SECRET": "x" * 5, "PUBLISHER_HTTP_PORT": "not-a-port"})
    assert "x" * 5 not in str(caught.value)


def test_require_netstream_and_kafka_explain_the_fix() -> None:
    settings = load_settings(None, {})
    with pytest.raises(ConfigError, match="NETSTREAM_BASE_URL is not set"):
        settings.require_netstream()
    with pytest.raises(ConfigError, match="NETSTREAM_TOKEN, or NETSTREAM_CLIENT_ID"):
        load_settings(None, {"NETSTREAM_BASE_URL": "https://h"}).require_netstream()
    load_settings(None, {"NETSTREAM_BASE_URL": "https://h", "NETSTREAM_TOKEN": "t"}).require_netstream()
    with pytest.raises(ConfigError, match="KAFKA_BOOTSTRAP_SERVERS is not set"):
        settings.require_kafka()
