"""Credentials live only in Secrets: never in a ConfigMap, never as a literal env value."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from helm_python import HelmValuesError

Manifest = dict[str, Any]
Render = Callable[[Mapping[str, Any]], list[Manifest]]

#: the values that are secrets, wherever they sit in a values file
SECRET_PATHS = (
    ("netstream", "clientId"),
    ("netstream", "clientSecret"),
    ("netstream", "token"),
    ("kafka", "sasl", "username"),
    ("kafka", "sasl", "password"),
    ("kafka", "sasl", "oauthbearer", "clientId"),
    ("kafka", "sasl", "oauthbearer", "clientSecret"),
    ("kafka", "tls", "key"),
)


def secret_values(values: Mapping[str, Any]) -> list[str]:
    """Every non-empty secret value set in ``values``."""
    found = []
    for path in SECRET_PATHS:
        node: Any = values
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, str) and node:
            found.append(node.strip())
    return found


def strings(node: Any) -> Iterator[str]:
    """Every string anywhere in a parsed manifest."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield str(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def secret_data(manifests: list[Manifest]) -> dict[str, str]:
    """Decoded data of every Secret of a render, by key."""
    out: dict[str, str] = {}
    for secret in (m for m in manifests if m["kind"] == "Secret"):
        assert "stringData" not in secret
        for key, encoded in secret["data"].items():
            out[key] = base64.b64decode(encoded).decode("utf-8")
    return out


def test_every_ci_file_sets_secrets_or_uses_an_existing_secret(ci_values: dict[str, dict[str, Any]]) -> None:
    for name, values in ci_values.items():
        assert secret_values(values) or values.get("existingSecret"), name


def test_secret_values_appear_only_in_secrets(
    ci_name: str, ci_values: dict[str, dict[str, Any]], rendered: dict[str, list[Manifest]]
) -> None:
    secrets = secret_values(ci_values[ci_name])
    manifests = rendered[ci_name]
    stored = set(secret_data(manifests).values())
    for value in secrets:
        assert value in {s.strip() for s in stored}
    for manifest in (m for m in manifests if m["kind"] != "Secret"):
        text = "\n".join(strings(manifest))
        leaked = [value for value in secrets if value in text]
        assert leaked == [], f"{manifest['kind']} {manifest['metadata']['name']} holds a secret value"


def test_no_literal_env_value_is_a_secret(
    ci_name: str, ci_values: dict[str, dict[str, Any]], containers: dict[str, Manifest]
) -> None:
    secrets = set(secret_values(ci_values[ci_name]))
    env = containers[ci_name]["env"]
    literal = {entry["name"]: entry["value"] for entry in env if "value" in entry}
    assert secrets.isdisjoint(literal.values())
    credential_names = {
        "NETSTREAM_CLIENT_ID",
        "NETSTREAM_CLIENT_SECRET",
        "NETSTREAM_TOKEN",
        "KAFKA_SASL_USERNAME",
        "KAFKA_SASL_PASSWORD",
        "KAFKA_SASL_OAUTHBEARER_CLIENT_ID",
        "KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET",
    }
    for entry in env:
        if entry["name"] in credential_names:
            assert "value" not in entry
            assert entry["valueFrom"]["secretKeyRef"]["key"] == entry["name"]


def test_secret_keys_are_the_environment_names(rendered: dict[str, list[Manifest]]) -> None:
    assert secret_data(rendered["default"]) == {
        "NETSTREAM_CLIENT_ID": "ci-default-client-id",
        "NETSTREAM_CLIENT_SECRET": "ci-default-client-secret",
    }
    assert secret_data(rendered["oauthbearer"]) == {
        "NETSTREAM_TOKEN": "ci-oauth-static-netstream-token",
        "KAFKA_SASL_OAUTHBEARER_CLIENT_ID": "ci-oauth-kafka-client-id",
        "KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET": "ci-oauth-kafka-client-secret",
    }


def test_existing_secret_replaces_the_chart_secret(
    rendered: dict[str, list[Manifest]], containers: dict[str, Manifest]
) -> None:
    assert not [m for m in rendered["multi-shard"] if m["kind"] == "Secret"]
    refs = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for e in containers["multi-shard"]["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert refs == {"netstream-publisher-credentials"}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("config", "netstream", "client_secret"), "from-config"),
        (("config", "netstream", "token"), "from-config"),
        (("kafka", "config", "sasl.password"), "from-config"),
        (("kafka", "config", "sasl.oauthbearer.client.secret"), "from-config"),
    ],
)
def test_secrets_cannot_be_smuggled_into_the_config_map(
    render: Render, ci_values: dict[str, dict[str, Any]], path: tuple[str, ...], value: str
) -> None:
    values: dict[str, Any] = {**ci_values["default"]}
    node = values
    for part in path[:-1]:
        node[part] = {**node.get(part, {})}
        node = node[part]
    node[path[-1]] = value
    with pytest.raises(HelmValuesError):
        render(values)


def test_secret_looking_extra_env_must_come_from_a_secret(
    render: Render, ci_values: dict[str, dict[str, Any]]
) -> None:
    literal = {**ci_values["default"], "extraEnv": [{"name": "SCHEMA_REGISTRY_PASSWORD", "value": "x"}]}
    with pytest.raises(HelmValuesError, match="extraEnv"):
        render(literal)
    reference = {
        **ci_values["default"],
        "extraEnv": [
            {
                "name": "SCHEMA_REGISTRY_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "registry-credentials", "key": "password"}},
            }
        ],
    }
    (sts,) = [m for m in render(reference) if m["kind"] == "StatefulSet"]
    names = [e["name"] for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert "SCHEMA_REGISTRY_PASSWORD" in names
