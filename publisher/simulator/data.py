"""Deterministic meter data: load shapes, solar generation, register values and per-interval fate.

Every number is a pure function of (seed, usage point, channel, interval start): no state, no random
generator to advance, so any window can be produced in any order and always gives the same values.
Energy is computed in kWh from a power curve in kW evaluated at the middle of the interval.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from publisher.netstream.quality import KNOWN_MISSING, VALIDATED

THOUSANDTH = Decimal("0.001")
FORWARD = 1
REVERSE = 19

#: flags of a normal (validated, actual) value
ACTUAL_FLAGS = VALIDATED
#: flags of an estimated value: validated plus a non-zero Q field (not actual)
ESTIMATED_FLAGS = VALIDATED | 1
#: flags of a known-missing interval (value null)
MISSING_FLAGS = KNOWN_MISSING

_SOUTHERN_PREFIXES = (
    "Australia/",
    "Antarctica/",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "NZ",
    "America/Argentina/",
    "America/Santiago",
    "America/Sao_Paulo",
    "Africa/Johannesburg",
)
_REGISTER_EPOCH_YEAR = 2000
_DAYS_PER_YEAR = 365.25


def uniform(seed: int, *parts: object) -> float:
    """A deterministic number in [0, 1) for ``(seed, *parts)``, stable across processes and versions."""
    text = "|".join(str(part) for part in (seed, *parts))
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def quantize(value: float | Decimal) -> Decimal:
    """Round to 3 decimals (the API's kWh precision)."""
    return Decimal(str(value)).quantize(THOUSANDTH, rounding=ROUND_HALF_EVEN)


def is_southern(zone_name: str) -> bool:
    """True for zones in the southern hemisphere (summer around December), as far as the list knows."""
    return zone_name.startswith(_SOUTHERN_PREFIXES)


def load_kw(hour: float, *, weekend: bool, day_of_year: int, southern: bool) -> float:
    """Average household demand in kW at a local hour of day: night base, morning and evening peaks."""
    morning_peak, morning_height = (8.5, 0.9) if weekend else (7.25, 1.3)
    daytime = 0.5 if weekend else 0.2
    winter_day = 196 if southern else 15
    season = 1.0 + 0.2 * math.cos(2 * math.pi * (day_of_year - winter_day) / _DAYS_PER_YEAR)
    shape = (
        0.3
        + morning_height * math.exp(-(((hour - morning_peak) / 1.1) ** 2))
        + daytime * math.exp(-(((hour - 13.0) / 3.0) ** 2))
        + 2.0 * math.exp(-(((hour - 18.75) / 1.6) ** 2))
    )
    return shape * season


def solar_kw(standard_hour: float, *, day_of_year: int, southern: bool, peak_kw: float) -> float:
    """Generation in kW at a local standard-time hour: a bell over daylight, exactly zero at night."""
    summer_day = 355 if southern else 172
    day_length = 12.0 + 2.5 * math.cos(2 * math.pi * (day_of_year - summer_day) / _DAYS_PER_YEAR)
    sunrise = 12.5 - day_length / 2
    position = (standard_hour - sunrise) / day_length
    if not 0.0 < position < 1.0:
        return 0.0
    return peak_kw * math.sin(math.pi * position) ** 2


@dataclass(frozen=True)
class Site:
    """The per-usage-point constants of the data model, derived from the seed."""

    seed: int
    mrid: str
    zone: ZoneInfo
    has_solar: bool

    @property
    def load_scale(self) -> float:
        """How big this household is relative to the average (0.6 .. 1.6)."""
        return 0.6 + uniform(self.seed, self.mrid, "load-scale")

    @property
    def solar_peak_kw(self) -> float:
        """Peak generation of the site's panels (2.5 .. 5.5 kW)."""
        return 2.5 + 3.0 * uniform(self.seed, self.mrid, "solar-peak")

    def power_kw(self, moment: datetime) -> tuple[float, float]:
        """(load, generation) in kW at ``moment``, before per-interval noise."""
        local = moment.astimezone(self.zone)
        hour = local.hour + local.minute / 60 + local.second / 3600
        day_of_year = local.timetuple().tm_yday
        southern = is_southern(self.zone.key)
        load = self.load_scale * load_kw(
            hour, weekend=local.weekday() >= 5, day_of_year=day_of_year, southern=southern
        )
        if not self.has_solar:
            return load, 0.0
        offset = local.utcoffset() or timedelta()
        dst = local.dst() or timedelta()
        standard = moment.astimezone(UTC) + offset - dst
        standard_hour = standard.hour + standard.minute / 60 + standard.second / 3600
        generation = solar_kw(
            standard_hour, day_of_year=day_of_year, southern=southern, peak_kw=self.solar_peak_kw
        )
        return load, generation

    def energy_kwh(self, flow: int, start: datetime, length: timedelta) -> Decimal:
        """Energy of channel ``flow`` (forward 1 / reverse 19) over ``[start, start + length)``, 3 decimals.

        Net metering: forward carries the load the panels do not cover, reverse the surplus generation;
        a site without solar has an all-zero reverse channel. Other flow directions read like forward.
        """
        epoch = int(start.timestamp())
        seconds = int(length.total_seconds())
        load, generation = self.power_kw(start + length / 2)
        load *= 0.85 + 0.3 * uniform(self.seed, self.mrid, "load-noise", epoch, seconds)
        if generation > 0.0:
            generation *= 0.55 + 0.45 * uniform(self.seed, self.mrid, "cloud", epoch, seconds)
        net = generation - load if flow == REVERSE else load - generation
        return quantize(max(net, 0.0) * seconds / 3600)

    def register_kwh(self, month: date) -> Decimal:
        """The cumulative register at local midnight on the 1st of ``month``; grows every month."""
        step = 300.0 + 600.0 * uniform(self.seed, self.mrid, "register-step")
        base = 1000.0 + 8000.0 * uniform(self.seed, self.mrid, "register-base")
        index = (month.year - _REGISTER_EPOCH_YEAR) * 12 + month.month - 1
        jitter = step / 2 * uniform(self.seed, self.mrid, "register-jitter", index)
        return quantize(max(base + step * index + jitter, 0.0))


@dataclass(frozen=True)
class Fate:
    """What happens to one interval (or register read) on its way to the API."""

    #: how long after the interval's end it becomes visible
    delay: timedelta
    #: known missing: served as null with the known-missing flag
    missing: bool
    #: first served estimated (with ``estimate_factor`` applied), later actual
    revised: bool
    estimate_factor: float


def fate(
    seed: int,
    key: tuple[object, ...],
    *,
    late_fraction: float,
    max_late: timedelta,
    gap_fraction: float,
    revision_fraction: float,
) -> Fate:
    """The seeded fate of the interval identified by ``key`` (usage point, reading type, start)."""
    delay = timedelta()
    if uniform(seed, *key, "late") < late_fraction:
        minutes = max_late.total_seconds() / 60
        delay = timedelta(minutes=1 + math.floor(uniform(seed, *key, "late-by") * max(minutes - 1, 0)))
    missing = uniform(seed, *key, "gap") < gap_fraction
    revised = not missing and uniform(seed, *key, "revision") < revision_fraction
    spread = uniform(seed, *key, "estimate")
    factor = 0.6 + 0.3 * spread if spread < 0.5 else 1.1 + 0.3 * spread
    return Fate(delay=delay, missing=missing, revised=revised, estimate_factor=factor)


def estimate(true_value: Decimal, factor: float) -> Decimal:
    """An estimated value that differs from the true one (what the meter data system guessed)."""
    guess = quantize(float(true_value) * factor + 0.011)
    return guess if guess != true_value else true_value + THOUSANDTH
