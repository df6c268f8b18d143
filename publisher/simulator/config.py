"""What the simulator serves: its usage points, groups, credentials and the knobs of its data model."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from publisher.errors import ConfigError, ParseError
from publisher.netstream.model import Target, TargetKind
from publisher.netstream.readingtype import parse_reading_type

#: 30-minute delta energy, forward flow (consumption; Netstream's "export"), kWh
FORWARD_30MIN_KWH = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
#: 30-minute delta energy, reverse flow (generation; "import"), kWh
REVERSE_30MIN_KWH = "0.0.5.4.19.1.12.0.0.0.0.0.0.0.224.3.72.0"
#: 15-minute delta energy, forward / reverse, kWh
FORWARD_15MIN_KWH = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
REVERSE_15MIN_KWH = "0.0.2.4.19.1.12.0.0.0.0.0.0.0.224.3.72.0"
#: 5- and 60-minute delta energy, forward, kWh
FORWARD_5MIN_KWH = "0.0.6.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
FORWARD_60MIN_KWH = "0.0.7.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
#: the 30-minute channels aggregated to local calendar days (served when the 30-minute channel exists)
FORWARD_DAILY_KWH = "0.0.4.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
REVERSE_DAILY_KWH = "0.0.4.4.19.1.12.0.0.0.0.0.0.0.224.3.72.0"
#: monthly cumulative register (bulkQuantity), read at local midnight on the 1st, kWh
MONTHLY_REGISTER_KWH = "13.0.0.1.1.1.12.0.0.0.0.0.0.0.224.3.72.0"

DEFAULT_READING_TYPES = (FORWARD_30MIN_KWH, REVERSE_30MIN_KWH, MONTHLY_REGISTER_KWH)

_DELTA = 4
_BULK = 1
_MONTHLY = 13
_DAILY_MEASURING_PERIOD = "4"
_THIRTY_MINUTE_MEASURING_PERIOD = "5"
_DEMO_NAMESPACE = uuid.UUID("5d1b6c3e-8f0a-4c55-9d0e-6a7b8c9d0e1f")


def check_supported(code: str) -> None:
    """Raise :class:`ConfigError` unless the simulator can generate data for reading type ``code``.

    Supported: delta data with a fixed interval (5/15/30/60 minutes ...), delta data per local day, and
    the monthly bulkQuantity register.
    """
    try:
        reading_type = parse_reading_type(code)
    except ParseError as exc:
        raise ConfigError(f"simulator reading type {code!r} is malformed; {exc.message}") from exc
    if reading_type.accumulation == _DELTA and (
        reading_type.interval is not None or reading_type.calendar_period == "day"
    ):
        return
    if reading_type.macro_period == _MONTHLY and reading_type.accumulation == _BULK:
        return
    raise ConfigError(
        f"simulator cannot generate reading type {code!r}; use fixed-interval or daily deltaData "
        f"(e.g. {FORWARD_30MIN_KWH}) or the monthly register {MONTHLY_REGISTER_KWH}"
    )


def daily_source(code: str) -> str | None:
    """For a daily delta code, the 30-minute code it aggregates (same fields otherwise); else ``None``."""
    parts = code.split(".")
    if len(parts) != 18 or parts[0] != "0" or parts[2] != _DAILY_MEASURING_PERIOD:
        return None
    parts[2] = _THIRTY_MINUTE_MEASURING_PERIOD
    return ".".join(parts)


@dataclass(frozen=True)
class SimUsagePoint:
    """One simulated usage point and the series it has."""

    mrid: str
    meter_mrid: str | None
    timezone: str = "Pacific/Auckland"
    reading_types: tuple[str, ...] = DEFAULT_READING_TYPES
    #: the reverse-flow (generation) channel has non-zero daytime values
    has_solar: bool = False

    def __post_init__(self) -> None:
        if not self.mrid:
            raise ConfigError("simulator usage point has an empty mrid; give every usage point an mRID")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"simulator usage point {self.mrid} has unknown time zone {self.timezone!r}; use an IANA "
                "name such as Pacific/Auckland"
            ) from exc
        for code in self.reading_types:
            check_supported(code)

    @property
    def zone(self) -> ZoneInfo:
        """The usage point's time zone."""
        return ZoneInfo(self.timezone)

    def serves(self, reading_type: str) -> bool:
        """True if this usage point has the series: a configured type, or the daily total of one."""
        if reading_type in self.reading_types:
            return True
        source = daily_source(reading_type)
        return source is not None and source in self.reading_types


