"""A block wholly inside the repeated hour: only the requested window tells which of the two hours it is.

On 2025-04-06 Auckland goes from 03:00 NZDT back to 02:00 NZST (at 14:00Z), so the offset-less block
``02:00``-``02:30`` is either 13:00-13:30Z or 14:00-14:30Z, and its single value fits both exactly.
Requests cut at 30-minute (or shrunk) windows produce exactly such blocks.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from publisher.netstream.auth import StaticTokenProvider
from publisher.netstream.client import ClientOptions, NetstreamClient
from publisher.netstream.model import ReadingsRequest, Target, TargetKind, WireFormat
from publisher.netstream.parse_time import place_block
from publisher.netstream.parser import parse_response
from publisher.netstream.ratelimit import RateLimiter
from publisher.netstream.readingtype import parse_reading_type
from publisher.simulator import SimClock, SimulatorConfig, SimulatorServer, SimUsagePoint
from publisher.simulator.config import FORWARD_30MIN_KWH

NZ = ZoneInfo("Pacific/Auckland")
RT30 = parse_reading_type(FORWARD_30MIN_KWH)
HALF = timedelta(minutes=30)
FIRST = datetime(2025, 4, 5, 13, 0, tzinfo=UTC)  # 02:00 NZDT
SECOND = datetime(2025, 4, 5, 14, 0, tzinfo=UTC)  # 02:00 NZST, an hour later


@pytest.mark.parametrize("hour", [FIRST, SECOND])
def test_the_requested_window_places_a_block_inside_the_repeated_hour(hour: datetime) -> None:
    placed = place_block(
        "2025-04-06T02:00:00", "2025-04-06T02:30:00", 1, RT30, NZ, within=(hour, hour + HALF)
    )
    assert placed == [(hour, hour + HALF)]


def test_a_window_around_both_hours_still_prefers_the_exact_fill() -> None:
    placed = place_block(
        "2025-04-06T02:00:00",
        "2025-04-06T03:00:00",
        2,
        RT30,
        NZ,
        within=(FIRST - timedelta(hours=1), SECOND + timedelta(hours=2)),
    )
    assert placed == [(SECOND, SECOND + HALF), (SECOND + HALF, SECOND + 2 * HALF)]


def test_a_block_outside_the_window_falls_back_to_the_exact_fill() -> None:
    placed = place_block(
        "2025-04-06T00:00:00", "2025-04-06T02:00:00", 6, RT30, NZ, within=(FIRST, FIRST + HALF)
    )
    assert placed[-1] == (SECOND - HALF, SECOND)


def test_parse_response_passes_the_window_down() -> None:
    period = '{"start": "2025-04-06T02:00:00", "end": "2025-04-06T02:30:00"}'
    ids = f'"usagePoint": {{"mRID": "up-1"}}, "readingType": {{"mRID": "{RT30.mrid}"}}'
    body = f"""{{"meterReading": [{{{ids},
      "intervalBlockInts": [{{"timePeriod": {period}, "values": [1.5], "qualities": [256]}}]}}]}}""".encode()
    (reading,) = parse_response(
        body, WireFormat.JSON, default_zone=NZ, window=(SECOND, SECOND + HALF)
    ).readings
    assert (reading.start, reading.end) == (SECOND, SECOND + HALF)


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    config = SimulatorConfig(
        (SimUsagePoint("up-1", "meter-1", reading_types=(FORWARD_30MIN_KWH,)),),
        static_token="static-token",
        late_fraction=0.0,
        gap_fraction=0.0,
    )
    with SimulatorServer(config, clock=SimClock(datetime(2025, 4, 8, tzinfo=UTC))) as server:
        yield server


@pytest.mark.parametrize("fmt", [WireFormat.JSON, WireFormat.XML])
def test_half_hour_requests_over_the_repeated_hour_get_four_distinct_intervals(
    sim: SimulatorServer, fmt: WireFormat
) -> None:
    options = ClientOptions(base_url=sim.base_url, fmt=fmt, default_zone=NZ)
    limiter = RateLimiter(1000.0, 4)
    with NetstreamClient(options, StaticTokenProvider("static-token"), limiter=limiter) as client:
        placed = []
        for k in range(4):
            start = FIRST + k * HALF
            request = ReadingsRequest(
                (Target(TargetKind.USAGE_POINT, "up-1"),), (FORWARD_30MIN_KWH,), start, start + HALF
            )
            placed.extend((r.start, r.value) for r in client.get(request).readings)
    truth = sim.truth("up-1", FORWARD_30MIN_KWH, FIRST, FIRST + 4 * HALF)
    assert placed == [(r.start, r.value) for r in truth]
    assert [start for start, _ in placed] == [FIRST + k * HALF for k in range(4)]
