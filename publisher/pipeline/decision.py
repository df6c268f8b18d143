"""The dedup verdict for one reading: new, suppressed or revised, with what a revision replaces; and the
verdict itself, from what was published before."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Final

from publisher.kafka.state_codec import DayDraft, DayState, Published, Quality, read_entry, read_slot
from publisher.pipeline.locate import Position


class Outcome(Enum):
    """What to do with a reading."""

    NEW = "new"  #: never published for this interval: publish with revision 0
    SUPPRESSED = "suppressed"  #: same value and quality as published: drop it
    REVISED = "revised"  #: changed: publish as the next revision with the previous value


@dataclass(frozen=True, slots=True)
class Decision:
    """The dedup verdict for one reading."""

    outcome: Outcome
    revision: int  #: to publish: 0 when NEW, previous + 1 when REVISED, the current one when SUPPRESSED
    previous_value: Decimal | None = None  #: exact previous value (REVISED only)
    previous_flags: int | None = None  #: previous Netstream flags (REVISED only)
    previous_missing: bool = False  #: the previous publication was a missing value (REVISED only)


NEW: Final = Decision(Outcome.NEW, 0)  # immutable, so one instance serves every new reading


def verdict(previous: Published | None, value: Decimal | None, quality: Quality) -> Decision:
    """The decision for a reading of ``value`` and ``quality`` where ``previous`` was published (or not)."""
    if previous is None:
        return NEW
    if previous.value == value and previous.quality == quality:
        return Decision(Outcome.SUPPRESSED, previous.revision)
    return Decision(
        Outcome.REVISED,
        previous.revision + 1,
        previous_value=previous.value,
        previous_flags=previous.quality.flags,
        previous_missing=previous.value is None,
    )


def previous_in_draft(draft: DayDraft, position: Position) -> Published | None:
    """What a working draft holds for the reading at ``position``."""
    if position.slot is not None and draft.interval_seconds in (0, position.interval_seconds):
        return draft.published(position.slot)
    return draft.entries.get(position.end)


def previous_in_state(state: DayState, position: Position) -> Published | None:
    """What a decoded day holds for the reading at ``position``."""
    if position.slot is not None and state.interval_seconds in (0, position.interval_seconds):
        return read_slot(state, position.slot)
    return read_entry(state, position.end)
