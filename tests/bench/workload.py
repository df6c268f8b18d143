"""Pre-recorded Netstream responses: the input of the throughput benchmarks.

Each response is what the simulator serves for one GetMeterReadings call of ``points_per_response`` usage
points x two half-hourly reading types (forward and reverse energy) x one local day, rendered as JSON
exactly as it goes over the wire (gaps, estimates and quality flags included). Every response names other
usage points, so every reading of the run is new to dedup and becomes an event.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import structlog

from publisher.netstream.localtime import local_midnight
from publisher.netstream.model import ReadingsRequest, Target, TargetKind, WireFormat
from publisher.simulator.config import FORWARD_30MIN_KWH, REVERSE_30MIN_KWH, SimulatorConfig, SimUsagePoint
from publisher.simulator.render import render
from publisher.simulator.series import SeriesModel, response_zone
from publisher.simulator.shapes import series_of

ZONE = ZoneInfo("Pacific/Auckland")
READING_TYPES = (FORWARD_30MIN_KWH, REVERSE_30MIN_KWH)
DAY = date(2025, 3, 3)  # a 48-interval day in Auckland
#: the simulated "now": two days after DAY, so every interval has ended and every revision has arrived
NOW = local_midnight(DAY + timedelta(days=2), ZONE)


@dataclass(frozen=True)
class Recorded:
    """One recorded response and the request that fetched it."""

    request: ReadingsRequest
    body: bytes
    readings: int  #: readings (interval values) it holds


def usage_point_id(index: int) -> str:
    """A usage point mRID shaped like a real one (36 characters)."""
    return f"6f1c2a10-5b1e-4c2d-9a10-{index:012d}"


def meter_id(index: int) -> str:
    """The meter mRID of usage point ``index``."""
    return f"a7e0c1d2-0001-4e00-8000-{index:012d}"


def simulator_config(points: int, *, seed: int = 11) -> SimulatorConfig:
    """``points`` Auckland usage points with forward and reverse half-hourly energy (a third with solar)."""
    return SimulatorConfig(
        usage_points=tuple(
            SimUsagePoint(
                mrid=usage_point_id(i),
                meter_mrid=meter_id(i),
                timezone=ZONE.key,
                reading_types=READING_TYPES,
                has_solar=i % 3 == 1,
            )
            for i in range(points)
        ),
        seed=seed,
        late_fraction=0.0,
        static_token="bench-token",
    )


def record(responses: int, points_per_response: int = 100, *, day: date = DAY) -> list[Recorded]:
    """``responses`` JSON responses of ``points_per_response`` usage points each, for local ``day``."""
    config = simulator_config(responses * points_per_response)
    model = SeriesModel(config)
    start = local_midnight(day, ZONE)
    end = local_midnight(day + timedelta(days=1), ZONE)
    now = max(NOW, end + timedelta(days=1))
    out: list[Recorded] = []
    for first in range(0, len(config.usage_points), points_per_response):
        points = config.usage_points[first : first + points_per_response]
        series = []
        for point in points:
            zone = response_zone(config, point)
            for reading_type in READING_TYPES:
                readings = model.readings(point, reading_type, start, end, now)
                series.append(series_of(point.mrid, point.meter_mrid, reading_type, zone, readings))
        request = ReadingsRequest(
            targets=tuple(Target(TargetKind.USAGE_POINT, point.mrid) for point in points),
            reading_types=READING_TYPES,
            start=start.astimezone(UTC),
            end=end.astimezone(UTC),
        )
        body = render(series, WireFormat.JSON)
        out.append(Recorded(request, body, sum(len(s.readings) for s in series)))
    return out


def quiet_logs() -> None:
    """Log warnings and errors only, to stderr: a benchmark's stdout carries its results."""
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )


def polled_at() -> datetime:
    """The fixed clock of the benchmark pipelines."""
    return NOW
