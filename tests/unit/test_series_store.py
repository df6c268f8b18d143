"""The series store: dedup outcomes, DST slots, exact values, transactions, restore and eviction."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.errors import KafkaFatalError, ParseError
from publisher.kafka.state_codec import (
    decode_day,
    encode_progress,
    parse_state_key,
    progress_key,
    read_slot,
    state_key,
)
from publisher.pipeline.series_store import Decision, Outcome, SeriesStore, day_start, locate

NZ = ZoneInfo("Pacific/Auckland")
UP = "6f1c2a10-5b1e-4c2d-9a10-00000000000a"
RT = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
REGISTER_RT = "0.0.0.9.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
DAILY_RT = "11.0.0.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
HALF = timedelta(minutes=30)


@dataclass(frozen=True)
class R:
    """A reading as the pipeline hands it to the store."""

    start: datetime | None
    end: datetime
    value: Decimal | None
    flags: int | None = 256
    codes: tuple[str, ...] = ()
    interval: timedelta | None = HALF
    usage_point: str = UP
    reading_type: str = RT


def half_hour(local: str, value: Decimal | str | None, **changes: object) -> R:
    """The half-hour starting at the local (Auckland) wall time ``local``; fold=1 for ``local+1``."""
    fold = local.endswith("+1")
    start = (
        datetime.fromisoformat(local.removesuffix("+1")).replace(tzinfo=NZ, fold=int(fold)).astimezone(UTC)
    )
    number = Decimal(value) if isinstance(value, str) else value
    return replace(R(start, start + HALF, number), **changes)  # type: ignore[arg-type]  # test helper


def decide(store: SeriesStore, r: R) -> Decision:
    return store.decide(
        r.usage_point, r.reading_type, NZ, r.start, r.end, r.interval, r.value, r.flags, r.codes
    )


def apply(store: SeriesStore, r: R, revision: int) -> None:
    store.apply(
        r.usage_point, r.reading_type, NZ, r.start, r.end, r.interval, r.value, r.flags, r.codes, revision
    )


def publish(store: SeriesStore, r: R) -> Decision:
    """What the pipeline does: decide, and apply whatever is published."""
    decision = decide(store, r)
    if decision.outcome is not Outcome.SUPPRESSED:
        apply(store, r, decision.revision)
    return decision


NEW = Decision(Outcome.NEW, 0, None, None, False)


# ------------------------------------------------------------------------------------------ outcomes


def test_first_reading_is_new_and_an_identical_one_is_suppressed() -> None:
    store = SeriesStore()
    reading = half_hour("2025-03-03T10:00", "1.234")
    assert publish(store, reading) == NEW
    assert decide(store, reading) == Decision(Outcome.SUPPRESSED, 0)
    store.commit()
    assert decide(store, reading) == Decision(Outcome.SUPPRESSED, 0)
    assert decide(store, replace(reading, value=Decimal("1.2340"))).outcome is Outcome.SUPPRESSED


def test_value_change_is_revision_1_with_the_exact_previous_value_then_revision_2() -> None:
    store = SeriesStore()
    publish(store, half_hour("2025-03-03T10:00", "1.234", flags=0x4100))
    first = publish(store, half_hour("2025-03-03T10:00", "1.250", flags=0x4100))
    assert first == Decision(Outcome.REVISED, 1, Decimal("1.234"), 0x4100, False)
    second = publish(store, half_hour("2025-03-03T10:00", "1.260"))
    assert second == Decision(Outcome.REVISED, 2, Decimal("1.250"), 0x4100, False)
    assert decide(store, half_hour("2025-03-03T10:00", "1.260")) == Decision(Outcome.SUPPRESSED, 2)


def test_flags_only_change_is_a_revision() -> None:
    store = SeriesStore()
    publish(store, half_hour("2025-03-03T10:00", "0.5", flags=0x4100))
    assert publish(store, half_hour("2025-03-03T10:00", "0.5")) == Decision(
        Outcome.REVISED, 1, Decimal("0.5"), 0x4100, False
    )


def test_missing_is_published_and_its_later_arrival_is_a_revision() -> None:
    store = SeriesStore()
    missing = half_hour("2025-03-03T10:00", None, flags=0x0800)
    assert publish(store, missing) == NEW
    assert decide(store, missing) == Decision(Outcome.SUPPRESSED, 0)
    assert decide(store, replace(missing, flags=0x0801)) == Decision(Outcome.REVISED, 1, None, 0x0800, True)
    arrived = publish(store, half_hour("2025-03-03T10:00", "0.731"))
    assert arrived == Decision(Outcome.REVISED, 1, None, 0x0800, True)
    assert publish(store, missing) == Decision(Outcome.REVISED, 2, Decimal("0.731"), 256, False)


def test_late_data_earlier_than_everything_seen_is_new() -> None:
    store = SeriesStore()
    for hour in range(10, 20):
        publish(store, half_hour(f"2025-03-05T{hour}:00", "1"))
    store.commit()
    assert publish(store, half_hour("2025-03-05T02:00", "1")) == NEW
    assert publish(store, half_hour("2025-03-01T02:00", "1")) == NEW
    assert publish(store, half_hour("2025-03-05T10:30", "1")) == NEW
    assert decide(store, half_hour("2025-03-05T10:00", "1")).outcome is Outcome.SUPPRESSED


def test_quality_codes_count_only_without_flags() -> None:
    store = SeriesStore()
    coded = half_hour("2025-03-03T10:00", "1", flags=None, codes=("1.4.2",))
    publish(store, coded)
    assert decide(store, coded).outcome is Outcome.SUPPRESSED
    assert decide(store, replace(coded, codes=("3.8.0",))) == Decision(
        Outcome.REVISED, 1, Decimal(1), None, False
    )
    flagged = half_hour("2025-03-03T11:00", "1", codes=("1.4.2",))
    publish(store, flagged)
    assert decide(store, replace(flagged, codes=("3.8.0", "1.4.2"))).outcome is Outcome.SUPPRESSED


def test_series_are_separate_by_usage_point_and_reading_type() -> None:
    store = SeriesStore()
    reading = half_hour("2025-03-03T10:00", "1")
    publish(store, reading)
    assert decide(store, replace(reading, usage_point="other")) == NEW
    assert decide(store, replace(reading, reading_type="other")) == NEW
    assert store.series_count() == 1


def test_register_readings_are_keyed_by_their_end() -> None:
    store = SeriesStore()
    at = datetime(2025, 3, 3, 11, 0, 0, 250000, tzinfo=UTC)
    register = R(None, at, Decimal("123456.789"), interval=None, reading_type=REGISTER_RT)
    assert publish(store, register) == NEW
    assert decide(store, register).outcome is Outcome.SUPPRESSED
    assert decide(store, replace(register, end=at.astimezone(NZ))).outcome is Outcome.SUPPRESSED
    assert decide(store, replace(register, end=at + timedelta(microseconds=1))) == NEW
    assert publish(store, replace(register, value=Decimal("123456.790"))) == Decision(
        Outcome.REVISED, 1, Decimal("123456.789"), 256, False
    )
    store.commit()
    assert store.has_day(UP, REGISTER_RT, date(2025, 3, 4))  # 11:00Z is 00:00 NZDT on 4 March


def test_daily_and_off_grid_readings_are_entries_keyed_by_end() -> None:
    start = datetime(2025, 3, 3, tzinfo=NZ).astimezone(UTC)
    daily = R(start, start + timedelta(days=1), Decimal(12), interval=None, reading_type=DAILY_RT)
    assert locate(NZ, daily.start, daily.end, daily.interval).slot is None
    off_grid = half_hour("2025-03-03T10:15", "1")
    assert locate(NZ, off_grid.start, off_grid.end, HALF).slot is None
    store = SeriesStore()
    assert publish(store, daily) == NEW
    assert publish(store, off_grid) == NEW
    assert decide(store, daily).outcome is Outcome.SUPPRESSED
    assert decide(store, off_grid).outcome is Outcome.SUPPRESSED
    assert store.has_day(UP, DAILY_RT, date(2025, 3, 4))


# ------------------------------------------------------------------------------------------ DST


@pytest.mark.parametrize(
    ("day", "slots"), [(date(2025, 4, 6), 50), (date(2025, 9, 28), 46), (date(2025, 3, 3), 48)]
)
def test_dst_days_have_50_or_46_half_hour_slots(day: date, slots: int) -> None:
    first = day_start(NZ, day)
    following = day_start(NZ, day + timedelta(days=1))
    assert (following - first) // HALF == slots
    store = SeriesStore()
    starts = [first + k * HALF for k in range(slots)]
    assert [locate(NZ, s, s + HALF, HALF).slot for s in starts] == list(range(slots))
    assert {locate(NZ, s, s + HALF, HALF).day for s in starts} == {day}
    assert locate(NZ, following, following + HALF, HALF).day == day + timedelta(days=1)
    for k, s in enumerate(starts):
        assert publish(store, R(s, s + HALF, Decimal(k))) == NEW
    assert [decide(store, R(s, s + HALF, Decimal(k))).outcome for k, s in enumerate(starts)] == [
        Outcome.SUPPRESSED
    ] * slots
    [(key, value)] = store.dirty_records()
    assert parse_state_key(key) == (UP, RT, day)
    state = decode_day(value)
    assert state.slot_count == slots
    assert [read_slot(state, k).value for k in range(slots)] == [Decimal(k) for k in range(slots)]  # type: ignore[union-attr]  # every slot is published


def test_the_repeated_hour_does_not_collide() -> None:
    first = half_hour("2025-04-06T02:00", "1.1")  # 02:00 NZDT (+13) = 13:00Z
    second = half_hour("2025-04-06T02:00+1", "2.2")  # 02:00 NZST (+12) = 14:00Z
    assert first.start is not None
    assert second.start is not None
    assert second.start - first.start == timedelta(hours=1)
    store = SeriesStore()
    assert publish(store, first) == NEW
    assert publish(store, second) == NEW
    assert decide(store, first).outcome is Outcome.SUPPRESSED
    assert decide(store, second).outcome is Outcome.SUPPRESSED
    assert locate(NZ, first.start, first.end, HALF).slot == 4
    assert locate(NZ, second.start, second.end, HALF).slot == 6


def test_day_start_in_a_midnight_dst_gap_is_the_first_instant_of_the_day() -> None:
    sao_paulo = ZoneInfo("America/Sao_Paulo")  # 2018-11-04 00:00 did not exist (clocks went to 01:00)
    first = day_start(sao_paulo, date(2018, 11, 4))
    assert first == datetime(2018, 11, 4, 3, tzinfo=UTC)
    assert first.astimezone(sao_paulo).date() == date(2018, 11, 4)
    assert (first - timedelta(microseconds=1)).astimezone(sao_paulo).date() == date(2018, 11, 3)


# ------------------------------------------------------------------------------------------ exact values


@pytest.mark.parametrize(
    ("stored", "probe", "outcome"),
    [
        (Decimal("0.1") + Decimal("0.2"), Decimal("0.3"), Outcome.SUPPRESSED),
        (Decimal("0.300"), Decimal("0.3"), Outcome.SUPPRESSED),
        (Decimal("0.123456"), Decimal("0.123457"), Outcome.REVISED),
        (Decimal("-4.999"), Decimal("-4.999"), Outcome.SUPPRESSED),
        (Decimal("-4.999"), Decimal("4.999"), Outcome.REVISED),
        (Decimal("12345678901234567890.123456"), Decimal("12345678901234567890.123456"), Outcome.SUPPRESSED),
        (Decimal("12345678901234567890.123456"), Decimal("12345678901234567890.123457"), Outcome.REVISED),
        (Decimal("0.1234567"), Decimal("0.1234568"), Outcome.REVISED),
        (Decimal("1E+30"), Decimal(1000000000000000000000000000000), Outcome.SUPPRESSED),
        (Decimal(0), Decimal("-0.000"), Outcome.SUPPRESSED),
    ],
)
def test_values_are_compared_exactly(stored: Decimal, probe: Decimal, outcome: Outcome) -> None:
    store = SeriesStore()
    neighbour = half_hour("2025-03-03T09:30", "1.5")  # a typical value on the same day
    publish(store, neighbour)
    publish(store, half_hour("2025-03-03T10:00", stored))
    store.commit()
    restored = SeriesStore()
    for key, value in _all_records(store):
        restored.load_record(key, value)
    for target in (store, restored):
        decision = decide(target, half_hour("2025-03-03T10:00", probe))
        assert decision.outcome is outcome
        if outcome is Outcome.REVISED:
            assert decision.previous_value == stored
        assert decide(target, neighbour).outcome is Outcome.SUPPRESSED


def _all_records(store: SeriesStore) -> list[tuple[bytes, bytes]]:
    """Every day the store holds, as state records (a test-only view of its internals)."""
    records = []
    for reading_type, by_point in store._series.items():
        for usage_point, days in by_point.items():
            for ordinal, block in zip(days[::2], days[1::2], strict=True):
                assert isinstance(ordinal, int)
                assert isinstance(block, bytes)
                records.append((state_key(usage_point, reading_type, date.fromordinal(ordinal)), block))
    return records


def test_the_previous_value_of_a_revision_is_exact_to_6_places_and_beyond() -> None:
    store = SeriesStore()
    publish(store, half_hour("2025-03-03T10:00", "0.000001"))
    assert publish(store, half_hour("2025-03-03T10:00", "98765432109876543210.5")).previous_value == Decimal(
        "0.000001"
    )
    assert publish(store, half_hour("2025-03-03T10:00", "0.1")).previous_value == Decimal(
        "98765432109876543210.5"
    )


# ------------------------------------------------------------------------------------------ errors


def test_invalid_input_is_refused() -> None:
    store = SeriesStore()
    with pytest.raises(ParseError, match="not a finite number"):
        decide(store, half_hour("2025-03-03T10:00", "NaN"))
    with pytest.raises(ParseError, match="not a finite number"):
        apply(store, half_hour("2025-03-03T10:00", "Infinity"), 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(store, R(datetime(2025, 3, 3, 10), datetime(2025, 3, 3, 10, 30), Decimal(1)))  # noqa: DTZ001 -- a naive time on purpose
    with pytest.raises(ValueError, match="negative"):
        apply(store, half_hour("2025-03-03T10:00", "1"), -1)
    with pytest.raises(ValueError, match="horizon_days"):
        SeriesStore(horizon_days=0)


# ------------------------------------------------------------------------------------------ transactions


def test_rollback_restores_every_day_changed_since_the_last_commit() -> None:
    store = SeriesStore()
    kept = half_hour("2025-03-03T10:00", "1")
    store.begin()
    publish(store, kept)
    store.commit()
    store.begin()
    assert publish(store, replace(kept, value=Decimal(2))).outcome is Outcome.REVISED
    assert publish(store, half_hour("2025-03-04T10:00", "1")) == NEW
    assert publish(store, half_hour("2025-03-03T11:00", "1")) == NEW
    assert len(store.dirty_records()) == 2
    store.rollback()
    assert store.dirty_records() == []
    assert decide(store, kept).outcome is Outcome.SUPPRESSED
    assert decide(store, half_hour("2025-03-04T10:00", "1")) == NEW
    assert decide(store, half_hour("2025-03-03T11:00", "1")) == NEW
    assert not store.has_day(UP, RT, date(2025, 3, 4))
    assert store.day_count() == 1
    # the batch is redone from the committed state and gets the same decisions
    store.begin()
    assert publish(store, replace(kept, value=Decimal(2))) == Decision(
        Outcome.REVISED, 1, Decimal(1), 256, False
    )


def test_commit_keeps_changes_and_clears_the_dirty_days() -> None:
    store = SeriesStore()
    store.begin()
    publish(store, half_hour("2025-03-03T10:00", "1"))
    publish(store, half_hour("2025-03-03T10:30", "2"))
    assert store.has_day(UP, RT, date(2025, 3, 3))
    [(key, value)] = store.dirty_records()
    assert parse_state_key(key) == (UP, RT, date(2025, 3, 3))
    assert decode_day(value).slot_count == 22  # 10:30 is slot 21; later slots are not stored yet
    store.clear_dirty()
    assert store.dirty_records() == []
    store.rollback()  # nothing left to roll back
    assert decide(store, half_hour("2025-03-03T10:30", "2")).outcome is Outcome.SUPPRESSED


def test_begin_refuses_uncommitted_changes() -> None:
    store = SeriesStore()
    publish(store, half_hour("2025-03-03T10:00", "1"))
    with pytest.raises(RuntimeError, match="commit\\(\\) or rollback\\(\\)"):
        store.begin()


# ------------------------------------------------------------------------------------------ restore, eviction


def test_load_record_restores_replaces_and_deletes_days() -> None:
    source = SeriesStore()
    publish(source, half_hour("2025-03-03T10:00", "1"))
    [(key, first)] = source.dirty_records()
    source.commit()
    publish(source, half_hour("2025-03-03T10:00", "2"))
    [(_, second)] = source.dirty_records()

    store = SeriesStore()
    store.load_record(progress_key("job"), encode_progress("job", [1, 2]))  # other record types: ignored
    store.load_record(key, first)
    assert decide(store, half_hour("2025-03-03T10:00", "1")).outcome is Outcome.SUPPRESSED
    store.load_record(key, second)
    assert decide(store, half_hour("2025-03-03T10:00", "2")) == Decision(Outcome.SUPPRESSED, 1)
    store.load_record(key, None)
    assert store.day_count() == 0
    assert store.series_count() == 0
    with pytest.raises(KafkaFatalError, match="day state"):
        store.load_record(key, encode_progress("job", [1]))


def test_load_record_does_not_overwrite_uncommitted_changes() -> None:
    store = SeriesStore()
    publish(store, half_hour("2025-03-03T10:00", "1"))
    [(key, mine)] = store.dirty_records()
    store.commit()
    store.begin()
    publish(store, half_hour("2025-03-03T10:00", "2"))
    store.load_record(key, mine)
    assert decide(store, half_hour("2025-03-03T10:00", "2")) == Decision(Outcome.SUPPRESSED, 1)


def test_evict_before_bounds_memory_and_old_days_load_back_on_demand() -> None:
    store = SeriesStore(horizon_days=14)
    records: dict[bytes, bytes] = {}
    for usage_point in ("a", "b", "c"):
        for offset in range(30):
            day = date(2025, 2, 1) + timedelta(days=offset)
            publish(store, half_hour(f"{day.isoformat()}T12:00", str(offset), usage_point=usage_point))
        records.update(store.dirty_records())
        store.commit()
    assert store.day_count() == 90
    assert store.series_count() == 3
    size_before = store.approx_bytes()
    today = date(2025, 3, 2)
    assert store.horizon_start(today) == date(2025, 2, 16)
    assert store.evict_expired(today) == 45
    assert store.day_count() == 45
    assert store.approx_bytes() < size_before
    assert not store.has_day("a", RT, date(2025, 2, 15))
    assert store.has_day("a", RT, date(2025, 2, 16))
    old = half_hour("2025-02-03T12:00", "2", usage_point="b")
    assert decide(store, old) == NEW  # evicted: the store no longer knows; load the window first
    for key, value in records.items():
        parsed = parse_state_key(key)
        assert parsed is not None
        if date(2025, 2, 3) <= parsed[2] <= date(2025, 2, 4):
            store.load_record(key, value)
    assert store.day_count() == 51
    assert decide(store, old).outcome is Outcome.SUPPRESSED
    assert store.evict_before(date(2025, 2, 16)) == 6
    assert store.evict_before(date(2025, 12, 31)) == 45
    assert (store.day_count(), store.series_count(), store.approx_bytes()) == (0, 0, 0)


def test_evict_keeps_days_with_uncommitted_changes() -> None:
    store = SeriesStore()
    publish(store, half_hour("2025-03-03T10:00", "1"))
    assert store.evict_before(date(2025, 12, 31)) == 0
    assert len(store.dirty_records()) == 1
    store.commit()
    assert store.evict_before(date(2025, 12, 31)) == 1


def test_loaded_days_tell_the_pipeline_what_to_load() -> None:
    store = SeriesStore()
    first, last = date(2025, 3, 1), date(2025, 3, 5)
    assert store.unloaded_days(first, last) == [first + timedelta(days=k) for k in range(5)]
    store.mark_loaded(date(2025, 3, 4))  # horizon restored: 4 March and everything after
    assert store.unloaded_days(first, last) == [date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)]
    store.mark_loaded(date(2025, 2, 1), date(2025, 3, 1))  # a backfill window further back
    assert store.unloaded_days(first, last) == [date(2025, 3, 2), date(2025, 3, 3)]
    store.mark_loaded(date(2025, 3, 2), date(2025, 3, 3))  # adjoins the horizon: one range again
    assert store.unloaded_days(date(2025, 1, 1), last)[-1] == date(2025, 1, 31)
    store.evict_before(date(2025, 3, 3))
    assert store.unloaded_days(first, last) == [date(2025, 3, 1), date(2025, 3, 2)]


# ------------------------------------------------------------------------------------------ properties

BASE = datetime(2025, 4, 4, 11, tzinfo=UTC)  # midnight NZDT of 5 April; 6 April has 50 half-hours
values = st.sampled_from(
    [
        None,
        Decimal(0),
        Decimal("1.5"),
        Decimal("1.50"),
        Decimal("2.25"),
        Decimal(-1),
        Decimal("1E+25"),
        Decimal("0.1234567"),
    ]
)


@st.composite
def readings(draw: st.DrawFn) -> R:
    kind = draw(st.sampled_from(["interval", "register", "daily"]))
    usage_point = draw(st.sampled_from(["up-a", "up-b"]))
    value = draw(values)
    flags = draw(st.sampled_from([256, 0x4100, None]))
    codes = draw(st.sampled_from([(), ("1.4.2",)]))
    # few distinct times, so readings often meet again; 96..145 are the 50 half-hours of 6 April
    step = draw(st.sampled_from([0, 1, 2, 47, 48, 95, 96, 100, 102, 104, 145, 146, 191]))
    if kind == "interval":
        start = BASE + step * HALF
        return R(start, start + HALF, value, flags, codes, HALF, usage_point, RT)
    if kind == "register":
        end = BASE + step * timedelta(minutes=20)
        return R(None, end, value, flags, codes, None, usage_point, REGISTER_RT)
    start = BASE + (step % 4) * timedelta(days=1)
    return R(start, start + timedelta(days=1), value, flags, codes, None, usage_point, DAILY_RT)


def model_key(r: R) -> tuple[str, str, datetime]:
    """The dedup key: interval start, or the end for registers and readings without an interval."""
    return (
        r.usage_point,
        r.reading_type,
        r.start if r.interval is not None and r.start is not None else r.end,
    )


def expected(model: dict[tuple[str, str, datetime], tuple[R, int]], r: R) -> Decision:
    """The dedup rule on a plain dict: the reference the compact store must agree with."""
    key = model_key(r)
    if key not in model:
        return NEW
    previous, revision = model[key]
    same_quality = (
        previous.flags == r.flags
        if previous.flags is not None or r.flags is not None
        else previous.codes == r.codes
    )
    if previous.value == r.value and same_quality:
        return Decision(Outcome.SUPPRESSED, revision)
    return Decision(Outcome.REVISED, revision + 1, previous.value, previous.flags, previous.value is None)


steps = st.lists(st.one_of(readings(), st.sampled_from(["commit", "rollback"])), min_size=1, max_size=60)


@given(steps=steps, probes=st.lists(readings(), min_size=1, max_size=30))
@settings(max_examples=80, deadline=None)
def test_store_agrees_with_a_plain_model_and_restores_from_its_records(
    steps: list[R | str], probes: list[R]
) -> None:
    store = SeriesStore()
    committed: dict[tuple[str, str, datetime], tuple[R, int]] = {}
    model = dict(committed)
    topic: dict[bytes, bytes] = {}
    for step in [*steps, "commit"]:
        if step == "commit":
            topic.update(store.dirty_records())
            store.commit()
            committed = dict(model)
        elif step == "rollback":
            store.rollback()
            model = dict(committed)
        else:
            assert isinstance(step, R)
            decision = publish(store, step)
            assert decision == expected(model, step)
            if decision.outcome is not Outcome.SUPPRESSED:
                model[model_key(step)] = (step, decision.revision)
    restored = SeriesStore()
    for record_key, record in topic.items():
        restored.load_record(record_key, record)
    assert restored.day_count() == store.day_count()
    for probe in probes:
        assert decide(restored, probe) == decide(store, probe) == expected(model, probe)
