"""Quality flags: every Netstream bit, combinations, the numeric fields, unknown bits and CIM refs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.errors import ParseError
from publisher.netstream import quality
from publisher.netstream.quality import (
    decode_flags,
    describe,
    encode_flags,
    parse_quality_ref,
    q_field,
    sub_est_field,
    unknown_bits,
)

# ----------------------------------------------------------------------------------------------- single bits


@pytest.mark.parametrize(
    ("bit", "code", "name"),
    [
        (7, "2.5.259", "knownMissingRead"),
        (8, "3.0.0", "dataValid"),
        (9, "3.5.259", "knownMissingRead"),  # exactly as Netstream's table says (see the module comment)
        (10, "3.6.0", "validationGeneric"),
        (11, "3.7.0", "editGeneric"),
        (12, "1.4.1", "overflow"),
        (13, "1.4.2", "partialInterval"),
        (14, "1.4.4", "skippedInterval"),
        (15, "1.2.32", "powerFail"),
    ],
)
def test_each_flag_bit_decodes_to_its_iec_code(bit: int, code: str, name: str) -> None:
    assert decode_flags(1 << bit) == (code,)
    assert describe(code) == name
    assert unknown_bits(1 << bit) == 0
    assert q_field(1 << bit) == 0
    assert sub_est_field(1 << bit) == 0
    assert encode_flags([code]) == 1 << bit


def test_named_bit_constants() -> None:
    assert quality.KNOWN_MISSING == 128
    assert quality.VALIDATED == 256
    assert quality.FAILED_REASONABILITY == 512
    assert quality.INVALID == 1024
    assert quality.MANUALLY_EDITED == 2048
    assert quality.OVERFLOW == 4096
    assert quality.PARTIAL_INTERVAL == 8192
    assert quality.SKIPPED_INTERVAL == 16384
    assert quality.POWER_FAIL == 32768


@pytest.mark.parametrize("bit", range(7))
def test_low_bits_are_not_codes_but_are_kept(bit: int) -> None:
    assert decode_flags(1 << bit) == ()
    assert unknown_bits(1 << bit) == 1 << bit


# ----------------------------------------------------------------------------------------------- combinations


def test_zero_decodes_to_nothing() -> None:
    assert decode_flags(0) == ()
    assert unknown_bits(0) == 0


def test_validated_and_known_missing_are_in_ascending_bit_order() -> None:
    assert decode_flags(quality.VALIDATED | quality.KNOWN_MISSING) == ("2.5.259", "3.0.0")


def test_every_flag_at_once() -> None:
    assert decode_flags(0xFF80) == (
        "2.5.259",
        "3.0.0",
        "3.5.259",
        "3.6.0",
        "3.7.0",
        "1.4.1",
        "1.4.2",
        "1.4.4",
        "1.2.32",
    )
    assert unknown_bits(0xFF80) == 0


def test_power_fail_partial_interval_with_numeric_fields() -> None:
    flags = quality.POWER_FAIL | quality.PARTIAL_INTERVAL | quality.VALIDATED | (17 << 2) | 2
    assert decode_flags(flags) == ("3.0.0", "1.4.2", "1.2.32")
    assert q_field(flags) == 2
    assert sub_est_field(flags) == 17
    assert unknown_bits(flags) == (17 << 2) | 2


def test_all_sixteen_bits() -> None:
    assert q_field(0xFFFF) == 3
    assert sub_est_field(0xFFFF) == 31
    assert unknown_bits(0xFFFF) == 0x7F
    assert len(decode_flags(0xFFFF)) == 9


# ----------------------------------------------------------------------------------------------- range


@pytest.mark.parametrize("flags", [-1, 65536, 1 << 20, True, "256", 256.0, None])
def test_values_outside_sixteen_bits_raise_parse_error(flags: object) -> None:
    for function in (decode_flags, q_field, sub_est_field, unknown_bits):
        with pytest.raises(ParseError, match="not a 16-bit value"):
            function(flags)  # deliberately wrong input, as from untyped data


def test_encode_flags_rejects_what_it_cannot_represent() -> None:
    with pytest.raises(ValueError, match="no Netstream quality bit"):
        encode_flags(["3.8.0"])
    with pytest.raises(ValueError, match="q must be"):
        encode_flags([], q=4)
    with pytest.raises(ValueError, match="sub_est must be"):
        encode_flags([], sub_est=32)


# ----------------------------------------------------------------------------------------------- properties


@settings(max_examples=100)
@given(st.integers(min_value=0, max_value=0xFFFF))
def test_flags_round_trip_through_codes_and_fields(flags: int) -> None:
    codes = decode_flags(flags)
    assert encode_flags(codes, q=q_field(flags), sub_est=sub_est_field(flags)) == flags
    assert encode_flags(codes) | unknown_bits(flags) == flags
    assert encode_flags(codes) & unknown_bits(flags) == 0
    bits = [encode_flags([code]) for code in codes]
    assert bits == sorted(bits)
    assert all(describe(code) != "unknown" for code in codes)


# ----------------------------------------------------------------------------------------------- CIM refs


@pytest.mark.parametrize(
    ("ref", "normalised"),
    [
        ("3.8.0", "3.8.0"),
        (" 1.4.2 ", "1.4.2"),
        ("03.08.000", "3.8.0"),
        ("2.5.259", "2.5.259"),
        ("9.99.999", "9.99.999"),
    ],
)
def test_quality_refs_are_normalised(ref: str, normalised: str) -> None:
    assert parse_quality_ref(ref) == normalised


@pytest.mark.parametrize(
    "ref", ["", "3.8", "3.8.0.1", "a.b.c", "-1.0.0", "3.8.0 x", "3..0", "3.8.\u0663", "1.2.32.", None]
)
def test_malformed_quality_refs_raise_parse_error(ref: object) -> None:
    with pytest.raises(ParseError, match=r"system\.category\.sub") as caught:
        parse_quality_ref(ref)  # None stands for a JSON null from the response
    assert "\n" not in caught.value.message
    assert caught.value.fragment == str(ref)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("3.8.0", "estimateGeneric"),
        ("3.8.7", "estimatedByUtilityRule"),
        ("0.0.0", "dataValid"),
        ("3.0.1", "validated"),
        ("2.4.259", "daylightSavingsTimeChange"),
        ("1.5.256", "dataOutsideExpectedRange"),
        ("1.3.1", "coverOpened"),
        ("3.11.1", "inferred"),
        ("3.12.0", "projectedGeneric"),
        ("3.10.1", "accepted"),
        ("9.0.0", "unknown"),
        ("1.99.0", "unknown"),
        ("1.4.999", "unknown"),
        ("not a code", "unknown"),
    ],
)
def test_describe(code: str, name: str) -> None:
    assert describe(code) == name
