"""Reading type codes: decoding, time semantics, units, names and rejection of malformed codes."""

from __future__ import annotations

from dataclasses import astuple
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.errors import ParseError
from publisher.netstream import readingtype as rtmod
from publisher.netstream.readingtype import ReadingType, parse_reading_type

KWH_30 = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
KWH_DAILY = "0.0.4.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
KWH_30_NO_PHASE = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
KWH_30_REVERSE = "0.0.5.4.19.1.12.0.0.0.0.0.0.0.224.3.72.0"
KVARH_30 = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.73.0"
MONTHLY_REGISTER = "13.0.0.1.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
MONTHLY_DELTA = "13.0.0.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
MONTHLY_MAX_DEMAND = "13.8.5.6.1.1.8.0.0.0.0.0.0.0.224.3.38.0"


def code_with(**changes: int) -> str:
    """The 30-minute kWh code with some fields replaced."""
    base = parse_reading_type(KWH_30)
    names = [name for name in ReadingType.__dataclass_fields__ if name != "mrid"]
    values = [changes.get(name, getattr(base, name)) for name in names]
    return ".".join(str(value) for value in values)


# ----------------------------------------------------------------------------------- §4.3 examples


def test_netstream_thirty_minute_kwh_decodes_to_every_table_value() -> None:
    rt = parse_reading_type(KWH_30)
    assert astuple(rt) == (KWH_30, 0, 0, 5, 4, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 224, 3, 72, 0)
    assert rt.names() == {
        "macro_period": "none",
        "aggregate": "none",
        "measuring_period": "thirtyMinute",
        "accumulation": "deltaData",
        "flow_direction": "forward",
        "commodity": "electricitySecondaryMetered",
        "measurement_kind": "energy",
        "phases": "phaseABC",
        "multiplier": "kilo",
        "unit": "Wh",
        "currency": "none",
    }
    assert rt.interval == timedelta(minutes=30)
    assert rt.calendar_period is None
    assert rt.interval_seconds == 1800
    assert rt.unit_symbol == "kWh"
    assert str(rt) == KWH_30


@pytest.mark.parametrize(
    ("code", "measuring", "flow", "phases", "unit_symbol", "interval_seconds", "calendar"),
    [
        (KWH_30, "thirtyMinute", "forward", "phaseABC", "kWh", 1800, None),
        (KWH_DAILY, "twentyfourHour", "forward", "phaseABC", "kWh", 86400, "day"),
        (KWH_30_NO_PHASE, "thirtyMinute", "forward", "none", "kWh", 1800, None),
        (KWH_30_REVERSE, "thirtyMinute", "reverse", "phaseABC", "kWh", 1800, None),
        (KVARH_30, "thirtyMinute", "forward", "phaseABC", "kVArh", 1800, None),
        (MONTHLY_REGISTER, "none", "forward", "phaseABC", "kWh", None, "month"),
        (MONTHLY_DELTA, "none", "forward", "phaseABC", "kWh", None, "month"),
        (MONTHLY_MAX_DEMAND, "thirtyMinute", "forward", "phaseABC", "kW", None, "month"),
    ],
)
def test_documented_netstream_reading_types(
    code: str,
    measuring: str,
    flow: str,
    phases: str,
    unit_symbol: str,
    interval_seconds: int | None,
    calendar: str | None,
) -> None:
    rt = parse_reading_type(code)
    names = rt.names()
    assert names["measuring_period"] == measuring
    assert names["flow_direction"] == flow
    assert names["phases"] == phases
    assert rt.unit_symbol == unit_symbol
    assert rt.interval_seconds == interval_seconds
    assert rt.calendar_period == calendar


def test_monthly_registers_and_max_demand_decode_their_fields() -> None:
    register = parse_reading_type(MONTHLY_REGISTER)
    assert register.names()["macro_period"] == "monthly"
    assert register.names()["accumulation"] == "bulkQuantity"
    demand = parse_reading_type(MONTHLY_MAX_DEMAND)
    assert demand.names()["aggregate"] == "maximum"
    assert demand.names()["accumulation"] == "indicating"
    assert demand.names()["measurement_kind"] == "demand"
    assert demand.interval is None  # the macro period (a month) is what one value covers


def test_tou_tier_field_is_decoded() -> None:
    rt = parse_reading_type(code_with(tou=2))
    assert rt.tou == 2
    assert rt.cpp == 0
    assert rt.consumption_tier == 0


# ---------------------------------------------------------------------------------- time semantics


