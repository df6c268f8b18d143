"""Hypothesis inputs for the configuration loader and the registry loader, and the checks on their results.

Documents mix the real names (sections, settings, registry keys) with arbitrary ones, and values with
every YAML scalar type, the awkward floats (NaN, infinities) and strings that look like durations, zones,
URLs or JSON, so the generated inputs reach the validators rather than stopping at the first unknown key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml
from hypothesis import strategies as st

from publisher.app import client_options, kafka_config
from publisher.config import SECTIONS, Settings, load_settings
from publisher.errors import ConfigError
from publisher.registry import SECTIONS as REGISTRY_SECTIONS
from publisher.registry import Registry, parse_registry

RT = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
_FIELDS = sorted(Settings.model_fields)
_KEYS_IN_SECTIONS = sorted({name.split("_", 1)[1] for name in _FIELDS})
ENV_NAMES = [name.upper() for name in _FIELDS] + [
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_ENABLE_SSL_CERTIFICATE_VERIFICATION",
]
_AWKWARD = st.sampled_from(
    [
        "PT1H",
        "P1D",
        "-PT5M",
        "P99999999D",
        "inf",
        "-inf",
        "nan",
        "1e309",
        "0",
        "-1",
        "Pacific/Auckland",
        "../../etc/passwd",
        "UTC\x00",
        "http://127.0.0.1:9",
        "file:///etc/passwd",
        "{}",
        "[]",
        '{"sasl.password": "x"}',
        '[{"name": "a", "interval": "PT1H", "lookback": "PT6H"}]',
        "0 3 * * *",
        "json",
        "xml",
        RT,
    ]
)
SCALARS = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20) | _AWKWARD
)
_NAMES = st.sampled_from([*_KEYS_IN_SECTIONS, *SECTIONS, "interval", "lookback", "name", "cron", "config"])
TREES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(_NAMES | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
CONFIG_DOCUMENTS = st.dictionaries(
    st.sampled_from([*SECTIONS, "other"]),
    st.dictionaries(st.sampled_from([*_KEYS_IN_SECTIONS, "plans", "config", "other"]), TREES, max_size=5)
    | TREES,
    max_size=4,
)
ENVIRONMENTS = st.dictionaries(
    st.sampled_from(ENV_NAMES), st.text(max_size=30) | SCALARS.map(str), max_size=5
)

_ENTRY_KEYS = st.sampled_from(["mrid", "reading_types", "meter_mrid", "timezone", "kind", "other"])
_ENTRY = st.dictionaries(_ENTRY_KEYS | st.text(max_size=5), TREES, max_size=5)
REGISTRY_DOCUMENTS = (
    st.dictionaries(
        st.sampled_from([*REGISTRY_SECTIONS, "other"]),
        st.lists(_ENTRY | TREES, max_size=4) | TREES,
        max_size=4,
    )
    | TREES
)
_CELLS = st.text(max_size=12) | st.sampled_from(
    [RT, f"{RT};{RT}", "usage_point", "meter", "group", "Pacific/Auckland", '"', ",", "\n", "\r", "\x00"]
)
CSV_TEXTS = st.lists(st.lists(_CELLS, max_size=6), max_size=6).map(
    lambda rows: "\n".join(",".join(row) for row in rows)
)
CSV_HEADER = "mrid,kind,reading_types,meter_mrid,timezone\n"


def yaml_text(document: object) -> str:
    """YAML of a generated document (strings that YAML cannot hold are escaped, never dropped)."""
    return yaml.safe_dump(document, allow_unicode=False)


def load_or_config_error(text: str, environ: Mapping[str, str], directory: Path) -> Settings | ConfigError:
    """Load ``text`` as the config file with ``environ``; a Settings is also put to use by the builders.

    Any exception other than ConfigError propagates: that is a crash."""
    path = directory / "config.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    try:
        settings = load_settings(path, environ)
        settings.masked()
        _ = settings.zone, settings.token_url()
        if settings.netstream_base_url and (settings.netstream_token or settings.netstream_client_secret):
            client_options(settings)
        if settings.kafka_bootstrap_servers:
            kafka_config(settings)
    except ConfigError as exc:
        error = exc
    else:
        return settings
    assert error.message
    assert "\n" not in error.message
    return error


def parse_or_config_error(text: str, source: str) -> Registry | ConfigError:
    """Parse registry text; a Registry is also queried as the service does. Other exceptions propagate."""
    try:
        registry = parse_registry(text, source)
    except ConfigError as exc:
        error = exc
    else:
        error = None
    if error is not None:
        assert error.message
        return error
    for entry in registry:
        registry.zone_of(entry.mrid)
        registry.meter_of(entry.mrid)
        assert entry.mrid
        assert entry.mrid.isprintable()
    registry.for_shard(0, 3)
    return registry
