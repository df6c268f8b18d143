"""Typed configuration: a YAML file plus the environment, validated once at start-up.

Every key has one flat name. In the environment it is the upper-case name (``NETSTREAM_BASE_URL``); in the
YAML file it sits under its section (``netstream: {base_url: ...}``). The environment wins over the file,
and the file wins over the defaults. Any other ``KAFKA_*`` variable is passed to librdkafka as-is
(``KAFKA_SECURITY_PROTOCOL`` becomes ``security.protocol``), as is the ``kafka.config`` mapping of the file.

Secrets are :class:`pydantic.SecretStr` (masked in ``repr``), are never echoed in validation errors, and
librdkafka settings whose name mentions a password or secret are masked by :meth:`Settings.masked`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from publisher.errors import ConfigError
from publisher.netstream.model import WireFormat

#: YAML sections; a key ``k`` under section ``s`` is the setting ``s_k`` (env ``S_K``).
SECTIONS = ("netstream", "kafka", "schema_registry", "publisher")

#: Reading type polled when neither the registry entry nor the plan names any (30-minute forward kWh).
DEFAULT_READING_TYPE = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"

_SECRET_WORDS = ("password", "secret", "token", "key")

#: The environment that :func:`load_settings` was given; the entry point passes ``os.environ``.
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("publisher_environ", default=None)


class _GivenEnvironment(EnvSettingsSource):
    """Reads settings from the mapping handed to :func:`load_settings`, never from ``os.environ`` itself."""

    def _load_env_vars(self) -> Mapping[str, str | None]:  # pydantic-settings' documented extension point
        environ = _ENVIRON.get() or {}
        return {name.lower(): value for name, value in environ.items() if value != ""}


class PlanConfig(BaseModel):
    """A named poll plan: when it runs and how far back each cycle looks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="unique plan name, used in logs and metrics")
    interval: timedelta | None = Field(
        default=None, description="run every this long (ISO 8601 duration or seconds)"
    )
    cron: str | None = Field(default=None, description="crontab expression in the Netstream time zone")
    lookback: timedelta = Field(description="each cycle fetches [now - lookback, now)")
    reading_types: tuple[str, ...] = Field(
        default=(DEFAULT_READING_TYPE,), description="reading types polled when a target names none"
    )
    jitter: timedelta = Field(default=timedelta(0), description="random delay added to each run")
    max_concurrent_requests: int = Field(default=4, ge=1, le=64, description="requests in flight")

    @model_validator(mode="after")
    def _one_trigger(self) -> PlanConfig:
        if (self.interval is None) == (self.cron is None):
            raise ValueError(f"plan {self.name!r} needs exactly one of 'interval' or 'cron'")
        if self.lookback <= timedelta(0):
            raise ValueError(f"plan {self.name!r}: lookback must be positive")
        return self


def default_plans() -> tuple[PlanConfig, ...]:
    """Plans used when the configuration names none: every 30 minutes over the last 6 hours, and daily at
    03:00 local time over the last 14 days (for revisions and late data)."""
    return (
        PlanConfig(name="live", interval=timedelta(minutes=30), lookback=timedelta(hours=6)),
        PlanConfig(name="daily", cron="0 3 * * *", lookback=timedelta(days=14)),
    )