@pytest.mark.parametrize(
    ("measuring_period", "minutes"),
    [
        (1, 10),
        (2, 15),
        (3, 1),
        (5, 30),
        (6, 5),
        (7, 60),
        (10, 2),
        (14, 3),
        (31, 20),
        (50, 60),
        (51, 30),
        (52, 20),
        (53, 15),
        (54, 10),
        (55, 5),
        (56, 1),
    ],
)
def test_fixed_measuring_periods_have_an_elapsed_interval(measuring_period: int, minutes: int) -> None:
    rt = parse_reading_type(code_with(measuring_period=measuring_period))
    assert rt.interval == timedelta(minutes=minutes)
    assert rt.interval_seconds == minutes * 60
    assert rt.calendar_period is None


@pytest.mark.parametrize("measuring_period", [0, 15, 16, 57, 77, 79, 100, 9999])
def test_other_measuring_periods_have_no_interval(measuring_period: int) -> None:
    rt = parse_reading_type(code_with(measuring_period=measuring_period))
    assert rt.interval is None
    assert rt.interval_seconds is None
    assert rt.calendar_period is None


@pytest.mark.parametrize(
    ("macro_period", "measuring_period", "calendar", "seconds"),
    [
        (11, 0, "day", 86400),
        (11, 5, "day", 86400),
        (13, 0, "month", None),
        (13, 4, "month", None),
        (0, 4, "day", 86400),
        (24, 0, None, None),
        (8, 5, None, None),
    ],
)
def test_calendar_periods(
    macro_period: int, measuring_period: int, calendar: str | None, seconds: int | None
) -> None:
    rt = parse_reading_type(code_with(macro_period=macro_period, measuring_period=measuring_period))
    assert rt.calendar_period == calendar
    assert rt.interval is None
    assert rt.interval_seconds == seconds


# ------------------------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("multiplier", "unit", "symbol"),
    [
        (3, 72, "kWh"),
        (3, 73, "kVArh"),
        (3, 38, "kW"),
        (6, 72, "MWh"),
        (0, 72, "Wh"),
        (0, 29, "V"),
        (0, 5, "A"),
        (0, 61, "VA"),
        (3, 61, "kVA"),
        (-3, 29, "mV"),
        (0, 33, "Hz"),
        (0, 23, "\u00b0C"),
        (0, 42, "m\u00b3"),
        (0, 0, ""),
        (3, 0, "10^3"),
        (0, 250, "unit(250)"),
        (3, 250, "10^3\u00b7unit(250)"),
        (4, 72, "10^4\u00b7Wh"),
        (-7, 38, "10^-7\u00b7W"),
    ],
)
def test_unit_symbols(multiplier: int, unit: int, symbol: str) -> None:
    assert parse_reading_type(code_with(multiplier=multiplier, unit=unit)).unit_symbol == symbol


def test_unknown_values_are_kept_and_named_unknown() -> None:
    code = "999.98.97.96.95.94.93.1.2.3.4.5.6.7.254.5.250.999"
    rt = parse_reading_type(code)
    assert astuple(rt)[1:] == (999, 98, 97, 96, 95, 94, 93, 1, 2, 3, 4, 5, 6, 7, 254, 5, 250, 999)
    assert rt.names() == {
        "macro_period": "unknown(999)",
        "aggregate": "unknown(98)",
        "measuring_period": "unknown(97)",
        "accumulation": "unknown(96)",
        "flow_direction": "unknown(95)",
        "commodity": "unknown(94)",
        "measurement_kind": "unknown(93)",
        "phases": "unknown(254)",
        "multiplier": "unknown(5)",
        "unit": "unknown(250)",
        "currency": "unknown(999)",
    }
    assert rt.unit_symbol == "10^5\u00b7unit(250)"


def test_negative_multiplier_is_accepted() -> None:
    rt = parse_reading_type(code_with(multiplier=-3, unit=72))
    assert rt.multiplier == -3
    assert rt.names()["multiplier"] == "milli"
    assert rt.unit_symbol == "mWh"


def test_currency_and_unit_none_names() -> None:
    rt = parse_reading_type(code_with(unit=0, currency=554))
    assert rt.names()["unit"] == "none"
    assert rt.names()["currency"] == "NZD"


# ------------------------------------------------------------------------------------------ tables


