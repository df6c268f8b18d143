"""Scale of the reliability scenarios: short in ``make test``, full in ``make chaos``.

``make chaos`` sets ``PUBLISHER_CHAOS=full``; every scenario under ``tests/integration/reliability/``
reads :data:`FULL` (or calls :func:`scale`) to choose its size, so one test body serves both forms.
"""

from __future__ import annotations

import os
from typing import TypeVar

T = TypeVar("T")

#: True under ``make chaos``: run every scenario at the size the reliability report quotes
FULL = os.environ.get("PUBLISHER_CHAOS", "").strip().lower() == "full"


def scale(short: T, full: T) -> T:
    """``full`` under ``make chaos``, ``short`` otherwise."""
    return full if FULL else short