def _freeze(groups: Mapping[str, Iterable[str]]) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType({key: tuple(members) for key, members in groups.items()})


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything the simulator serves and how its data behaves. Deterministic for a given ``seed``."""

    usage_points: tuple[SimUsagePoint, ...]
    #: group mRID -> usage point mRIDs
    usage_point_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: group mRID -> meter mRIDs
    meter_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    seed: int = 1
    client_id: str = "sim-client"
    client_secret: str = field(default="sim-secret", repr=False)
    #: if set, also accepted as a bearer token (never expires, never revoked)
    static_token: str | None = field(default=None, repr=False)
    token_lifetime: int = 3599
    #: fraction of intervals that arrive late (visible only some minutes after they end)
    late_fraction: float = 0.1
    max_late: timedelta = timedelta(hours=6)
    #: fraction of intervals first served estimated, later actual with the true value
    revision_fraction: float = 0.05
    revision_after: timedelta = timedelta(hours=12)
    #: fraction of intervals known to be missing (value null, flag bit 7)
    gap_fraction: float = 0.01
    #: True: local times are the zone's standard time all year and DST days keep 48 half-hours
    fixed_standard_time: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "usage_points", tuple(self.usage_points))
        object.__setattr__(self, "usage_point_groups", _freeze(self.usage_point_groups))
        object.__setattr__(self, "meter_groups", _freeze(self.meter_groups))
        for name in ("late_fraction", "revision_fraction", "gap_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"simulator {name} is {value}; use a fraction between 0 and 1")
        if self.max_late < timedelta(minutes=1):
            raise ConfigError("simulator max_late is under one minute; use at least timedelta(minutes=1)")
        if self.revision_after <= timedelta():
            raise ConfigError("simulator revision_after must be positive; use e.g. timedelta(hours=12)")
        if self.token_lifetime <= 0:
            raise ConfigError("simulator token_lifetime must be positive seconds; use e.g. 3599")
        seen: set[str] = set()
        for point in self.usage_points:
            if point.mrid in seen:
                raise ConfigError(f"simulator usage point {point.mrid} is listed twice; list each mRID once")
            seen.add(point.mrid)

    # ------------------------------------------------------------------------------------- lookups

    @functools.cached_property
    def _by_mrid(self) -> dict[str, SimUsagePoint]:
        # built once: a lookup per request must not cost a pass over every usage point
        return {point.mrid: point for point in self.usage_points}

    @functools.cached_property
    def _by_meter(self) -> dict[str, SimUsagePoint]:
        return {point.meter_mrid: point for point in self.usage_points if point.meter_mrid}

    def usage_point(self, mrid: str) -> SimUsagePoint | None:
        """The usage point with this mRID, if configured."""
        return self._by_mrid.get(mrid)

    def resolve(self, targets: Iterable[Target]) -> list[SimUsagePoint]:
        """The usage points a request names, groups and meters expanded, in order, each once.

        Unknown mRIDs resolve to nothing (the service answers "what is available").
        """
        by_mrid, by_meter = self._by_mrid, self._by_meter
        found: dict[str, SimUsagePoint] = {}
        for target in targets:
            if target.kind is TargetKind.USAGE_POINT:
                candidates = [by_mrid.get(target.mrid)]
            elif target.kind is TargetKind.USAGE_POINT_GROUP:
                candidates = [by_mrid.get(m) for m in self.usage_point_groups.get(target.mrid, ())]
            elif target.kind is TargetKind.METER:
                candidates = [by_meter.get(target.mrid)]
            else:
                candidates = [by_meter.get(m) for m in self.meter_groups.get(target.mrid, ())]
            for point in candidates:
                if point is not None:
                    found.setdefault(point.mrid, point)
        return list(found.values())

    # ------------------------------------------------------------------------------------- demo

    @classmethod
    def demo(cls, count: int = 30, seed: int = 1) -> SimulatorConfig:
        """A realistic mix: NZ and AU sites, about a third with solar, a few without a meter, and groups.

        Groups: ``usage_point_groups`` holds an "all sites" group and a "solar sites" group; ``meter_groups``
        holds one group of every other meter. Their mRIDs are deterministic for ``seed``.
        """
        if count < 1:
            raise ConfigError(f"simulator demo count is {count}; use at least 1 usage point")

        def make_id(kind: str, index: int) -> str:
            return str(uuid.uuid5(_DEMO_NAMESPACE, f"{seed}/{kind}/{index}"))

        points: list[SimUsagePoint] = []
        for index in range(count):
            australian = index % 6 == 5
            solar = index % 3 == 1
            reading_types: tuple[str, ...] = DEFAULT_READING_TYPES
            if index % 5 == 2:
                reading_types = (*DEFAULT_READING_TYPES, FORWARD_15MIN_KWH)
            points.append(
                SimUsagePoint(
                    mrid=make_id("usage-point", index),
                    meter_mrid=None if index % 10 == 9 else make_id("meter", index),
                    timezone="Australia/Sydney" if australian else "Pacific/Auckland",
                    reading_types=reading_types,
                    has_solar=solar,
                )
            )
        meters = [point.meter_mrid for point in points if point.meter_mrid is not None]
        return cls(
            usage_points=tuple(points),
            usage_point_groups={
                make_id("usage-point-group", 0): tuple(point.mrid for point in points),
                make_id("usage-point-group", 1): tuple(point.mrid for point in points if point.has_solar),
            },
            meter_groups={make_id("meter-group", 0): tuple(meters[::2])},
            seed=seed,
        )