def test_tables_cover_every_documented_value() -> None:
    assert set(rtmod.MACRO_PERIODS) >= {0, 8, 11, 13, 22, 24, 32, 1001, 1002}
    assert set(rtmod.AGGREGATES) >= {0, 2, 4, 5, 7, 8, 9, 11, 12, 13, 16, 17, 23, 24, 25, 26}
    assert set(rtmod.MEASURING_PERIODS) >= {0, 1, 2, 3, 4, 5, 6, 7, 10, 14, 15, 16, 31} | set(
        range(50, 84)
    ) | {
        100,
        101,
        102,
    }
    assert set(rtmod.ACCUMULATIONS) >= {0, 1, 2, 3, 4, 6, 9, 10, 12, 13, 14}
    assert set(rtmod.FLOW_DIRECTIONS) == set(range(21))
    assert set(rtmod.COMMODITIES) == set(range(26))
    assert set(rtmod.MEASUREMENT_KINDS) >= {
        0,
        2,
        3,
        4,
        5,
        7,
        8,
        9,
        12,
        15,
        31,
        32,
        34,
        35,
        37,
        38,
        40,
        46,
        54,
    }
    assert set(rtmod.MEASUREMENT_KINDS) >= {55, 58, 158}
    assert set(rtmod.PHASES) >= {0, 128, 64, 32, 16, 129, 65, 33, 132, 66, 40, 193, 97, 41, 224, 225}
    assert set(rtmod.MULTIPLIERS) >= {-24, -3, 0, 3, 6, 9, 24}
    assert set(rtmod.UNITS) >= {0, 5, 23, 29, 33, 38, 42, 61, 63, 65, 71, 72, 73, 106, 108, 111}
    assert set(rtmod.CURRENCIES) >= {0, 554, 36}


# --------------------------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    "code",
    [
        "",
        "   ",
        "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72",  # 17 fields
        "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0.0",  # 19 fields
        "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.k.72.0",
        "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r",
        "0.0.5.4.1.1.12.0.0.0.0.0.0.0..3.72.0",
        "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.+3.72.0",
        "0.0.-5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0",  # only the multiplier may be negative
        "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0.",
        "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.1.5",
        "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.\u0663",  # a non-ASCII digit
        "0 .0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0",
        "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.9999999999",  # beyond a 32-bit int
        "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72." + "9" * 5000,
        "13.0.0.1.1.1.12.0.0.0.0.0.0.0.224.3.72.0\n0.0.5",
    ],
)
def test_malformed_codes_raise_parse_error_with_the_code_as_fragment(code: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_reading_type(code)
    assert caught.value.fragment == code
    assert "\n" not in caught.value.message
    assert "reading type" in caught.value.message
    assert "18 dot-separated integers" in caught.value.message


def test_seventeen_fields_message_names_the_count() -> None:
    with pytest.raises(ParseError, match="has 17 fields"):
        parse_reading_type("0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72")


@pytest.mark.parametrize("value", [None, 5, b"0.0.5", ["0"]])
def test_non_string_codes_raise_parse_error(value: object) -> None:
    with pytest.raises(ParseError, match="must be a string"):
        parse_reading_type(value)  # type: ignore[arg-type]  # deliberately wrong type from untyped input


def test_surrounding_whitespace_is_stripped() -> None:
    rt = parse_reading_type(f"  {KWH_30}\n")
    assert rt.mrid == KWH_30
    assert rt == parse_reading_type(KWH_30)


def test_parses_are_cached() -> None:
    assert parse_reading_type(KVARH_30) is parse_reading_type(KVARH_30)


def test_leading_zeros_are_kept_verbatim_in_the_mrid() -> None:
    rt = parse_reading_type("0.0.05.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0")
    assert rt.measuring_period == 5
    assert rt.mrid == "0.0.05.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"


# ---------------------------------------------------------------------------------------- property

_FIELD = st.integers(min_value=0, max_value=2**31 - 1)
_MULTIPLIER = st.integers(min_value=-(2**31) + 1, max_value=2**31 - 1)


@settings(max_examples=100)
@given(
    before=st.lists(_FIELD, min_size=15, max_size=15),
    multiplier=_MULTIPLIER,
    after=st.lists(_FIELD, min_size=2, max_size=2),
)
def test_every_well_formed_code_round_trips(before: list[int], multiplier: int, after: list[int]) -> None:
    values = [*before, multiplier, *after]
    code = ".".join(str(value) for value in values)
    rt = parse_reading_type(code)
    assert list(astuple(rt)[1:]) == values
    assert rt.mrid == code
    names = rt.names()
    assert len(names) == 11
    assert all(isinstance(name, str) and name for name in names.values())
    assert isinstance(rt.unit_symbol, str)
    assert rt.interval is None or rt.interval_seconds == int(rt.interval.total_seconds())


def test_reading_types_of_one_period_share_their_interval() -> None:
    """The interval is asked for per series and per block; it is one shared timedelta, never built again."""
    forward = parse_reading_type("0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0")
    reverse = parse_reading_type("0.0.5.4.19.1.12.0.0.0.0.0.0.0.224.3.72.0")
    assert forward.interval == timedelta(minutes=30)
    assert forward.interval is reverse.interval
    assert forward.interval is forward.interval
