"""The truth: exactly which readings a series holds in a window at a given simulated time.

A series is one (usage point, reading type). Intervals are real elapsed time in the zone the responses use
(46/48/50 half-hours on daylight-saving days, or 48 always with ``fixed_standard_time``); only intervals
that have ended are served, a late one only once it has arrived, a revised one first as an estimate and
after ``revision_after`` as the actual value, and a known-missing one as a null value with its flag.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from publisher.netstream.localtime import local_midnight
from publisher.netstream.model import Reading, ReadingKind
from publisher.netstream.quality import decode_flags
from publisher.netstream.readingtype import parse_reading_type
from publisher.simulator.config import SimulatorConfig, SimUsagePoint
from publisher.simulator.data import (
    ACTUAL_FLAGS,
    ESTIMATED_FLAGS,
    MISSING_FLAGS,
    Site,
    estimate,
    fate,
)

_HALF_HOUR = timedelta(minutes=30)
_ONE_DAY = timedelta(days=1)
_KWH_MULTIPLIER = 3
_WATT_HOURS = 72


@lru_cache(maxsize=256)
def standard_zone(name: str) -> timezone:
    """A fixed-offset zone at ``name``'s standard (non-daylight-saving) offset."""
    zone = ZoneInfo(name)
    for month in (1, 7):
        probe = datetime(2025, month, 1, 12, tzinfo=zone)
        if not probe.dst():
            offset = probe.utcoffset()
            assert offset is not None  # an aware datetime in a ZoneInfo always has an offset
            return timezone(offset)
    offset = datetime(2025, 1, 1, 12, tzinfo=zone).utcoffset()
    assert offset is not None
    return timezone(offset)


def response_zone(config: SimulatorConfig, point: SimUsagePoint) -> tzinfo:
    """The zone of the offset-less local times served for ``point``."""
    if config.fixed_standard_time:
        return standard_zone(point.timezone)
    return point.zone


def midnight(day: date, zone: tzinfo) -> datetime:
    """The first instant (UTC) of the local calendar ``day``."""
    if isinstance(zone, ZoneInfo):
        return local_midnight(day, zone)
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def local_day(moment: datetime, zone: tzinfo) -> date:
    """The local calendar date of ``moment``."""
    return moment.astimezone(zone).date()


@dataclass(frozen=True)
class _Spec:
    kind: ReadingKind
    interval: timedelta | None  # None: one value per local day
    flow: int
    scale: Decimal


@lru_cache(maxsize=256)
def _spec(code: str) -> _Spec:
    reading_type = parse_reading_type(code)
    scale = Decimal(1)
    if reading_type.unit == _WATT_HOURS:
        scale = Decimal(10) ** (_KWH_MULTIPLIER - reading_type.multiplier)
    if reading_type.accumulation == 1:
        return _Spec(ReadingKind.REGISTER, None, reading_type.flow_direction, scale)
    return _Spec(ReadingKind.INTERVAL, reading_type.interval, reading_type.flow_direction, scale)


