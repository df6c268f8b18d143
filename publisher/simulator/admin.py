"""The admin API under ``/_sim/``: move the clock, manage faults, inspect requests, ask for the truth.

For out-of-process control (``netstream-publisher simulate`` and users' own tests). Loopback only, no
authentication; never faulted and never recorded.

| method + path | body / query | answer |
|---|---|---|
| ``GET /_sim/clock`` | | ``{"now": "…Z", "manual": bool}`` |
| ``POST /_sim/clock`` | ``{"now": "…Z"}`` or ``{"advance_seconds": N}`` | the new ``{"now": …}`` |
| ``GET /_sim/faults`` | | ``{"rules": [...]}`` |
| ``POST /_sim/faults`` | a FaultRule as JSON | 201 ``{"rules": [...]}`` |
| ``DELETE /_sim/faults`` | | 204 |
| ``GET /_sim/requests`` | | ``{"count": N, "requests": [{method, path, status, fault, at}]}`` |
| ``DELETE /_sim/requests`` | | 204 |
| ``POST /_sim/revoke-tokens`` | | 204 |
| ``GET /_sim/truth`` | ``?usage_point=&reading_type=&start=&end=`` (UTC ISO) | ``{"readings": [...]}`` |
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from publisher.errors import ConfigError
from publisher.netstream.model import isoformat_z
from publisher.simulator.faults import FaultPlan, FaultRule
from publisher.simulator.query import Problem
from publisher.simulator.recording import RequestLog
from publisher.simulator.service import Answer, SimulatorService, json_answer, problem_answer

PREFIX = "/_sim/"


def _bad(field: str, message: str) -> Answer:
    return problem_answer(Problem(400, {field: [message]}))


def _aware(text: str, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"{field} {text!r} is not ISO 8601; use e.g. 2025-03-01T00:00:00Z") from exc
    if moment.tzinfo is None:
        raise ConfigError(f"{field} {text!r} has no UTC offset; use e.g. 2025-03-01T00:00:00Z")
    return moment


class AdminApi:
    """Answers ``/_sim/`` requests for one simulator."""

    def __init__(self, service: SimulatorService, faults: FaultPlan, requests: RequestLog) -> None:
        self._service = service
        self._faults = faults
        self._requests = requests

    def handle(self, method: str, path: str, query: str, body: bytes) -> Answer:
        """Answer one admin request; configuration mistakes become 400 ProblemDetails."""
        try:
            return self._route(method, path.removeprefix(PREFIX).rstrip("/"), query, body)
        except ConfigError as exc:
            return _bad("$", exc.message)

    def _route(self, method: str, name: str, query: str, body: bytes) -> Answer:
        routes: dict[tuple[str, str], Callable[[], Answer]] = {
            ("GET", "clock"): self._clock_state,
            ("POST", "clock"): lambda: self._set_clock(body),
            ("GET", "faults"): lambda: self._rules(200),
            ("POST", "faults"): lambda: self._add_fault(body),
            ("DELETE", "faults"): lambda: self._clear(self._faults.clear),
            ("GET", "requests"): self._list_requests,
            ("DELETE", "requests"): lambda: self._clear(self._requests.clear),
            ("POST", "revoke-tokens"): lambda: self._clear(self._service.tokens.revoke_all),
            ("GET", "truth"): lambda: self._truth(query),
        }
        action = routes.get((method, name))
        if action is not None:
            return action()
        if any(key[1] == name for key in routes):
            return problem_answer(Problem(405))
        return problem_answer(Problem(404))

    @staticmethod
    def _json_body(body: bytes) -> Any:
        try:
            return json.loads(body or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"admin request body is not JSON ({exc}); send a JSON object") from exc

    def _clock_state(self) -> Answer:
        clock = self._service.clock
        return json_answer(200, {"now": isoformat_z(clock.now()), "manual": clock.is_manual})

    def _set_clock(self, body: bytes) -> Answer:
        data = self._json_body(body)
        if not isinstance(data, dict):
            raise ConfigError('clock body must be {"now": "...Z"} or {"advance_seconds": N}')
        if isinstance(data.get("now"), str):
            self._service.clock.set(_aware(data["now"], "now"))
        elif isinstance(data.get("advance_seconds"), int | float) and not isinstance(
            data.get("advance_seconds"), bool
        ):
            self._service.clock.advance(timedelta(seconds=data["advance_seconds"]))
        else:
            raise ConfigError('clock body must be {"now": "...Z"} or {"advance_seconds": N}')
        return self._clock_state()

    def _rules(self, status: int) -> Answer:
        return json_answer(status, {"rules": [rule.to_json() for rule in self._faults.rules]})

    def _add_fault(self, body: bytes) -> Answer:
        self._faults.add(FaultRule.from_json(self._json_body(body)))
        return self._rules(201)

    @staticmethod
    def _clear(action: Any) -> Answer:
        action()
        return Answer(204)

    def _list_requests(self) -> Answer:
        items = self._requests.snapshot()
        return json_answer(200, {"count": len(items), "requests": [item.summary() for item in items]})

    def _truth(self, query: str) -> Answer:
        params = {key: values[0] for key, values in parse_qs(query).items()}
        missing = [name for name in ("usage_point", "reading_type", "start", "end") if name not in params]
        if missing:
            raise ConfigError(f"truth needs query parameter(s) {', '.join(missing)}")
        readings = self._service.truth(
            params["usage_point"],
            params["reading_type"],
            _aware(params["start"], "start"),
            _aware(params["end"], "end"),
        )
        return json_answer(200, {"readings": [reading.to_json() for reading in readings]})
