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
from publisher.kafka.state_blocks import block_key, day_key, day_value, parse_state_key
from publisher.kafka.state_codec import (
    DayState,
    decode_day,
    encode_progress,
    progress_key,
    read_slot,
)
from publisher.pipeline.locate import day_start, locate
from publisher.pipeline.series_store import Decision, Outcome, SeriesStore

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


def monday(day: date) -> int:
    """Ordinal of the Monday that starts the block of ``day``."""
    return (day - timedelta(days=day.weekday())).toordinal()


def day_in(block: bytes | None, day: date) -> DayState:
    """The decoded state of ``day`` in a block value."""
    assert block is not None
    value = day_value(block, day.weekday())
    assert value is not None
    return decode_day(value)


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
    assert parse_state_key(key) == (UP, RT, monday(day), None)
    state = day_in(value, day)
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
    """Every block the store holds, as state records (a test-only view of its internals)."""
    records = []
    for reading_type, by_point in store._series.items():
        for usage_point, blocks in by_point.items():
            for ordinal, block in zip(blocks[::2], blocks[1::2], strict=True):
                assert isinstance(ordinal, int)
                assert isinstance(block, bytes)
                records.append((block_key(usage_point, reading_type, date.fromordinal(ordinal)), block))
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
    assert publish(store, half_hour("2025-03-04T10:00", "1")) == NEW  # a new day of the same week
    assert publish(store, half_hour("2025-03-10T10:00", "1")) == NEW  # the next week
    assert publish(store, half_hour("2025-03-03T11:00", "1")) == NEW
    assert store.day_count() == 3
    assert len(store.dirty_records()) == 2  # one record per touched week
    store.rollback()
    assert store.dirty_records() == []
    assert decide(store, kept).outcome is Outcome.SUPPRESSED
    assert decide(store, half_hour("2025-03-04T10:00", "1")) == NEW
    assert decide(store, half_hour("2025-03-10T10:00", "1")) == NEW
    assert decide(store, half_hour("2025-03-03T11:00", "1")) == NEW
    assert not store.has_day(UP, RT, date(2025, 3, 4))
    assert not store.has_day(UP, RT, date(2025, 3, 10))
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
    assert key == block_key(UP, RT, date(2025, 3, 3))  # a Monday
    assert day_in(value, date(2025, 3, 3)).slot_count == 22  # 10:30 is slot 21; later slots not stored yet
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
    with pytest.raises(KafkaFatalError, match="state block is corrupt"):
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


def test_evict_before_bounds_memory_and_old_weeks_load_back_on_demand() -> None:
    store = SeriesStore(horizon_days=14)
    records: dict[bytes, bytes | None] = {}
    for usage_point in ("a", "b", "c"):
        for offset in range(30):  # Saturday 1 February to Sunday 2 March: parts of 5 weeks
            day = date(2025, 2, 1) + timedelta(days=offset)
            publish(store, half_hour(f"{day.isoformat()}T12:00", str(offset), usage_point=usage_point))
        records.update(store.dirty_records())
        store.commit()
    assert len(records) == 3 * 5
    assert store.day_count() == 90
    assert store.series_count() == 3
    size_before = store.approx_bytes()
    today = date(2025, 3, 2)
    assert store.horizon_start(today) == date(2025, 2, 16)  # a Sunday
    # the weeks of 27 January (2 days) and 3 February (7 days) end before it; the week of 10 February
    # holds it and is kept whole
    assert store.evict_expired(today) == 3 * 9
    assert store.day_count() == 63
    assert store.approx_bytes() < size_before
    assert not store.has_day("a", RT, date(2025, 2, 9))
    assert store.has_day("a", RT, date(2025, 2, 10))
    old = half_hour("2025-02-03T12:00", "2", usage_point="b")
    assert decide(store, old) == NEW  # evicted: the store no longer knows; load the window first
    for key, value in records.items():
        parsed = parse_state_key(key)
        assert parsed is not None
        if parsed[2] == date(2025, 2, 3).toordinal():
            store.load_record(key, value)
    assert store.day_count() == 84
    assert decide(store, old).outcome is Outcome.SUPPRESSED
    assert store.evict_before(date(2025, 2, 16)) == 21
    assert store.evict_before(date(2025, 12, 31)) == 63
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
    store.evict_before(date(2025, 3, 5))  # the week of Monday 3 March is kept whole, so still loaded
    assert store.unloaded_days(first, last) == [date(2025, 3, 1), date(2025, 3, 2)]
    store.evict_before(date(2025, 3, 10))
    assert store.unloaded_days(first, last) == [first + timedelta(days=k) for k in range(5)]


# ------------------------------------------------------------------------------------------ weekly blocks


