"""IEC 61968-9 ReadingType codes: the 18-field dotted mRID decoded into named, typed fields.

A Netstream reading type such as ``0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0`` is 30-minute delta energy,
forward flow, phases ABC, in kWh. :func:`parse_reading_type` checks the shape of a code and decodes it;
values it does not know are kept verbatim (the enumeration tables below only supply human names), so a
new reading type never stops the pipeline. The time semantics live here too: whether a value covers a
fixed elapsed length (:attr:`ReadingType.interval`) or a local calendar day or month
(:attr:`ReadingType.calendar_period`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import timedelta
from functools import lru_cache
from typing import Literal

from publisher.errors import ParseError

# ------------------------------------------------------------------------------------------------ tables
# Enumeration values of IEC 61968-9 Annex C (netstream-api.md §4.2). Only names come from here; a value
# missing from a table is still a valid field value and renders as "unknown(NN)".

MACRO_PERIODS: dict[int, str] = {
    0: "none",
    8: "billingPeriod",
    11: "daily",
    13: "monthly",
    22: "seasonal",
    24: "weekly",
    32: "specifiedPeriod",
    1001: "yearly",  # Connexo extension, not IEC
    1002: "hourly",  # Connexo extension, not IEC
}

AGGREGATES: dict[int, str] = {
    0: "none",
    2: "average",
    4: "excess",
    5: "highThreshold",
    7: "lowThreshold",
    8: "maximum",
    9: "minimum",
    11: "nominal",
    12: "normal",
    13: "relative",
    16: "secondMaximum",
    17: "secondMinimum",
    23: "thirdMaximum",
    24: "fourthMaximum",
    25: "fifthMaximum",
    26: "sum",
}

MEASURING_PERIODS: dict[int, str] = {
    0: "none",
    1: "tenMinute",
    2: "fifteenMinute",
    3: "oneMinute",
    4: "twentyfourHour",
    5: "thirtyMinute",
    6: "fiveMinute",
    7: "sixtyMinute",
    10: "twoMinute",
    14: "threeMinute",
    15: "present",
    16: "previous",
    31: "twentyMinute",
    50: "fixedBlock60Min",
    51: "fixedBlock30Min",
    52: "fixedBlock20Min",
    53: "fixedBlock15Min",
    54: "fixedBlock10Min",
    55: "fixedBlock5Min",
    56: "fixedBlock1Min",
    57: "rollingBlock60MinIntvl30MinSubIntvl",
    58: "rollingBlock60MinIntvl20MinSubIntvl",
    59: "rollingBlock60MinIntvl15MinSubIntvl",
    60: "rollingBlock60MinIntvl12MinSubIntvl",
    61: "rollingBlock60MinIntvl10MinSubIntvl",
    62: "rollingBlock60MinIntvl6MinSubIntvl",
    63: "rollingBlock60MinIntvl5MinSubIntvl",
    64: "rollingBlock60MinIntvl4MinSubIntvl",
    65: "rollingBlock30MinIntvl15MinSubIntvl",
    66: "rollingBlock30MinIntvl10MinSubIntvl",
    67: "rollingBlock30MinIntvl6MinSubIntvl",
    68: "rollingBlock30MinIntvl5MinSubIntvl",
    69: "rollingBlock30MinIntvl3MinSubIntvl",
    70: "rollingBlock30MinIntvl2MinSubIntvl",
    71: "rollingBlock15MinIntvl5MinSubIntvl",
    72: "rollingBlock15MinIntvl3MinSubIntvl",
    73: "rollingBlock15MinIntvl1MinSubIntvl",
    74: "rollingBlock10MinIntvl5MinSubIntvl",
    75: "rollingBlock10MinIntvl2MinSubIntvl",
    76: "rollingBlock10MinIntvl1MinSubIntvl",
    77: "rollingBlock5MinIntvl1MinSubIntvl",
    # Connexo lists these too; they are not confirmed against the standard, so they get names but no
    # interval (a series of them is not placed in time until someone confirms what they mean).
    78: "twelveMinute",
    79: "twoHour",
    80: "fourHour",
    81: "sixHour",
    82: "twelveHour",
    83: "threeHour",
    100: "specifiedInterval",
    101: "specifiedFixedBlock",
    102: "specifiedRollingBlock",
}

ACCUMULATIONS: dict[int, str] = {
    0: "none",
    1: "bulkQuantity",
    2: "continuousCumulative",
    3: "cumulative",
    4: "deltaData",
    6: "indicating",
    9: "summation",
    10: "timeDelay",
    12: "instantaneous",
    13: "latchingQuantity",
    14: "boundedQuantity",
}

FLOW_DIRECTIONS: dict[int, str] = {
    0: "none",
    1: "forward",
    2: "lagging",
    3: "leading",
    4: "net",
    5: "q1plusQ2",
    6: "q1plusQ2plusQ3plusQ4",  # Connexo
    7: "q1plusQ3",
    8: "q1plusQ4",
    9: "q1minusQ4",
    10: "q2plusQ3",
    11: "q2plusQ4",
    12: "q2minusQ3",
    13: "q3plusQ4",
    14: "q3minusQ2",
    15: "quadrant1",
    16: "quadrant2",
    17: "quadrant3",
    18: "quadrant4",
    19: "reverse",
    20: "total",
}

COMMODITIES: dict[int, str] = {
    0: "none",
    1: "electricitySecondaryMetered",
    2: "electricityPrimaryMetered",
    3: "communication",
    4: "air",
    5: "insulativeGas",
    6: "insulativeOil",
    7: "naturalGas",
    8: "propane",
    9: "potableWater",
    10: "steam",
    11: "wasteWater",
    12: "heatingFluid",
    13: "coolingFluid",
    14: "nonpotableWater",
    15: "NOx",
    16: "SO2",
    17: "CH4",
    18: "CO2",
    19: "carbon",
    20: "HCH",
    21: "PFC",
    22: "SF6",
    23: "tvLicence",
    24: "internet",
    25: "refuse",
}

MEASUREMENT_KINDS: dict[int, str] = {
    0: "none",
    2: "apparentPowerFactor",
    3: "currency",
    4: "current",
    5: "currentAngle",
    7: "date",
    8: "demand",
    9: "distance",
    12: "energy",
    15: "frequency",
    31: "lineLosses",
    32: "losses",
    34: "phasorPowerFactor",
    35: "phasorReactivePower",
    37: "power",
    38: "powerFactor",
    40: "quantityPower",
    46: "temperature",
    54: "voltageRms",
    55: "voltageAngle",
    58: "volume",
    158: "voltage",
}

#: Phase codes: an 8-bit mask, A1=128 B1=64 C1=32 N1=16 A2=8 B2=4 C2=2 N2=1.
PHASES: dict[int, str] = {
    0: "none",
    128: "phaseA",
    64: "phaseB",
    32: "phaseC",
    16: "phaseN",
    129: "phaseAN",
    65: "phaseBN",
    33: "phaseCN",
    132: "phaseAB",
    66: "phaseBC",
    40: "phaseCA",
    193: "phaseABN",
    97: "phaseBCN",
    41: "phaseCAN",
    224: "phaseABC",
    225: "phaseABCN",
}

#: Power-of-ten multipliers: exponent -> (name, symbol prefix).
MULTIPLIERS: dict[int, tuple[str, str]] = {
    -24: ("yocto", "y"),
    -21: ("zepto", "z"),
    -18: ("atto", "a"),
    -15: ("femto", "f"),
    -12: ("pico", "p"),
    -9: ("nano", "n"),
    -6: ("micro", "\u00b5"),
    -3: ("milli", "m"),
    -2: ("centi", "c"),
    -1: ("deci", "d"),
    0: ("none", ""),
    1: ("deca", "da"),
    2: ("hecto", "h"),
    3: ("kilo", "k"),
    6: ("mega", "M"),
    9: ("giga", "G"),
    12: ("tera", "T"),
    15: ("peta", "P"),
    18: ("exa", "E"),
    21: ("zetta", "Z"),
    24: ("yotta", "Y"),
}

#: Units of measure: value -> symbol (the empty symbol is "none").
UNITS: dict[int, str] = {
    0: "",
    5: "A",
    23: "\u00b0C",
    29: "V",
    33: "Hz",
    38: "W",
    42: "m\u00b3",
    61: "VA",
    63: "VAr",
    65: "cos\u03b8",
    71: "VAh",
    72: "Wh",
    73: "VArh",
    106: "Ah",
    108: "timeStamp",
    111: "count",
}

#: ISO 4217 numeric currency codes (only those the project is likely to meet).
CURRENCIES: dict[int, str] = {
    0: "none",
    36: "AUD",
    554: "NZD",
    826: "GBP",
    840: "USD",
    978: "EUR",
}

# measuringPeriod values that are a fixed elapsed length (minutes). 4 (twentyfourHour) is a local
# calendar day instead, rolling blocks overlap rather than tile, and 78-83 are unconfirmed (see above).
_FIXED_MINUTES: dict[int, int] = {
    1: 10,
    2: 15,
    3: 1,
    5: 30,
    6: 5,
    7: 60,
    10: 2,
    14: 3,
    31: 20,
    50: 60,
    51: 30,
    52: 20,
    53: 15,
    54: 10,
    55: 5,
    56: 1,
}
#: the same lengths as timedeltas, built once (a timedelta is immutable, so every reading type shares them)
_FIXED_INTERVALS: dict[int, timedelta] = {
    period: timedelta(minutes=m) for period, m in _FIXED_MINUTES.items()
}
_TWENTYFOUR_HOUR = 4
_MACRO_NONE = 0
_MACRO_DAILY = 11
_MACRO_MONTHLY = 13
_SECONDS_PER_DAY = 86_400


def _name(table: dict[int, str], value: int) -> str:
    return table.get(value, f"unknown({value})")


# ------------------------------------------------------------------------------------------------ type


@dataclass(frozen=True, slots=True)
class ReadingType:
    """One decoded reading type. Field order is the order of the 18 fields in the code."""

    mrid: str
    macro_period: int
    aggregate: int
    measuring_period: int
    accumulation: int
    flow_direction: int
    commodity: int
    measurement_kind: int
    interharmonic_numerator: int
    interharmonic_denominator: int
    argument_numerator: int
    argument_denominator: int
    tou: int
    cpp: int
    consumption_tier: int
    phases: int
    multiplier: int
    unit: int
    currency: int

    @property
    def interval(self) -> timedelta | None:
        """The fixed elapsed length of one value, or ``None`` for calendar periods and non-interval types."""
        if self.macro_period != _MACRO_NONE:
            return None
        return _FIXED_INTERVALS.get(self.measuring_period)

    @property
    def calendar_period(self) -> Literal["day", "month"] | None:
        """``"day"`` (a local calendar day, 23/24/25 h), ``"month"`` (a local calendar month) or ``None``."""
        if self.macro_period == _MACRO_DAILY:
            return "day"
        if self.macro_period == _MACRO_MONTHLY:
            return "month"
        if self.macro_period == _MACRO_NONE and self.measuring_period == _TWENTYFOUR_HOUR:
            return "day"
        return None

    @property
    def interval_seconds(self) -> int | None:
        """Nominal length in seconds: the fixed interval, 86400 for a calendar day, ``None`` otherwise."""
        interval = self.interval
        if interval is not None:
            return int(interval.total_seconds())
        if self.calendar_period == "day":
            return _SECONDS_PER_DAY
        return None

    @property
    def unit_symbol(self) -> str:
        """Multiplier prefix plus unit: ``kWh``, ``kVArh``, ``kW``; ``unit(NN)`` / ``10^N·Wh`` if unknown."""
        unit = UNITS.get(self.unit)
        multiplier = MULTIPLIERS.get(self.multiplier)
        if unit is None:
            unit = f"unit({self.unit})"
            multiplier = MULTIPLIERS[0] if self.multiplier == 0 else None  # no prefix glued to "unit(NN)"
        if multiplier is None or (self.multiplier != 0 and unit == ""):
            power = f"10^{self.multiplier}"
            return f"{power}\u00b7{unit}" if unit else power
        return multiplier[1] + unit

    def names(self) -> dict[str, str]:
        """Human names of the enumerated fields; values outside the tables read ``unknown(NN)``."""
        multiplier = MULTIPLIERS.get(self.multiplier)
        unit = UNITS.get(self.unit)
        return {
            "macro_period": _name(MACRO_PERIODS, self.macro_period),
            "aggregate": _name(AGGREGATES, self.aggregate),
            "measuring_period": _name(MEASURING_PERIODS, self.measuring_period),
            "accumulation": _name(ACCUMULATIONS, self.accumulation),
            "flow_direction": _name(FLOW_DIRECTIONS, self.flow_direction),
            "commodity": _name(COMMODITIES, self.commodity),
            "measurement_kind": _name(MEASUREMENT_KINDS, self.measurement_kind),
            "phases": _name(PHASES, self.phases),
            "multiplier": multiplier[0] if multiplier is not None else f"unknown({self.multiplier})",
            "unit": (unit or "none") if unit is not None else f"unknown({self.unit})",
            "currency": _name(CURRENCIES, self.currency),
        }

    def __str__(self) -> str:
        return self.mrid


# ------------------------------------------------------------------------------------------------ parsing

FIELD_COUNT = 18
_MULTIPLIER_INDEX = 15
_INT32_MAX = 2**31 - 1
_MAX_DIGITS = 12  # longer fields are out of range anyway; never hand int() a huge string
_FIELD = re.compile(r"-?[0-9]+", re.ASCII)
_EXCERPT = 120
_EXAMPLE = "0.0.5.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
_FIELD_NAMES = tuple(f.name for f in fields(ReadingType))[1:]


def _excerpt(text: str) -> str:
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "..."


def _reject(code: str, problem: str) -> ParseError:
    return ParseError(
        f"malformed reading type {_excerpt(code)!r}: {problem}; expected 18 dot-separated integers "
        f"such as {_EXAMPLE}",
        fragment=code,
    )


def parse_reading_type(code: str) -> ReadingType:
    """Decode an 18-field reading type code; :class:`ParseError` if it is not one.

    Surrounding whitespace is ignored and the rest is kept verbatim as :attr:`ReadingType.mrid`. Only the
    multiplier (a power of ten) may be negative. Every field must fit a signed 32-bit integer (the event
    schema's ``int``). Values outside the enumeration tables are accepted as they are.
    """
    if not isinstance(code, str):
        raise ParseError(
            f"reading type must be a string, got {type(code).__name__}; send the dotted 18-field mRID",
            fragment=repr(code)[:_EXCERPT],
        )
    return _parse_cached(code)


@lru_cache(maxsize=4096)
def _parse_cached(code: str) -> ReadingType:
    text = code.strip()
    if not text:
        raise _reject(code, "it is empty")
    parts = text.split(".")
    if len(parts) != FIELD_COUNT:
        raise _reject(code, f"it has {len(parts)} fields")
    values: list[int] = []
    for index, part in enumerate(parts):
        name = _FIELD_NAMES[index]
        if not _FIELD.fullmatch(part):
            raise _reject(code, f"field {index + 1} ({name}) is {part!r}, not an integer")
        if part.startswith("-") and index != _MULTIPLIER_INDEX:
            raise _reject(code, f"field {index + 1} ({name}) is negative")
        value = int(part) if len(part) <= _MAX_DIGITS else _INT32_MAX + 1
        if abs(value) > _INT32_MAX:
            raise _reject(code, f"field {index + 1} ({name}) is out of range")
        values.append(value)
    return ReadingType(text, *values)