class Settings(BaseSettings):
    """All settings of netstream-publisher. Field ``x_y`` is env ``X_Y`` and YAML ``x: {y: ...}``."""

    model_config = SettingsConfigDict(
        extra="forbid",
        case_sensitive=False,
        frozen=True,
        validate_default=True,
        env_ignore_empty=True,
        allow_inf_nan=False,  # an infinite timeout or rate overflows sockets and sleeps at run time
    )

    # ------------------------------------------------------------------ Netstream
    netstream_base_url: str | None = Field(
        default=None, description="API base URL; /api/cim17/9/MeterReadings2/get is appended"
    )
    netstream_token: SecretStr | None = Field(
        default=None, description="static bearer token (instead of OAuth2)"
    )
    netstream_tenant_id: str | None = Field(
        default=None, description="Entra ID tenant of the API registration"
    )
    netstream_client_id: str | None = Field(default=None, description="OAuth2 client (application) id")
    netstream_client_secret: SecretStr | None = Field(default=None, description="OAuth2 client secret")
    netstream_scope: str = Field(
        default="https://graph.microsoft.com/.default", description="OAuth2 scope requested with the token"
    )
    netstream_token_url: str | None = Field(
        default=None, description="token endpoint; default built from the tenant id"
    )
    netstream_format: WireFormat = Field(default=WireFormat.JSON, description="request/response encoding")
    netstream_timezone: str = Field(
        default="Pacific/Auckland", description="zone of offset-less times in responses (IANA name)"
    )
    netstream_connect_timeout: float = Field(default=10.0, gt=0, description="seconds to connect")
    netstream_read_timeout: float = Field(default=120.0, gt=0, description="seconds to wait for a response")
    netstream_max_retries: int = Field(
        default=5, ge=0, le=20, description="retries of 429/5xx/network errors"
    )
    netstream_backoff_initial: float = Field(default=1.0, gt=0, description="first back-off ceiling, seconds")
    netstream_backoff_max: float = Field(default=60.0, gt=0, description="largest back-off ceiling, seconds")
    netstream_retry_after_max: float = Field(
        default=300.0, gt=0, description="longest Retry-After wait honoured, seconds"
    )
    netstream_rate_limit: float = Field(default=5.0, gt=0, description="requests per second (token bucket)")
    netstream_max_in_flight: int = Field(default=4, ge=1, le=64, description="concurrent requests at most")
    netstream_window: timedelta = Field(
        default=timedelta(days=7), description="longest time window per request"
    )
    netstream_min_window: timedelta = Field(
        default=timedelta(hours=1), description="smallest window when splitting a too-large response"
    )
    netstream_batch_size: int = Field(default=10, ge=1, le=1000, description="targets per request")

    # ------------------------------------------------------------------ Kafka
    kafka_bootstrap_servers: str | None = Field(default=None, description="brokers, host:port[,host:port]")
    kafka_config: dict[str, str] = Field(
        default_factory=dict,
        repr=False,  # may hold sasl.password; shown masked by masked()
        description="extra librdkafka settings (also any other KAFKA_* variable)",
    )
    schema_registry_url: str | None = Field(
        default=None,
        description="if set, Confluent wire format via this registry; else single-object encoding",
    )

    # ------------------------------------------------------------------ publisher
    publisher_topic: str = Field(default="netstream.meter-readings.v1", description="readings topic")
    publisher_dlq_topic: str = Field(
        default="netstream.meter-readings.dlq.v1", description="dead-letter topic"
    )
    publisher_state_topic: str = Field(
        default="netstream-publisher.state.v1", description="compacted state topic"
    )
    publisher_topic_partitions: int = Field(default=12, ge=1, description="partitions of the readings topic")
    publisher_state_partitions: int = Field(
        default=12, ge=1, description="partitions of the state topic; a multiple of the shard count"
    )
    publisher_replication_factor: int = Field(
        default=-1, ge=-1, description="replication of created topics; -1 is the broker default"
    )
    publisher_topics: dict[str, str] = Field(
        default_factory=dict,
        description="route 'interval', 'register' or a reading type mRID to another topic",
    )
    publisher_transactional_id_prefix: str = Field(
        default="netstream-publisher", description="transactional.id is <prefix>-<shard>"
    )
    publisher_shard_index: int = Field(default=0, ge=0, description="this process's shard")
    publisher_shard_count: int = Field(default=1, ge=1, description="number of shards")
    publisher_registry_file: Path | None = Field(
        default=None, description="usage point registry (YAML or CSV)"
    )
    publisher_state_horizon_days: int = Field(
        default=14, ge=1, le=400, description="days of dedup state kept in memory"
    )
    publisher_http_port: int = Field(default=8080, ge=0, le=65535, description="health and metrics port")
    publisher_backfill_rate_share: float = Field(
        default=0.25,
        gt=0,
        le=1,
        description="share of NETSTREAM_RATE_LIMIT a backfill uses (live polling keeps the rest)",
    )
    publisher_shutdown_timeout: float = Field(
        default=20.0,
        gt=0,
        description=(
            "seconds to finish or abort the open transaction on SIGTERM; the default leaves room to exit "
            "within Kubernetes' default 30 s grace period"
        ),
    )
    publisher_broker_outage_max: timedelta = Field(
        default=timedelta(minutes=10),
        gt=timedelta(0),
        description=(
            "longest Kafka outage the service rides out (ISO 8601 duration, e.g. PT10M), at start-up too: "
            "a transaction waits for the broker, a start waits and tries again, readiness fails meanwhile; "
            "past this the process exits non-zero so Kubernetes restarts it"
        ),
    )
    publisher_log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="log level"
    )
    publisher_log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: JSON unless stdout is a terminal"
    )
    publisher_plans: tuple[PlanConfig, ...] = Field(
        default_factory=default_plans, description="named poll plans"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment wins over the file (passed as init values), which wins over defaults."""
        del env_settings, dotenv_settings, file_secret_settings
        return (_GivenEnvironment(settings_cls), init_settings)

    @field_validator("netstream_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an IANA time zone; use e.g. Pacific/Auckland") from exc
        return value

    @field_validator("netstream_base_url", "schema_registry_url", "netstream_token_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(https?|mock)://[^\s/]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL; use e.g. https://host[:port]")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.publisher_shard_index >= self.publisher_shard_count:
            raise ValueError(
                f"publisher_shard_index {self.publisher_shard_index} must be below "
                f"publisher_shard_count {self.publisher_shard_count}"
            )
        if self.publisher_state_partitions % self.publisher_shard_count:
            raise ValueError(
                f"publisher_state_partitions ({self.publisher_state_partitions}) must be a multiple of "
                f"publisher_shard_count ({self.publisher_shard_count}) so each shard owns whole partitions"
            )
        names = [plan.name for plan in self.publisher_plans]
        if len(set(names)) != len(names):
            raise ValueError("publisher_plans: plan names must be unique")
        if self.netstream_min_window > self.netstream_window:
            raise ValueError("netstream_min_window must not exceed netstream_window")
        return self

    # ------------------------------------------------------------------ derived views

    @property
    def zone(self) -> ZoneInfo:
        """The default zone of offset-less response times."""
        return ZoneInfo(self.netstream_timezone)

    def token_url(self) -> str | None:
        """The OAuth2 token endpoint: configured, or built from the tenant id."""
        if self.netstream_token_url:
            return self.netstream_token_url
        if self.netstream_tenant_id:
            return f"https://login.microsoftonline.com/{self.netstream_tenant_id}/oauth2/v2.0/token"
        return None

    def require_netstream(self) -> None:
        """Fail with a one-line fix unless Netstream can be reached and authenticated."""
        if not self.netstream_base_url:
            raise ConfigError(
                "NETSTREAM_BASE_URL is not set; set it to the API host, e.g. https://sit.sbs.digital"
            )
        if self.netstream_token is None and not (
            self.netstream_client_id and self.netstream_client_secret and self.token_url()
        ):
            raise ConfigError(
                "no Netstream credentials: set NETSTREAM_TOKEN, or NETSTREAM_CLIENT_ID, "
                "NETSTREAM_CLIENT_SECRET and NETSTREAM_TENANT_ID (or NETSTREAM_TOKEN_URL)"
            )

    def require_kafka(self) -> None:
        """Fail with a one-line fix unless a Kafka cluster is configured."""
        if not self.kafka_bootstrap_servers:
            raise ConfigError("KAFKA_BOOTSTRAP_SERVERS is not set; set it to host:port of your brokers")

    def librdkafka(self) -> dict[str, str]:
        """Common librdkafka settings: bootstrap servers plus every passthrough setting."""
        self.require_kafka()
        assert self.kafka_bootstrap_servers is not None
        return {"bootstrap.servers": self.kafka_bootstrap_servers, **self.kafka_config}

    def masked(self) -> dict[str, Any]:
        """Every setting with secrets masked, for ``check`` output and start-up logs."""
        out: dict[str, Any] = {}
        for name, value in self.model_dump(mode="json").items():
            field_value = getattr(self, name)
            if isinstance(field_value, SecretStr):
                out[name] = "**********" if field_value.get_secret_value() else None
            elif name == "kafka_config":
                out[name] = {key: mask_if_secret(key, val) for key, val in value.items()}
            else:
                out[name] = value
        return out


def mask_if_secret(name: str, value: str) -> str:
    """Mask the value of a setting whose name says it holds a secret."""
    return "**********" if any(word in name.lower() for word in _SECRET_WORDS) else value


# ---------------------------------------------------------------------------------------------- loading


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}; check --config") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 (bad byte at offset {exc.start}); save it as UTF-8"
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config file {path} is not valid YAML{where}; fix the syntax") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must be a mapping of sections ({', '.join(SECTIONS)})")
    return data


def _flatten(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for section, body in data.items():
        if section not in SECTIONS:
            raise ConfigError(
                f"unknown section {section!r} in {source}; expected one of: {', '.join(SECTIONS)}"
            )
        if not isinstance(body, dict):
            raise ConfigError(f"section {section!r} in {source} must be a mapping of keys")
        for key, value in body.items():
            flat[f"{section}_{key}"] = value
    return flat


def _passthrough(environ: Mapping[str, str]) -> dict[str, str]:
    """``KAFKA_*`` variables that are not settings of ours, as librdkafka names."""
    ours = {name.upper() for name in Settings.model_fields}
    out: dict[str, str] = {}
    for name, value in environ.items():
        upper = name.upper()
        if upper.startswith("KAFKA_") and upper not in ours and value != "":
            out[upper.removeprefix("KAFKA_").lower().replace("_", ".")] = value
    return out


def _field_label(name: str) -> str:
    section = next((s for s in SECTIONS if name.startswith(s + "_")), None)
    if section is None:
        return name
    return f"{section}.{name.removeprefix(section + '_')} ({name.upper()})"


def _one_line(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    loc = [str(part) for part in first["loc"]]
    label = _field_label(loc[0]) if loc else "configuration"
    if len(loc) > 1:
        label += " at " + ".".join(loc[1:])
    if first["type"] == "extra_forbidden":
        message = "unknown key; remove it or check the spelling (see docs/configuration.md)"
    else:
        message = first["msg"].removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    if not loc:
        return f"invalid configuration: {message}{more}"
    return f"invalid configuration: {label}: {message}{more}"


def _undecodable(exc: SettingsError) -> str:
    """One line for an environment value pydantic-settings could not decode (the value is never shown)."""
    match = re.search(r'field "([a-z0-9_]+)"', str(exc))
    label = _field_label(match.group(1)) if match else "a structured setting"
    return (
        f"invalid configuration: {label}: the environment value is not valid JSON; structured settings "
        "(mappings, lists) take JSON in the environment, or set them in the YAML file"
    )


def load_settings(config_file: Path | None, environ: Mapping[str, str]) -> Settings:
    """Load and validate the configuration once. Raises :class:`ConfigError` with a one-line message."""
    values: dict[str, Any] = {}
    if config_file is not None:
        values = _flatten(_read_yaml(config_file), str(config_file))
    passthrough = _passthrough(environ)
    if passthrough:
        values["kafka_config"] = {**dict(values.get("kafka_config") or {}), **passthrough}
    token = _ENVIRON.set(environ)
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
    except SettingsError as exc:  # an environment value of a structured setting that is not JSON
        raise ConfigError(_undecodable(exc)) from None
    finally:
        _ENVIRON.reset(token)
