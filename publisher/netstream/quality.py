"""Reading quality: Netstream's 16-bit flag field and IEC 61968-9 ``system.category.sub`` codes.

Netstream's field (netstream-api.md §5.1), MSB to LSB, is ``|P|S|I|O|M|I|F|V|K| SUB/EST | Q |``: bits 15..7
are single flags with an IEC code each, bits 6..2 a substitution/estimation method number and bits 1..0 a
quality number. The two numeric fields have no documented IEC code, so :func:`decode_flags` maps only the
single-flag bits and the numbers stay available through :func:`q_field`, :func:`sub_est_field` and
:func:`unknown_bits`; the raw integer always travels with the reading, so nothing is lost.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from publisher.errors import ParseError

# ------------------------------------------------------------------------------------------------ flags

Q_MASK: Final = 0b0000_0000_0000_0011
SUB_EST_MASK: Final = 0b0000_0000_0111_1100
_SUB_EST_SHIFT: Final = 2

KNOWN_MISSING: Final = 1 << 7  # K
VALIDATED: Final = 1 << 8  # V
FAILED_REASONABILITY: Final = 1 << 9  # F
INVALID: Final = 1 << 10  # I
MANUALLY_EDITED: Final = 1 << 11  # M
OVERFLOW: Final = 1 << 12  # O
PARTIAL_INTERVAL: Final = 1 << 13  # I
SKIPPED_INTERVAL: Final = 1 << 14  # S
POWER_FAIL: Final = 1 << 15  # P

MAX_FLAGS: Final = 0xFFFF

#: single-flag bits -> IEC code, in ascending bit order (the order of :func:`decode_flags`' output)
FLAG_CODES: Final[dict[int, str]] = {
    KNOWN_MISSING: "2.5.259",
    VALIDATED: "3.0.0",
    # Netstream's table says 3.5.259. In IEC terms 5.259 is knownMissingRead and 5.256 would be
    # dataOutsideExpectedRange; the code is kept exactly as Netstream documents it.
    FAILED_REASONABILITY: "3.5.259",
    INVALID: "3.6.0",
    MANUALLY_EDITED: "3.7.0",
    # GUESS: Netstream's table says "Reserved" for bit 12, but the diagram letter "O" and the UI label
    # "Overflow" point at the IEC overflow code (end device, dataCollection, overflow).
    OVERFLOW: "1.4.1",
    PARTIAL_INTERVAL: "1.4.2",
    SKIPPED_INTERVAL: "1.4.4",
    POWER_FAIL: "1.2.32",
}

_MAPPED_BITS: Final = sum(FLAG_CODES)
_BIT_FOR_CODE: Final = {code: bit for bit, code in FLAG_CODES.items()}


def _check_range(flags: object) -> int:
    if isinstance(flags, bool) or not isinstance(flags, int) or not 0 <= flags <= MAX_FLAGS:
        raise ParseError(
            f"quality flags {flags!r} are not a 16-bit value; expected an integer in 0..65535",
            fragment=repr(flags)[:80],
        )
    return flags


def decode_flags(flags: object) -> tuple[str, ...]:
    """The IEC codes of the single-flag bits that are set, in ascending bit order."""
    checked = _check_range(flags)
    return tuple(code for bit, code in FLAG_CODES.items() if checked & bit)


def encode_flags(codes: Iterable[str], *, q: int = 0, sub_est: int = 0) -> int:
    """The inverse of :func:`decode_flags` plus the numeric fields (for the simulator and tests).

    A code that has no Netstream bit, or a field value that does not fit, raises :class:`ValueError`:
    this is for building flags in code, never for decoding input.
    """
    if not 0 <= q <= Q_MASK:
        raise ValueError(f"q must be in 0..{Q_MASK}, got {q}")
    if not 0 <= sub_est <= SUB_EST_MASK >> _SUB_EST_SHIFT:
        raise ValueError(f"sub_est must be in 0..{SUB_EST_MASK >> _SUB_EST_SHIFT}, got {sub_est}")
    flags = q | sub_est << _SUB_EST_SHIFT
    for code in codes:
        bit = _BIT_FOR_CODE.get(code)
        if bit is None:
            raise ValueError(
                f"IEC code {code!r} has no Netstream quality bit; use one of {sorted(_BIT_FOR_CODE)}"
            )
        flags |= bit
    return flags


def q_field(flags: object) -> int:
    """Bits 0-1: Netstream's 2-bit quality number (assumed 0 = actual; meaning undocumented)."""
    return _check_range(flags) & Q_MASK


def sub_est_field(flags: object) -> int:
    """Bits 2-6: Netstream's 5-bit substitution/estimation method number (assumed 0 = none)."""
    return (_check_range(flags) & SUB_EST_MASK) >> _SUB_EST_SHIFT


