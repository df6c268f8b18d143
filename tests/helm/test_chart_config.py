"""The rendered configuration is what the service itself accepts: config.yaml, registry.yaml and env.

The ConfigMap's config.yaml, the container's environment (literal values, and Secret references resolved
from the rendered Secret) and the registry file are loaded with the service's own loaders.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from publisher.config import Settings, load_settings
from publisher.netstream.model import WireFormat
from publisher.registry import parse_registry

Manifest = dict[str, Any]
TLS_DIR = "/etc/kafka-tls"


def config_map(manifests: list[Manifest]) -> dict[str, str]:
    """Data of the release's configuration ConfigMap."""
    (found,) = [
        m for m in manifests if m["kind"] == "ConfigMap" and m["metadata"]["name"] == "np-netstream-publisher"
    ]
    data: dict[str, str] = found["data"]
    return data


def pod_environment(manifests: list[Manifest], container: Manifest, shard: int) -> dict[str, str]:
    """The environment the container of pod ``shard`` sees (existing Secrets are not part of the render)."""
    secrets = {
        m["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in m["data"].items()}
        for m in manifests
        if m["kind"] == "Secret"
    }
    environ: dict[str, str] = {}
    for entry in container["env"]:
        if "value" in entry:
            environ[entry["name"]] = entry["value"]
            continue
        source = entry["valueFrom"]
        if "fieldRef" in source:
            assert source["fieldRef"]["fieldPath"] == "metadata.labels['apps.kubernetes.io/pod-index']"
            environ[entry["name"]] = str(shard)
        else:
            ref = source["secretKeyRef"]
            value = secrets.get(ref["name"], {}).get(ref["key"])
            assert value is not None or ref.get("optional") or ref["name"] not in secrets
            if value is not None:
                environ[entry["name"]] = value
    return environ


def load_as_pod(
    tmp_path: Path, manifests: list[Manifest], container: Manifest, shard: int = 0
) -> tuple[Settings, dict[str, str]]:
    """Settings as the service in pod ``shard`` would load them."""
    config = tmp_path / "config.yaml"
    config.write_text(config_map(manifests)["config.yaml"], encoding="utf-8")
    environ = pod_environment(manifests, container, shard)
    return load_settings(config, environ), environ


def test_default_install_loads_as_the_service_would(
    tmp_path: Path, rendered: dict[str, list[Manifest]], containers: dict[str, Manifest]
) -> None:
    settings, _ = load_as_pod(tmp_path, rendered["default"], containers["default"])
    settings.require_netstream()
    assert settings.netstream_base_url == "https://netstream.example.test"
    assert settings.netstream_client_id == "ci-default-client-id"
    assert settings.netstream_client_secret is not None
    assert settings.netstream_client_secret.get_secret_value() == "ci-default-client-secret"
    assert settings.token_url() == (
        "https://login.microsoftonline.com/00000000-0000-4000-8000-000000000001/oauth2/v2.0/token"
    )
    assert settings.librdkafka() == {
        "bootstrap.servers": "kafka-0.kafka:9092,kafka-1.kafka:9092",
        "security.protocol": "PLAINTEXT",
    }
    assert settings.schema_registry_url is None
    assert (settings.publisher_shard_index, settings.publisher_shard_count) == (0, 1)
    assert settings.publisher_http_port == 8080
    assert settings.publisher_log_format == "json"
    assert str(settings.publisher_registry_file) == "/etc/netstream-publisher/registry.yaml"


@pytest.mark.parametrize("shard", [0, 1, 2])
def test_each_pod_of_three_shards_gets_its_index(
    tmp_path: Path, rendered: dict[str, list[Manifest]], containers: dict[str, Manifest], shard: int
) -> None:
    settings, _ = load_as_pod(tmp_path, rendered["multi-shard"], containers["multi-shard"], shard)
    assert (settings.publisher_shard_index, settings.publisher_shard_count) == (shard, 3)
    assert settings.publisher_state_partitions % settings.publisher_shard_count == 0
    assert settings.netstream_format is WireFormat.XML
    assert settings.netstream_timezone == "Australia/Sydney"
    assert settings.netstream_rate_limit == 2  # from the free-form config section
    assert settings.netstream_batch_size == 20
    assert settings.publisher_state_horizon_days == 30
    assert settings.publisher_topics == {"register": "netstream.meter-registers.v1"}
    assert [plan.name for plan in settings.publisher_plans] == ["recent", "nightly"]


def test_sasl_scram_with_schema_registry(
    tmp_path: Path, rendered: dict[str, list[Manifest]], containers: dict[str, Manifest]
) -> None:
    settings, environ = load_as_pod(tmp_path, rendered["sasl-scram"], containers["sasl-scram"])
    assert settings.librdkafka() == {
        "bootstrap.servers": "kafka.example.test:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "ssl.endpoint.identification.algorithm": "https",
        "sasl.username": "ci-scram-user",
        "sasl.password": "ci-scram-password-value",
        "ssl.ca.location": f"{TLS_DIR}/ca.crt",
    }
    assert settings.schema_registry_url == "https://schema-registry.example.test:8081"
    assert settings.netstream_token is not None
    assert environ["KAFKA_SASL_PASSWORD"] == "ci-scram-password-value"
    assert "password" not in config_map(rendered["sasl-scram"])["config.yaml"]


def test_oauthbearer_uses_librdkafka_oidc(
    tmp_path: Path, rendered: dict[str, list[Manifest]], containers: dict[str, Manifest]
) -> None:
    settings, _ = load_as_pod(tmp_path, rendered["oauthbearer"], containers["oauthbearer"])
    assert settings.librdkafka() == {
        "bootstrap.servers": "kafka.example.test:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "OAUTHBEARER",
        "sasl.oauthbearer.method": "oidc",
        "sasl.oauthbearer.token.endpoint.url": "https://idp.example.test/oauth2/token",
        "sasl.oauthbearer.scope": "kafka",
        "sasl.oauthbearer.extensions": "logicalCluster=lkc-ci,identityPoolId=pool-ci",
        "sasl.oauthbearer.client.id": "ci-oauth-kafka-client-id",
        "sasl.oauthbearer.client.secret": "ci-oauth-kafka-client-secret",
    }


def test_mtls_mounts_ca_certificate_and_key_as_files(
    tmp_path: Path,
    rendered: dict[str, list[Manifest]],
    containers: dict[str, Manifest],
    statefulsets: dict[str, Manifest],
) -> None:
    settings, _ = load_as_pod(tmp_path, rendered["mtls"], containers["mtls"])
    assert settings.librdkafka() == {
        "bootstrap.servers": "kafka.example.test:9094",
        "security.protocol": "SSL",
        "ssl.ca.location": f"{TLS_DIR}/ca.crt",
        "ssl.certificate.location": f"{TLS_DIR}/tls.crt",
        "ssl.key.location": f"{TLS_DIR}/tls.key",
    }
    assert settings.token_url() == "https://login.example.test/oauth2/token"
    assert settings.netstream_scope == "api://netstream/.default"
    mounts = {m["name"]: m for m in containers["mtls"]["volumeMounts"]}
    assert mounts["kafka-tls"] == {"name": "kafka-tls", "mountPath": TLS_DIR, "readOnly": True}
    volumes = {v["name"]: v for v in statefulsets["mtls"]["spec"]["template"]["spec"]["volumes"]}
    tls = volumes["kafka-tls"]["secret"]
    assert tls["secretName"] == "np-netstream-publisher-kafka-tls"
    assert [item["path"] for item in tls["items"]] == ["ca.crt", "tls.crt", "tls.key"]
    (secret,) = [m for m in rendered["mtls"] if m["metadata"]["name"] == "np-netstream-publisher-kafka-tls"]
    assert set(secret["data"]) == {"ca.crt", "tls.crt", "tls.key"}
    assert base64.b64decode(secret["data"]["tls.key"]).startswith(b"-----BEGIN PRIVATE KEY-----")


def test_plaintext_installs_mount_no_tls(containers: dict[str, Manifest]) -> None:
    for name in ("default", "multi-shard"):
        assert not [e for e in containers[name]["env"] if e["name"].startswith("KAFKA_SSL_")]
        assert "kafka-tls" not in {m["name"] for m in containers[name]["volumeMounts"]}


def test_registry_file_is_the_registry_value(
    ci_name: str, ci_values: dict[str, dict[str, Any]], rendered: dict[str, list[Manifest]]
) -> None:
    data = config_map(rendered[ci_name])
    if ci_values[ci_name].get("existingRegistryConfigMap"):
        assert "registry.yaml" not in data
        return
    assert yaml.safe_load(data["registry.yaml"]) == ci_values[ci_name]["registry"]
    registry = parse_registry(data["registry.yaml"], "registry.yaml")
    assert [entry.mrid for entry in registry] == [
        entry["mrid"] for section in ci_values[ci_name]["registry"].values() for entry in section
    ]


def test_config_and_registry_are_projected_into_one_directory(statefulsets: dict[str, Manifest]) -> None:
    def sources(name: str) -> list[tuple[str, str]]:
        volumes = {v["name"]: v for v in statefulsets[name]["spec"]["template"]["spec"]["volumes"]}
        return [
            (s["configMap"]["name"], s["configMap"]["items"][0]["path"])
            for s in volumes["config"]["projected"]["sources"]
        ]

    assert sources("default") == [
        ("np-netstream-publisher", "config.yaml"),
        ("np-netstream-publisher", "registry.yaml"),
    ]
    assert sources("oauthbearer") == [
        ("np-netstream-publisher", "config.yaml"),
        ("netstream-publisher-registry", "registry.yaml"),
    ]
