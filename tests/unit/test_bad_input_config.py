"""The configuration and registry loaders over bad input: a one-line ConfigError, never another exception.

Every file of ``tests/corpus/config`` and ``tests/corpus/registry`` is loaded, then generated documents
and environments (the full-size run is in tests/integration/reliability/test_bad_input.py). The named
cases below each failed before their fix: a non-JSON structured environment value, infinite timeouts,
files that are not UTF-8, broken CSV quoting, YAML alias bombs and keys of mixed types.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from publisher.config import load_settings
from publisher.errors import ConfigError
from publisher.registry import load_registry, parse_registry
from support.bad_input import HANG_BOUND, Raised, corpus, timed
from support.config_strategies import (
    CONFIG_DOCUMENTS,
    CSV_HEADER,
    CSV_TEXTS,
    ENVIRONMENTS,
    REGISTRY_DOCUMENTS,
    load_or_config_error,
    parse_or_config_error,
    yaml_text,
)

CANARY = "CANARY-3f9a-config-value"


@pytest.mark.parametrize("path", corpus("config"), ids=lambda p: p.name)
def test_every_config_corpus_file_is_a_config_error(path: Path) -> None:
    outcome, seconds = timed(lambda: load_settings(path, {}))
    assert isinstance(outcome, Raised), f"{path.name}: loaded without an error"
    assert isinstance(outcome.error, ConfigError), f"{path.name}: crashed with {outcome.error!r}"
    assert "\n" not in outcome.error.message
    assert seconds < HANG_BOUND


@pytest.mark.parametrize("path", corpus("registry"), ids=lambda p: p.name)
def test_every_registry_corpus_file_is_a_config_error(path: Path) -> None:
    outcome, seconds = timed(lambda: load_registry(path))
    assert isinstance(outcome, Raised), f"{path.name}: loaded without an error"
    assert isinstance(outcome.error, ConfigError), f"{path.name}: crashed with {outcome.error!r}"
    assert seconds < HANG_BOUND


@pytest.mark.parametrize("name", ["KAFKA_CONFIG", "PUBLISHER_PLANS", "PUBLISHER_TOPICS"])
def test_a_structured_environment_value_that_is_not_json_is_a_config_error(name: str) -> None:
    with pytest.raises(ConfigError, match=f"{name}.*not valid JSON") as caught:
        load_settings(None, {name: f"{{{CANARY}"})
    assert CANARY not in caught.value.message


@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity", "nan", "1e309"])
@pytest.mark.parametrize("name", ["NETSTREAM_READ_TIMEOUT", "NETSTREAM_BACKOFF_MAX", "NETSTREAM_RATE_LIMIT"])
def test_non_finite_numbers_are_config_errors(name: str, value: str) -> None:
    # an infinite timeout passed validation and overflowed the socket timeout at the first request
    with pytest.raises(ConfigError, match=f"{name}.*finite"):
        load_settings(None, {name: value})


def test_files_that_are_not_utf8_are_config_errors(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_bytes(b"netstream:\n  base_url: http://\xff/\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(config, {})
    registry = tmp_path / "r.csv"
    registry.write_bytes(b"mrid\n\xfe\xff\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_registry(registry)


def test_broken_csv_quoting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not valid CSV"):
        parse_registry('mrid\n"' + "x" * 200_000 + '"\n', "r.csv")
    with pytest.raises(ConfigError, match="control character"):
        parse_registry('mrid,timezone\n"a\nb",UTC\n', "r.csv")
    # a lone carriage return used to escape as csv.Error
    assert parse_or_config_error("mrid\n\r0", "r.csv") is not None


def test_yaml_alias_bombs_are_refused_without_expanding_them() -> None:
    bomb = (
        "["
        + ", ".join(f"&l{i} [" + ",".join([f"*l{i - 1}" if i else '"lol"'] * 9) + "]" for i in range(9))
        + "]"
    )
    for key in ("mrid", "meter_mrid", "timezone"):
        entry = f"mrid: {bomb}" if key == "mrid" else f"mrid: a\n    {key}: {bomb}"
        text = f"usage_points:\n  - {entry}\n"
        outcome, seconds = timed(lambda text=text: parse_registry(text, "r.yaml"))
        assert isinstance(outcome, Raised)
        assert isinstance(outcome.error, ConfigError)
        assert f"'{key}' must be a single value" in outcome.error.message
        assert seconds < HANG_BOUND


def test_keys_of_mixed_types_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['1', 'b'\]"):
        parse_registry("usage_points:\n  - {mrid: a, 1: x, b: y}\n", "r.yaml")
    with pytest.raises(ConfigError, match=r"unknown section\(s\) \['1', 'x'\]"):
        parse_registry("1: []\nx: []\n", "r.yaml")


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(document=CONFIG_DOCUMENTS, environ=ENVIRONMENTS, raw=st.none() | st.text(max_size=200))
def test_generated_configurations_load_or_are_config_errors(
    document: dict[str, object],
    environ: dict[str, str],
    raw: str | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    text = yaml_text(document) if raw is None else raw
    load_or_config_error(text, environ, tmp_path_factory.mktemp("config"))


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(document=REGISTRY_DOCUMENTS, rows=CSV_TEXTS, header=st.booleans(), pick=st.integers(0, 2))
def test_generated_registries_load_or_are_config_errors(
    document: object, rows: str, header: bool, pick: int
) -> None:
    if pick == 0:
        parse_or_config_error(yaml_text(document), "r.yaml")
    else:
        parse_or_config_error((CSV_HEADER if header else "") + rows, "r.csv" if pick == 1 else "r.yaml")
