"""Fault injection: rules that make the simulator misbehave for chosen requests, a given number of times.

A rule applies to requests whose path starts with ``path`` (the default ``/api/`` means GetMeterReadings;
``/`` also hits the token endpoint) and, if ``match_body`` is set, whose body matches that regex. Rules
are tried in the order they were added; the first that matches is used up by one and applied. Admin
requests (``/_sim/…``) are never faulted. A rule with ``probability`` below 1 applies to a matching request
only that often (drawn from the plan's seeded generator, so a storm is reproducible); a request it lets pass
goes on to the next rule and does not use up ``times``.
"""

from __future__ import annotations

import math
import random
import re
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, get_args

from publisher.errors import ConfigError

FaultKind = Literal["status", "slow", "hang", "drop", "truncate", "malformed", "extra_fields", "expire_token"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)


@dataclass
class FaultRule:
    """One way to misbehave.

    ``status``: answer with ``status`` (401 with ``WWW-Authenticate``, others with ProblemDetails) and, if
    given, ``Retry-After: <retry_after>``. ``slow``: wait ``delay`` seconds, then answer normally. ``hang``:
    read the request and never answer; the connection stays open until the client gives up or the simulator
    stops (a hung upstream). ``drop``: close the connection without an answer. ``truncate``: promise the
    full Content-Length, send half, close.
    ``malformed``: 200 with a body that does not parse. ``extra_fields``: 200 with the right data plus
    unknown keys/elements. ``expire_token``: revoke every issued token, then answer 401.
    """

    kind: FaultKind
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    times: int | None = 1
    path: str = "/api/"
    match_body: str | None = None
    probability: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ConfigError(f"fault kind {self.kind!r} is unknown; use one of {', '.join(FAULT_KINDS)}")
        if isinstance(self.status, bool) or not isinstance(self.status, int) or not 100 <= self.status <= 599:
            raise ConfigError(f"fault status {self.status!r} is not an HTTP status; use e.g. 429 or 503")
        if isinstance(self.delay, bool) or not isinstance(self.delay, int | float) or self.delay < 0:
            raise ConfigError(f"fault delay {self.delay!r} is invalid; use seconds >= 0")
        if self.times is not None and (isinstance(self.times, bool) or not isinstance(self.times, int)):
            raise ConfigError(f"fault times {self.times!r} is invalid; use a positive integer or null")
        if self.times is not None and self.times < 1:
            raise ConfigError(f"fault times is {self.times}; use at least 1, or null for forever")
        if not isinstance(self.path, str) or not self.path.startswith("/"):
            raise ConfigError(f"fault path {self.path!r} must start with '/'; e.g. /api/ or /")
        if self.retry_after is not None and not isinstance(self.retry_after, str):
            raise ConfigError("fault retry_after must be a string such as '2' or an HTTP date")
        if (
            isinstance(self.probability, bool)
            or not isinstance(self.probability, int | float)
            or not math.isfinite(self.probability)
            or not 0.0 < self.probability <= 1.0
        ):
            raise ConfigError(
                f"fault probability {self.probability!r} is invalid; use a fraction in (0, 1], e.g. 0.5"
            )
        if self.match_body is not None:
            try:
                re.compile(self.match_body)
            except (re.error, TypeError) as exc:
                raise ConfigError(
                    f"fault match_body {self.match_body!r} is not a valid regex: {exc}"
                ) from exc

    def matches(self, path: str, body: bytes) -> bool:
        """True if this rule applies to a request for ``path`` with ``body``."""
        if not path.startswith(self.path):
            return False
        if self.match_body is None:
            return True
        return re.search(self.match_body, body.decode("utf-8", "replace")) is not None

    @classmethod
    def from_json(cls, data: Any) -> FaultRule:
        """A rule from its JSON form (the admin API): the field names above, ``kind`` required."""
        if not isinstance(data, Mapping):
            raise ConfigError('a fault must be a JSON object such as {"kind": "status", "status": 503}')
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"fault has unknown field(s) {', '.join(unknown)}; use {', '.join(sorted(known))}"
            )
        if "kind" not in data:
            raise ConfigError(f"fault has no kind; use one of {', '.join(FAULT_KINDS)}")
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        """The JSON form of this rule."""
        return asdict(self)


class FaultPlan:
    """The active fault rules of one simulator (thread-safe); ``seed`` fixes probabilistic rules' draws."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._entries: list[tuple[FaultRule, list[int | None]]] = []
        self._rng = random.Random(seed)  # noqa: S311 - reproducible fault draws, not cryptography

    def add(self, rule: FaultRule) -> None:
        """Append ``rule``; it applies ``rule.times`` times (forever if None)."""
        with self._lock:
            self._entries.append((rule, [rule.times]))

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._entries.clear()

    @property
    def rules(self) -> list[FaultRule]:
        """The rules still active, in order."""
        with self._lock:
            return [rule for rule, _ in self._entries]

    def take(self, path: str, body: bytes) -> FaultRule | None:
        """The first rule that applies to this request, used up by one; ``None`` if none applies."""
        with self._lock:
            for index, (rule, remaining) in enumerate(self._entries):
                if not rule.matches(path, body):
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                left = remaining[0]
                if left is not None:
                    if left <= 1:
                        del self._entries[index]
                    else:
                        remaining[0] = left - 1
                return rule
        return None