def unknown_bits(flags: object) -> int:
    """The bits :func:`decode_flags` did not turn into a code (today: the Q and SUB/EST fields)."""
    return _check_range(flags) & ~_MAPPED_BITS


# ------------------------------------------------------------------------------------------------ IEC codes

SYSTEMS: Final[dict[int, str]] = {
    0: "none",
    1: "endDevice",
    2: "meteringSystem",
    3: "meterDataManagement",
    4: "other",
    5: "externallySpecified",
}

CATEGORIES: Final[dict[int, str]] = {
    0: "valid",
    1: "diagnostics",
    2: "powerQuality",
    3: "tamper",
    4: "dataCollection",
    5: "reasonability",
    6: "validation",
    7: "edited",
    8: "estimated",
    10: "questionable",
    11: "derived",
    12: "projected",
}

#: (category, sub-category) -> name, netstream-api.md §5.2
SUB_CATEGORIES: Final[dict[tuple[int, int], str]] = {
    (0, 0): "dataValid",
    (0, 1): "validated",
    (1, 0): "diagnosticsFlag",
    (1, 1): "batteryLow",
    (1, 3): "sensorFailure",
    (1, 4): "watchdogFlag",
    (1, 5): "parityError",
    (1, 6): "crcError",
    (1, 7): "ramChecksumError",
    (1, 8): "romChecksumError",
    (1, 9): "clockError",
    (2, 0): "powerQualityFlag",
    (2, 1): "excessiveOutageCount",
    (2, 2): "pqCounter",
    (2, 3): "serviceDisconnectSwitching",
    (2, 32): "powerFail",
    (3, 0): "revenueProtection",
    (3, 1): "coverOpened",
    (3, 2): "logicalDisconnect",
    (3, 3): "revenueProtectionSuspect",
    (3, 4): "reverseRotation",
    (3, 5): "staticDataFlag",
    (4, 0): "dataCollectionAlarm",
    (4, 1): "overflow",
    (4, 2): "partialInterval",
    (4, 3): "longInterval",
    (4, 4): "skippedInterval",
    (4, 5): "testData",
    (4, 6): "configurationChanged",
    (4, 7): "notRecording",
    (4, 8): "resetOccurred",
    (4, 9): "clockChanged",
    (4, 10): "loadControlOccurred",
    (4, 16): "daylightSavingsTimeInEffect",
    (4, 64): "clockSetForward",
    (4, 128): "clockSetBackward",
    (4, 129): "failedProbeAttempt",
    (4, 130): "customerRead",
    (4, 131): "manualRead",
    (4, 259): "daylightSavingsTimeChange",
    (5, 256): "dataOutsideExpectedRange",
    (5, 257): "errorCode",
    (5, 258): "suspect",
    (5, 259): "knownMissingRead",
    (6, 0): "validationGeneric",
    (6, 1): "zeroUsage",
    (6, 2): "usageOnInactiveMeter",
    (6, 3): "usageAboveThreshold",
    (6, 4): "usageBelowThreshold",
    (6, 5): "usageAbovePercent",
    (6, 6): "usageBelowPercent",
    (6, 9): "touSumCheckError",
    (7, 0): "editGeneric",
    (7, 1): "dataAdded",
    (7, 3): "rejected",
    (8, 0): "estimateGeneric",
    (10, 0): "indeterminate",
    (10, 1): "accepted",
    (11, 0): "deterministic",
    (11, 1): "inferred",
    (12, 0): "projectedGeneric",
}

_ESTIMATED: Final = 8
_REF: Final = re.compile(r"([0-9]{1,9})\.([0-9]{1,9})\.([0-9]{1,9})", re.ASCII)


def parse_quality_ref(ref: object) -> str:
    """Validate and normalise a CIM ``ReadingQualityType.ref`` (``" 03.8.0"`` -> ``"3.8.0"``)."""
    match = _REF.fullmatch(ref.strip()) if isinstance(ref, str) else None
    if match is None:
        raise ParseError(
            f"reading quality ref {str(ref)[:80]!r} is not system.category.sub; expected three "
            "dot-separated non-negative integers such as 3.8.0",
            fragment=str(ref)[:200],
        )
    return ".".join(str(int(part)) for part in match.groups())


def describe(code: str) -> str:
    """The IEC name of a quality code (``"2.5.259"`` -> ``"knownMissingRead"``), or ``"unknown"``."""
    match = _REF.fullmatch(code.strip())
    if match is None:
        return "unknown"
    system, category, sub = (int(part) for part in match.groups())
    if system not in SYSTEMS:
        return "unknown"
    name = SUB_CATEGORIES.get((category, sub))
    if name is None and category == _ESTIMATED:
        return "estimatedByUtilityRule"  # 8.x other than 8.0: a utility-defined estimation rule
    return name or "unknown"
