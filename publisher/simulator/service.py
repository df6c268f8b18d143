"""The simulator's HTTP-independent core: a request in, an answer out (token endpoint and GetMeterReadings).

Checks run in the order an ASP.NET Core service applies them: method, bearer token (401), request
Content-Type (415), Accept (406), request body (400), then the data. Fault injection and the admin API
sit in front of this, in :mod:`publisher.simulator.server`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from publisher.errors import ParseError
from publisher.netstream.model import Reading, WireFormat
from publisher.simulator.auth import TokenIssuer
from publisher.simulator.clock import SimClock
from publisher.simulator.config import SimulatorConfig
from publisher.simulator.query import (
    PROBLEM_JSON,
    Problem,
    Query,
    parse_query,
    request_format,
    response_format,
)
from publisher.simulator.render import render
from publisher.simulator.series import SeriesModel, response_zone
from publisher.simulator.shapes import Series, series_of

log = structlog.get_logger(__name__)

READINGS_PATH = "/api/cim17/9/MeterReadings2/get"
_TOKEN_PATH = re.compile(r"/([^/]+)/oauth2/v2\.0/token")
_MEDIA = {
    WireFormat.JSON: "application/json; charset=utf-8",
    WireFormat.XML: "application/xml; charset=utf-8",
}


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, extra headers and body (Content-Length is added when sending)."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


def json_answer(status: int, document: Any, content_type: str = "application/json; charset=utf-8") -> Answer:
    """A JSON answer."""
    return Answer(status, json.dumps(document).encode(), content_type)


def problem_answer(problem: Problem, headers: tuple[tuple[str, str], ...] = ()) -> Answer:
    """A ProblemDetails answer."""
    return Answer(problem.status, problem.body(), PROBLEM_JSON, headers)


UNAUTHORIZED = Answer(401, headers=(("WWW-Authenticate", "Bearer"),))
INVALID_TOKEN = Answer(401, headers=(("WWW-Authenticate", 'Bearer error="invalid_token"'),))


class SimulatorService:
    """Answers token and GetMeterReadings requests from a :class:`SimulatorConfig` at the clock's time."""

    def __init__(self, config: SimulatorConfig, clock: SimClock, tenant: str) -> None:
        self.config = config
        self.clock = clock
        self.tenant = tenant
        self.model = SeriesModel(config)
        self.tokens = TokenIssuer(config, clock, tenant)

    @property
    def token_path(self) -> str:
        """The path of the token endpoint."""
        return f"/{self.tenant}/oauth2/v2.0/token"

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, *, extra_fields: bool = False
    ) -> Answer:
        """Answer one request. ``headers`` keys are lower case."""
        token_match = _TOKEN_PATH.fullmatch(path)
        if token_match is None and path != READINGS_PATH:
            return problem_answer(Problem(404))
        if method != "POST":
            return problem_answer(Problem(405), (("Allow", "POST"),))
        if token_match is not None:
            answer = self.tokens.token_endpoint(token_match.group(1), body)
            return json_answer(answer.status, answer.document)
        return self._readings(headers, body, extra_fields=extra_fields)

    def _readings(self, headers: Mapping[str, str], body: bytes, *, extra_fields: bool) -> Answer:
        if not self.tokens.accepts(headers.get("authorization")):
            return UNAUTHORIZED
        fmt = request_format(headers.get("content-type"))
        if fmt is None:
            return problem_answer(Problem(415))
        answer_format = response_format(headers.get("accept"))
        if answer_format is None:
            return Answer(406)
        query = parse_query(body, fmt)
        if isinstance(query, Problem):
            return problem_answer(query)
        series = self.series(query, self.clock.now())
        return Answer(200, render(series, answer_format, extra_fields=extra_fields), _MEDIA[answer_format])

    def series(self, query: Query, now: datetime) -> list[Series]:
        """The series a query asks for, with the readings visible at ``now``."""
        found: list[Series] = []
        for point in self.config.resolve(query.targets):
            zone = response_zone(self.config, point)
            try:
                start, end = query.window(zone)
            except ParseError as exc:
                log.debug("window_skipped", usage_point=point.mrid, reason=exc.message)
                continue
            for reading_type in query.reading_types:
                if not point.serves(reading_type):
                    continue
                readings = self.model.readings(point, reading_type, start, end, now)
                found.append(series_of(point.mrid, point.meter_mrid, reading_type, zone, readings))
        return found

    def truth(self, usage_point: str, reading_type: str, start: datetime, end: datetime) -> list[Reading]:
        """The readings a correct client must get for the series and UTC window at the clock's time."""
        point = self.config.usage_point(usage_point)
        if point is None:
            return []
        return self.model.readings(point, reading_type, start, end, self.clock.now())
