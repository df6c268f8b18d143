"""Event ids are uuid5 of the published fact, stable across releases; a series' fields plus the varying ones
make the whole event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.kafka.avro import SingleObjectCodec, load_schema
from publisher.netstream import model
from publisher.netstream.model import Reading, ReadingKind, isoformat_z
from publisher.netstream.readingtype import parse_reading_type
from publisher.pipeline.events import (
    EVENT_NAMESPACE,
    VARYING_FIELDS,
    Revision,
    Source,
    event_id,
    event_ids,
    meter_reading,
    series_fields,
)

RT30 = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
START = datetime(2025, 3, 1, 11, 0, tzinfo=UTC)

instants = st.datetimes(
    min_value=datetime(1990, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive; zones are added below
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001 - as above
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=13)), timezone(timedelta(hours=-9, minutes=-30))]
    ),
)


def by_the_book(up: str, rt: str, start: datetime | None, end: datetime, revision: int) -> str:
    start_text = "-" if start is None else isoformat_z(start)
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{up}|{rt}|{start_text}|{isoformat_z(end)}|{revision}"))


@settings(max_examples=300, deadline=None)
@given(
    up=st.text(max_size=40),
    rt=st.text(max_size=40),
    start=st.none() | instants,
    end=instants,
    revision=st.integers(min_value=0, max_value=2**31 - 1),
)
def test_an_event_id_is_the_uuid5_of_the_fact(
    up: str, rt: str, start: datetime | None, end: datetime, revision: int
) -> None:
    expected = by_the_book(up, rt, start, end, revision)
    assert event_id(up, rt, start, end, revision) == expected
    assert event_ids(up, rt)(start, end, revision) == expected
    # asked again (the texts of the instants are remembered now): the same id
    assert event_ids(up, rt)(start, end, revision) == expected


def test_event_ids_never_change_between_releases() -> None:
    end = START + timedelta(minutes=30)
    assert event_id("up-1", RT30, START, end, 0) == "79fce493-ff1d-54f6-acc0-868f6b749457"
    assert event_id("up-1", RT30, None, end, 12) == by_the_book("up-1", RT30, None, end, 12)


def test_equal_instants_in_other_zones_give_the_same_id() -> None:
    end = START + timedelta(minutes=30)
    auckland = timezone(timedelta(hours=13))
    ids = event_ids("up-1", RT30)
    assert ids(START, end, 1) == ids(START.astimezone(auckland), end.astimezone(auckland), 1)


def test_series_fields_and_varying_fields_are_the_whole_event() -> None:
    codec = SingleObjectCodec(load_schema("meter_reading.avsc"))
    rt = parse_reading_type(RT30)
    reading = Reading(
        "up-1",
        "m-1",
        RT30,
        ReadingKind.INTERVAL,
        START,
        START + timedelta(minutes=30),
        Decimal("0.25"),
        1,
        (),
    )
    polled = START + timedelta(hours=2)
    revision = Revision(2, Decimal("0.2"), 0)
    record = meter_reading(
        reading, rt, revision, polled_at=polled, source=Source.SCHEDULED, timezone="Pacific/Auckland"
    )
    fixed = series_fields(reading, rt, polled_at=polled, source=Source.SCHEDULED, timezone="Pacific/Auckland")
    assert set(fixed) | set(VARYING_FIELDS) == set(record)
    assert not set(fixed) & set(VARYING_FIELDS)
    encode = codec.bind(VARYING_FIELDS, fixed)
    assert encode is not None
    assert encode(*(record[name] for name in VARYING_FIELDS)) == codec.encode(record)


def test_the_field_positions_name_the_fields_of_a_reading() -> None:
    """The compiled loops read a reading's fields by position: each constant is its field's index."""
    positions = {
        "start": model.START,
        "end": model.END,
        "value": model.VALUE,
        "quality": model.QUALITY,
        "quality_codes": model.QUALITY_CODES,
        "reported_at": model.REPORTED_AT,
    }
    assert {name: Reading._fields.index(name) for name in positions} == positions
