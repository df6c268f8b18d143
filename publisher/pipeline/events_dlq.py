"""DeadLetter records: the raw fragment that could not be published and why. Nothing is dropped silently."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from publisher.netstream.model import Reading
from publisher.netstream.parser import Rejected
from publisher.pipeline.events import EVENT_NAMESPACE, Source

#: raw fragments larger than this are cut; ``raw_length`` keeps the full size
MAX_RAW = 64 * 1024


def reading_fragment(reading: Reading) -> str:
    """A normalised reading as JSON text, for dead-lettering a reading that could not be encoded."""
    return json.dumps(reading.to_json(), sort_keys=True)


def dead_letter(
    rejected: Rejected,
    window_start: datetime | None,
    window_end: datetime | None,
    *,
    source: Source,
    stage: str,
    occurred_at: datetime,
) -> dict[str, Any]:
    """The DeadLetter record for one rejected fragment. Its id is stable for the same fragment and reason,
    so a retried batch writes the same record again rather than a second one with a new id."""
    raw = rejected.fragment.encode("utf-8", errors="replace")
    stripped = raw.lstrip()
    raw_format = "xml" if stripped.startswith(b"<") else "json" if stripped[:1] in (b"{", b"[") else "text"
    identity = f"{rejected.reason}|{rejected.usage_point}|{rejected.reading_type}|".encode() + raw
    return {
        "dead_letter_id": str(uuid.uuid5(EVENT_NAMESPACE, identity.hex())),
        "reason": rejected.reason,
        "error_type": "ParseError" if stage in ("PARSE", "VALIDATE") else "EncodeError",
        "stage": stage,
        "usage_point_mrid": rejected.usage_point,
        "reading_type": rejected.reading_type,
        "window_start": window_start,
        "window_end": window_end,
        "raw": raw[:MAX_RAW],
        "raw_format": raw_format,
        "raw_length": len(raw) if len(raw) > MAX_RAW else None,
        "occurred_at": occurred_at,
        "source": source.value,
    }