def test_a_week_is_one_record_and_monday_starts_the_next() -> None:
    store = SeriesStore()
    sunday_night = half_hour("2025-03-09T23:30", "1")
    monday_morning = half_hour("2025-03-10T00:00", "2")
    for r in (half_hour("2025-03-03T00:00", "0"), sunday_night, monday_morning):
        publish(store, r)
    records = dict(store.dirty_records())
    assert sorted(records) == [
        block_key(UP, RT, date(2025, 3, 3)),
        block_key(UP, RT, date(2025, 3, 10)),
    ]
    assert day_in(records[block_key(UP, RT, date(2025, 3, 3))], date(2025, 3, 9)).slot_count == 48
    restored = SeriesStore()
    for key, value in records.items():
        restored.load_record(key, value)
    assert restored.day_count() == 3
    assert decide(restored, sunday_night).outcome is Outcome.SUPPRESSED
    assert decide(restored, monday_morning).outcome is Outcome.SUPPRESSED
    assert decide(restored, half_hour("2025-03-08T23:30", "1")) == NEW


def test_a_restore_stores_each_block_as_it_arrives() -> None:
    source = SeriesStore()
    for day in range(3, 10):
        publish(source, half_hour(f"2025-03-{day:02d}T10:00", str(day)))
    [(key, value)] = source.dirty_records()
    assert value is not None
    arrived = bytes(bytearray(value))
    store = SeriesStore()
    store.load_record(key, arrived)
    assert store._series[RT][UP] == [date(2025, 3, 3).toordinal(), value]
    assert store._series[RT][UP][1] is arrived  # kept as it came, not split into days
    assert store.day_count() == 7
    assert store.approx_bytes() > len(value)


def test_a_dst_sunday_and_its_week_round_trip_through_one_block() -> None:
    store = SeriesStore()
    day = date(2025, 4, 6)  # Sunday: 50 half-hours in Auckland
    first = day_start(NZ, day)
    for k in range(50):
        publish(store, R(first + k * HALF, first + (k + 1) * HALF, Decimal(k)))
    publish(store, half_hour("2025-03-31T00:00", "7"))  # the Monday of that week
    [(key, value)] = store.dirty_records()
    assert key == block_key(UP, RT, date(2025, 3, 31))
    assert day_in(value, day).slot_count == 50
    restored = SeriesStore()
    restored.load_record(key, value)
    assert (
        decide(restored, R(first + 49 * HALF, first + 50 * HALF, Decimal(49))).outcome is Outcome.SUPPRESSED
    )
    assert decide(restored, half_hour("2025-03-31T00:00", "7")).outcome is Outcome.SUPPRESSED


def _legacy(day: date, value: str) -> bytes:
    """The value of a record of the layout before blocks: one encoded day."""
    store = SeriesStore()
    publish(store, half_hour(f"{day.isoformat()}T10:00", value))
    [(_, block)] = store.dirty_records()
    assert block is not None
    encoded = day_value(block, day.weekday())
    assert encoded is not None
    return encoded


def test_day_records_of_the_layout_before_blocks_are_merged_and_tombstoned_when_written() -> None:
    store = SeriesStore()
    store.load_record(day_key(UP, RT, date(2025, 3, 3)), _legacy(date(2025, 3, 3), "1"))
    store.load_record(day_key(UP, RT, date(2025, 3, 4)), _legacy(date(2025, 3, 4), "2"))
    assert (store.series_count(), store.day_count()) == (1, 2)
    assert decide(store, half_hour("2025-03-03T10:00", "1")).outcome is Outcome.SUPPRESSED
    assert decide(store, half_hour("2025-03-04T10:00", "2")).outcome is Outcome.SUPPRESSED
    store.begin()
    publish(store, half_hour("2025-03-05T10:00", "3"))
    records = store.dirty_records()
    # the day keys go first: a restore reading them in order ends with the block
    assert records[:-1] == [(day_key(UP, RT, date(2025, 3, d)), None) for d in (3, 4, 5)]
    key, block = records[-1]
    assert key == block_key(UP, RT, date(2025, 3, 3))
    assert block is not None
    assert block[0] == 1  # written without the in-memory mark
    store.rollback()  # aborted: the tombstones are still owed
    publish(store, half_hour("2025-03-05T10:00", "3"))
    assert len(store.dirty_records()) == 4
    store.commit()
    publish(store, half_hour("2025-03-06T10:00", "4"))
    assert [key for key, _ in store.dirty_records()] == [block_key(UP, RT, date(2025, 3, 3))]
    restored = SeriesStore()
    for record_key, value in records:
        restored.load_record(record_key, value)
    assert restored.day_count() == 3
    assert decide(restored, half_hour("2025-03-04T10:00", "2")).outcome is Outcome.SUPPRESSED


def test_a_day_record_replaces_its_day_and_its_tombstone_removes_it() -> None:
    store = SeriesStore()
    publish(store, half_hour("2025-03-03T10:00", "1"))
    publish(store, half_hour("2025-03-04T10:00", "1"))
    [(key, block)] = store.dirty_records()
    restored = SeriesStore()
    restored.load_record(key, block)
    restored.load_record(day_key(UP, RT, date(2025, 3, 4)), _legacy(date(2025, 3, 4), "9"))  # later: wins
    assert decide(restored, half_hour("2025-03-04T10:00", "9")).outcome is Outcome.SUPPRESSED
    restored.load_record(day_key(UP, RT, date(2025, 3, 3)), None)
    assert decide(restored, half_hour("2025-03-03T10:00", "1")) == NEW
    assert restored.day_count() == 1
    restored.load_record(day_key(UP, RT, date(2025, 3, 4)), None)
    assert (restored.day_count(), restored.series_count()) == (0, 0)
    restored.load_record(day_key(UP, RT, date(2025, 3, 4)), None)  # nothing left: nothing happens


