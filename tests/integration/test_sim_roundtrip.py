"""Round trips over real HTTP: what the parser reads from the simulator's answers is exactly the truth."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from publisher.netstream.model import Reading, WireFormat
from publisher.netstream.parser import parse_response
from publisher.simulator import (
    FORWARD_DAILY_KWH,
    SimClock,
    SimulatorConfig,
    SimulatorServer,
)
from publisher.simulator.config import DEFAULT_READING_TYPES


def sort_key(reading: Reading) -> tuple[str, str, str, datetime]:
    return (reading.usage_point, reading.reading_type, reading.kind.value, reading.end)


@pytest.mark.parametrize("fmt", list(WireFormat))
def test_a_group_over_the_autumn_dst_change_round_trips(fmt: WireFormat) -> None:
    config = SimulatorConfig.demo(count=8, seed=5)
    everyone = next(iter(config.usage_point_groups))
    # NZ and AU both leave daylight saving on 2025-04-06; the clock stands mid-morning two days later,
    # so late intervals, estimates not yet revised and the current day's partial data are all in play.
    clock = SimClock(datetime(2025, 4, 7, 22, 17, tzinfo=UTC))
    reading_types = (*DEFAULT_READING_TYPES, FORWARD_DAILY_KWH)
    request = {
        "reading": [
            {"timePeriod": {"start": "2025-03-31T00:00:00+13:00", "end": "2025-04-09T00:00:00+12:00"}}
        ],
        "readingType": [{"mRID": code} for code in reading_types],
        "usagePointGroup": [{"mRID": everyone}],
    }
    zones = {point.mrid: ZoneInfo(point.timezone) for point in config.usage_points}
    with SimulatorServer(config, clock=clock) as sim, requests.Session() as http:
        answer = http.post(
            sim.readings_url,
            data=json.dumps(request),
            headers={
                "Authorization": "Bearer " + token(sim, http),
                "Content-Type": "application/json",
                "Accept": f"application/{fmt.value}",
            },
            timeout=60,
        )
        assert answer.status_code == 200
        result = parse_response(answer.content, fmt, default_zone=ZoneInfo("UTC"), zone_for=zones.get)
        start = datetime(2025, 3, 30, 11, tzinfo=UTC)
        end = datetime(2025, 4, 8, 12, tzinfo=UTC)
        expected = [
            reading
            for point in config.usage_points
            for code in reading_types
            for reading in sim.truth(point.mrid, code, start, end)
        ]
    assert result.rejected == []
    assert sorted(result.readings, key=sort_key) == sorted(expected, key=sort_key)
    assert {r.usage_point for r in expected} == set(zones)
    assert {r.quality for r in expected} >= {128, 256, 257}


def token(sim: SimulatorServer, http: requests.Session) -> str:
    form = {"grant_type": "client_credentials", "client_id": "sim-client", "client_secret": "sim-secret"}
    answer = http.post(sim.token_url, data={**form, "scope": "api://netstream/.default"}, timeout=10)
    value = answer.json()["access_token"]
    assert isinstance(value, str)
    return value


def test_polling_a_moving_clock_converges_on_the_final_truth() -> None:
    config = SimulatorConfig.demo(count=2, seed=9)
    point = config.usage_points[1]
    code = DEFAULT_READING_TYPES[0]
    start = datetime(2025, 9, 27, 12, tzinfo=UTC)  # 2025-09-28 00:00 NZST, the spring-forward day
    end = datetime(2025, 9, 28, 11, tzinfo=UTC)  # 2025-09-29 00:00 NZDT: a 23-hour day
    request = {
        "reading": [{"timePeriod": {"start": "2025-09-28T00:00:00", "end": "2025-09-29T00:00:00"}}],
        "readingType": [{"mRID": code}],
        "endDevice": [{"mRID": point.meter_mrid}],
    }
    seen: dict[datetime, Reading] = {}
    with SimulatorServer(config, clock=SimClock(start)) as sim, requests.Session() as http:
        for _ in range(12):
            sim.clock.advance(timedelta(hours=3))  # longer than a token lives: fetch a new one each time
            headers = {"Authorization": "Bearer " + token(sim, http), "Content-Type": "application/json"}
            answer = http.post(sim.readings_url, data=json.dumps(request), headers=headers, timeout=30)
            result = parse_response(answer.content, WireFormat.JSON, default_zone=ZoneInfo(point.timezone))
            assert result.rejected == []
            assert sorted(result.readings, key=sort_key) == sim.truth(point.mrid, code, start, end)
            seen.update((r.end, r) for r in result.readings)
        final = sim.truth(point.mrid, code, start, end)
    assert len(final) == 46
    assert sorted(seen.values(), key=sort_key) == final