def _intervals(
    zone: tzinfo, step: timedelta | None, start: datetime, limit: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """Every interval inside ``[start, limit)``: ``step`` apart from each local midnight, or whole days."""
    day = local_day(start, zone)
    last = local_day(limit - timedelta(microseconds=1), zone)
    while day <= last:
        day_start, day_end = midnight(day, zone), midnight(day + _ONE_DAY, zone)
        if step is None:
            if start <= day_start and day_end <= limit:
                yield day_start, day_end
        else:
            skip = max(0, -((day_start - start) // step))
            cursor = day_start + skip * step
            while cursor + step <= day_end and cursor + step <= limit:
                yield cursor, cursor + step
                cursor += step
        day += _ONE_DAY


def _months(zone: tzinfo, start: datetime, limit: datetime) -> Iterator[tuple[date, datetime]]:
    """(month, first instant of the month) for every local month start inside ``[start, limit)``."""
    first = local_day(start, zone).replace(day=1)
    while True:
        moment = midnight(first, zone)
        if moment >= limit:
            return
        if moment >= start:
            yield first, moment
        first = date(first.year + first.month // 12, first.month % 12 + 1, 1)


class SeriesModel:
    """Computes the readings of any series of a :class:`SimulatorConfig` (stateless; thread-safe)."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config

    def readings(
        self, point: SimUsagePoint, reading_type: str, start: datetime, end: datetime, now: datetime
    ) -> list[Reading]:
        """The readings of ``(point, reading_type)`` in ``[start, end)`` visible at ``now``, in time order."""
        if not point.serves(reading_type):
            return []
        start, end, now = start.astimezone(UTC), end.astimezone(UTC), now.astimezone(UTC)
        if end <= start:
            return []
        spec = _spec(reading_type)
        site = Site(self.config.seed, point.mrid, point.zone, point.has_solar)
        zone = response_zone(self.config, point)
        if spec.kind is ReadingKind.REGISTER:
            return self._registers(point, reading_type, site, zone, spec.scale, start, end, now)
        found: list[Reading] = []
        for begin, finish in _intervals(zone, spec.interval, start, min(end, now)):
            reading = self._interval(point, reading_type, site, spec, begin, finish, now)
            if reading is not None:
                found.append(reading)
        return found

    def _fate_of(self, point: SimUsagePoint, reading_type: str, moment: datetime) -> tuple[object, ...]:
        return (point.mrid, reading_type, int(moment.timestamp()))

    def _interval(
        self,
        point: SimUsagePoint,
        reading_type: str,
        site: Site,
        spec: _Spec,
        begin: datetime,
        finish: datetime,
        now: datetime,
    ) -> Reading | None:
        config = self.config
        destiny = fate(
            config.seed,
            self._fate_of(point, reading_type, begin),
            late_fraction=config.late_fraction,
            max_late=config.max_late,
            gap_fraction=config.gap_fraction,
            revision_fraction=config.revision_fraction,
        )
        if finish + destiny.delay > now:
            return None
        value: Decimal | None
        if destiny.missing:
            value, flags = None, MISSING_FLAGS
        else:
            value, flags = self._true_value(site, spec, begin, finish), ACTUAL_FLAGS
            if destiny.revised and now < finish + config.revision_after:
                value, flags = estimate(value, destiny.estimate_factor), ESTIMATED_FLAGS
        return Reading(
            usage_point=point.mrid,
            meter=point.meter_mrid,
            reading_type=reading_type,
            kind=ReadingKind.INTERVAL,
            start=begin,
            end=finish,
            value=value,
            quality=flags,
            quality_codes=decode_flags(flags),
        )

    @staticmethod
    def _true_value(site: Site, spec: _Spec, begin: datetime, finish: datetime) -> Decimal:
        if spec.interval is not None:
            return site.energy_kwh(spec.flow, begin, spec.interval) * spec.scale
        # A daily total is the sum of the day's half-hours of the matching 30-minute channel.
        total = Decimal(0)
        cursor = begin
        while cursor < finish:
            total += site.energy_kwh(spec.flow, cursor, _HALF_HOUR)
            cursor += _HALF_HOUR
        return total * spec.scale

    def _registers(
        self,
        point: SimUsagePoint,
        reading_type: str,
        site: Site,
        zone: tzinfo,
        scale: Decimal,
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> list[Reading]:
        config = self.config
        found: list[Reading] = []
        for month, moment in _months(zone, start, min(end, now + timedelta(microseconds=1))):
            destiny = fate(
                config.seed,
                self._fate_of(point, reading_type, moment),
                late_fraction=config.late_fraction,
                max_late=config.max_late,
                gap_fraction=0.0,
                revision_fraction=0.0,
            )
            arrived = moment + destiny.delay
            if arrived > now:
                continue
            found.append(
                Reading(
                    usage_point=point.mrid,
                    meter=point.meter_mrid,
                    reading_type=reading_type,
                    kind=ReadingKind.REGISTER,
                    start=None,
                    end=moment,
                    value=site.register_kwh(month) * scale,
                    quality=None,
                    quality_codes=(),
                    reported_at=arrived,
                )
            )
        return found