def test_corrupt_records_are_one_line_fatal_errors() -> None:
    store = SeriesStore()
    publish(store, half_hour("2025-03-03T10:00", "1"))
    [(key, block)] = store.dirty_records()
    assert block is not None
    target = SeriesStore()
    with pytest.raises(KafkaFatalError, match="state block is corrupt") as error:
        target.load_record(key, block[:-3])
    assert "\n" not in str(error.value)
    with pytest.raises(KafkaFatalError, match="not a version-1 day state"):
        target.load_record(day_key(UP, RT, date(2025, 3, 3)), block)
    # an index that is sound around a day that is not: found when the day is decoded
    target.load_record(key, block[:7] + b"\x07" + block[8:])  # the day value starts after 7 index bytes
    with pytest.raises(KafkaFatalError, match="format version 7") as error:
        decide(target, half_hour("2025-03-03T10:00", "1"))
    assert "\n" not in str(error.value)
    # a day filed under the wrong weekday
    wrong = SeriesStore()
    wrong.load_record(key, block[:2] + b"\x01" + block[3:])  # Monday's day claims to be Tuesday's
    with pytest.raises(KafkaFatalError, match="holds 2025-03-03 where 2025-03-04 belongs"):
        decide(wrong, half_hour("2025-03-04T10:00", "1"))


def _topic_of_every_kind() -> list[tuple[bytes, bytes | None]]:
    """State records as a topic holds them: blocks, escaped keys, day records, tombstones, other keys."""
    source = SeriesStore()
    for usage_point in ("a", "b|escaped", "c"):
        for day in (date(2025, 2, 27), date(2025, 3, 3), date(2025, 3, 4)):
            publish(source, half_hour(f"{day.isoformat()}T10:00", "1", usage_point=usage_point))
    records = source.dirty_records()
    source.commit()
    publish(source, half_hour("2025-03-03T10:00", "2", usage_point="a"))  # a later record of a block
    records += source.dirty_records()
    return [
        (progress_key("job"), encode_progress("job", [1])),
        (b"ownership-check", None),
        *records,
        (day_key("d", RT, date(2025, 3, 5)), _legacy(date(2025, 3, 5), "5")),
        (day_key("d", RT, date(2025, 2, 26)), _legacy(date(2025, 2, 26), "6")),
        (day_key("c", RT, date(2025, 3, 4)), None),
        (block_key("c", RT, date(2025, 2, 24)), None),
    ]


@pytest.mark.parametrize("since", [date(2025, 1, 6), date(2025, 3, 3), date(2025, 3, 10)])
def test_the_restore_loader_loads_what_load_record_loads(since: date) -> None:
    wanted = since.toordinal()
    by_record, by_loader = SeriesStore(), SeriesStore()
    load = by_loader.loader(lambda first: first >= wanted)
    for key, value in _topic_of_every_kind():
        parsed = parse_state_key(key)
        if parsed is not None and parsed[2] >= wanted:
            by_record.load_record(key, value)
        load(key, value)
    assert by_loader._series == by_record._series
    assert (by_loader.series_count(), by_loader.day_count(), by_loader.approx_bytes()) == (
        by_record.series_count(),
        by_record.day_count(),
        by_record.approx_bytes(),
    )
    if since == date(2025, 3, 3):
        assert by_loader.day_count() == 3 + 2 + 1  # a, b|escaped: both days; c: 3 March; d: 5 March
        assert decide(by_loader, half_hour("2025-03-03T10:00", "2", usage_point="a")).outcome is (
            Outcome.SUPPRESSED
        )


def test_the_restore_loader_keeps_uncommitted_changes_and_refuses_corrupt_blocks() -> None:
    store = SeriesStore()
    publish(store, half_hour("2025-03-03T10:00", "1"))
    [(key, block)] = store.dirty_records()
    assert block is not None
    store.commit()
    publish(store, half_hour("2025-03-03T10:00", "2"))
    load = store.loader(lambda _first: True)
    load(key, block)
    assert decide(store, half_hour("2025-03-03T10:00", "2")).outcome is Outcome.SUPPRESSED
    with pytest.raises(KafkaFatalError, match="state block is corrupt"):
        SeriesStore().loader(lambda _first: True)(key, block[:-1])
    fresh = SeriesStore()
    fresh.loader(lambda _first: True)(key.replace(UP.encode(), b"other"), block)  # the reading type is known
    with pytest.raises(KafkaFatalError, match="state block is corrupt"):
        fresh.loader(lambda _first: True)(key, block[:-1])


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
    topic: dict[bytes, bytes | None] = {}
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
