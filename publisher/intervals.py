"""Interval plans on the monotonic clock: a wall clock that jumps neither skips nor repeats a cycle.

APScheduler 3 computes every fire time, and compares it with "now", on the wall clock. When the wall clock
is set back by an hour (NTP step, VM restore, an operator's mistake) an interval job waits that extra hour
before it fires again; when it jumps ahead, missed fire times collapse and one may be skipped past the
misfire grace. Interval plans therefore run here instead: the fire times are ``origin + k * interval`` on
``time.monotonic()``, which only moves forward at the rate of real time. The windows a cycle fetches are
still computed from the wall clock (the data is about wall-clock time); only *when* cycles run is
monotonic. Cron plans ("03:00 local") are wall-clock by nature and stay on APScheduler.

Runs behave like the APScheduler jobs they replace: one at a time, a fire time missed while a cycle ran
long collapses with the others into one run (coalescing), and a run later than the misfire grace is
skipped rather than run late. ``jitter`` adds a uniform random delay to each fire time.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog

from publisher.config import PlanConfig

log = structlog.get_logger(__name__)


@dataclass
class _Slot:
    plan: PlanConfig
    interval: float
    origin: float
    k: int  # index of the next fire time on the grid origin + k * interval
    due: float  # that grid point plus its jitter


class IntervalLoop:
    """Fire each interval plan every ``interval`` seconds of the monotonic clock, one run at a time.

    :meth:`step` runs whatever is due and says how long to wait for the next fire time; :meth:`run` loops
    on it in a thread until :meth:`stop`. ``monotonic`` and ``rng`` are injectable so tests drive the loop
    with a fake clock.
    """

    def __init__(
        self,
        plans: Sequence[PlanConfig],
        job: Callable[[PlanConfig], None],
        *,
        run_now: bool = True,
        misfire_grace: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._job = job
        self._misfire_grace = misfire_grace
        self._monotonic = monotonic
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 - schedule jitter, not cryptography
        self._plans = [plan for plan in plans if plan.interval is not None]
        self._run_now = run_now
        self._slots: list[_Slot] = []
        self._stop = threading.Event()

    @property
    def plans(self) -> list[PlanConfig]:
        """The interval plans this loop fires."""
        return list(self._plans)

    def begin(self) -> None:
        """Anchor every plan's grid at the current monotonic time (done by :meth:`run`)."""
        origin = self._monotonic()
        self._slots = []
        for plan in self._plans:
            assert plan.interval is not None
            slot = _Slot(plan, plan.interval.total_seconds(), origin, 0 if self._run_now else 1, 0.0)
            slot.due = self._fire_time(slot)
            self._slots.append(slot)
            log.info(
                "plan_scheduled", plan=plan.name, next_run_in=round(slot.due - origin, 3), clock="monotonic"
            )

    def step(self) -> float | None:
        """Run every plan due now, earliest first; seconds until the next fire time (None: no plans)."""
        for slot in sorted(self._slots, key=lambda s: s.due):
            if self._stop.is_set():
                break
            now = self._monotonic()
            if slot.due > now:
                continue
            late = now - slot.due
            if late > self._misfire_grace:
                log.warning("plan_run_missed", plan=slot.plan.name, late=round(late, 3))
            else:
                self._fire(slot)
            self._advance(slot, self._monotonic())
        if not self._slots:
            return None
        return max(0.0, min(slot.due for slot in self._slots) - self._monotonic())

    def run(self) -> None:
        """Loop until :meth:`stop`: run what is due, sleep (monotonic) until the next fire time."""
        self.begin()
        while not self._stop.is_set():
            wait = self.step()
            self._stop.wait(wait)  # Event.wait times out on the monotonic clock

    def stop(self) -> None:
        """Start no further run (a run in progress finishes)."""
        self._stop.set()

    # ------------------------------------------------------------------------------------------ internals

    def _fire_time(self, slot: _Slot) -> float:
        jitter = slot.plan.jitter.total_seconds()
        extra = self._rng.uniform(0.0, jitter) if jitter > 0 else 0.0
        return slot.origin + slot.k * slot.interval + extra

    def _fire(self, slot: _Slot) -> None:
        try:
            self._job(slot.plan)
        except Exception:  # a failing run must not end the schedule (APScheduler logs and carries on too)
            log.exception("plan_run_crashed", plan=slot.plan.name)

    def _advance(self, slot: _Slot, now: float) -> None:
        """The next grid point; fire times that passed meanwhile collapse into the latest of them."""
        passed = math.floor((now - slot.origin) / slot.interval)
        slot.k = max(slot.k + 1, passed)
        slot.due = self._fire_time(slot)
        if now - slot.due > self._misfire_grace:  # even the latest passed point is too late: the next one
            slot.k = passed + 1
            slot.due = self._fire_time(slot)
