"""publish_run (a series' readings in one call) decides and applies exactly as decide + apply per reading."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.errors import ParseError
from publisher.netstream.model import Reading, ReadingKind
from publisher.pipeline.locate import day_start
from publisher.pipeline.series_store import Decision, Outcome, SeriesStore

NZ = ZoneInfo("Pacific/Auckland")
UP = "6f1c2a10-5b1e-4c2d-9a10-00000000000a"
RT = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
HALF = timedelta(minutes=30)
#: a day before the end of daylight saving (48 slots), its last day (50 slots) and the day after
DAYS = (date(2025, 4, 5), date(2025, 4, 6), date(2025, 4, 7))
FIRST = day_start(NZ, DAYS[0])
SLOTS = int((day_start(NZ, DAYS[-1] + timedelta(days=1)) - FIRST) / HALF)


def reading(
    slot: int, value: Decimal | None, flags: int | None, *, skew: int = 0, register: bool = False
) -> Reading:
    """Half-hour ``slot`` counted from the first day's start; ``skew`` minutes off the grid; or a register."""
    start = FIRST + slot * HALF + timedelta(minutes=skew)
    if register:
        return Reading(UP, None, RT, ReadingKind.REGISTER, None, start, value, flags, ())
    return Reading(UP, None, RT, ReadingKind.INTERVAL, start, start + HALF, value, flags, ())


values = st.none() | st.sampled_from(
    [Decimal("0.5"), Decimal("0.50"), Decimal("1.25"), Decimal(-3), Decimal("1E+3")]
)
flags = st.none() | st.sampled_from([0, 256, 2048])
slots = st.integers(min_value=0, max_value=SLOTS - 1)
intervals = st.builds(reading, slots, values, flags, skew=st.sampled_from([0, 0, 0, 0, 7]))
registers = st.builds(reading, slots, values, flags, register=st.just(True))
runs = st.lists(
    st.tuples(
        st.lists(intervals | registers, max_size=60),
        st.lists(st.booleans(), min_size=60, max_size=60),  # which readings emit publishes
    ),
    min_size=1,
    max_size=4,
)


def one_by_one(store: SeriesStore, run: list[Reading], accepted: list[bool]) -> list[Decision]:
    """The reference: decide, and apply what is published, reading by reading."""
    decisions = []
    for index, r in enumerate(run):
        fields = (NZ, r.start, r.end, HALF, r.value, r.quality, r.quality_codes)
        decision = store.decide(UP, RT, *fields)
        decisions.append(decision)
        if decision.outcome is not Outcome.SUPPRESSED and accepted[index]:
            store.apply(UP, RT, *fields, decision.revision)
    return decisions


def in_one_call(store: SeriesStore, run: list[Reading], accepted: list[bool]) -> list[Decision]:
    decisions: list[Decision] = []

    def emit(r: Reading, decision: Decision) -> bool:
        decisions.append(decision)
        return decision.outcome is not Outcome.SUPPRESSED and accepted[len(decisions) - 1]

    store.publish_run(UP, RT, NZ, HALF, run, emit)
    return decisions


@settings(max_examples=200, deadline=None)
@given(runs)
def test_a_run_is_decided_and_applied_as_reading_by_reading(
    batches: list[tuple[list[Reading], list[bool]]],
) -> None:
    expected, actual = SeriesStore(), SeriesStore()
    for run, accepted in batches:
        assert in_one_call(actual, run, accepted) == one_by_one(expected, run, accepted)
        assert actual.dirty_records() == expected.dirty_records()
        actual.commit()
        expected.commit()
    assert actual.day_count() == expected.day_count()


def test_a_repeated_interval_in_one_run_sees_the_earlier_reading() -> None:
    store = SeriesStore()
    run = [
        reading(3, Decimal(1), 0),
        reading(3, Decimal(1), 0),
        reading(3, Decimal(2), 0),
        reading(4, None, 0),
    ]
    outcomes = [d.outcome for d in in_one_call(store, run, [True] * 4)]
    assert outcomes == [Outcome.NEW, Outcome.SUPPRESSED, Outcome.REVISED, Outcome.NEW]


def test_a_reading_emit_refuses_is_not_remembered() -> None:
    store = SeriesStore()
    run = [reading(5, Decimal(1), 0), reading(5, Decimal(1), 0)]
    assert [d.outcome for d in in_one_call(store, run, [False, True])] == [Outcome.NEW, Outcome.NEW]


def test_a_non_finite_value_is_refused_as_decide_refuses_it() -> None:
    store = SeriesStore()
    with pytest.raises(ParseError, match="not a finite number"):
        in_one_call(store, [reading(0, Decimal(1), 0), reading(1, Decimal("NaN"), 0)], [True, True])


def test_the_run_crosses_days_and_the_repeated_daylight_saving_hour() -> None:
    store = SeriesStore()
    run = [reading(slot, Decimal(slot), 0) for slot in range(SLOTS)]
    assert all(d.outcome is Outcome.NEW for d in in_one_call(store, run, [True] * SLOTS))
    assert store.day_count() == 3
    assert all(d.outcome is Outcome.SUPPRESSED for d in in_one_call(store, run, [True] * SLOTS))
    assert SLOTS == 48 + 50 + 48
    assert datetime(2025, 4, 6, 2, 30, tzinfo=NZ).astimezone(UTC) in {r.start for r in run}
