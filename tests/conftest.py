"""Shared pytest configuration for unit and integration tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import structlog
from structlog.testing import LogCapture


def pytest_sessionstart(session: pytest.Session) -> None:
    """With ``PUBLISHER_EXPECT_COMPILED=1`` (``make test-compiled``), refuse to run unless every module of the
    compiled build loads compiled: a path mistake would otherwise test the interpreted sources twice."""
    if os.environ.get("PUBLISHER_EXPECT_COMPILED") != "1":
        return
    from publisher.buildinfo import compiled_modules

    missing = [name for name, compiled in compiled_modules().items() if not compiled]
    if missing:
        listed = ", ".join(missing)
        pytest.exit(f"expected the compiled build, but these modules load interpreted: {listed}", 2)


@pytest.fixture
def captured_logs() -> Iterator[LogCapture]:
    """Every structlog event emitted during the test, as dicts (``event`` plus its key-values)."""
    capture = LogCapture()
    structlog.configure(processors=[capture])
    try:
        yield capture
    finally:
        structlog.reset_defaults()


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """Each test starts from structlog's defaults, whatever an earlier test configured."""
    yield
    structlog.reset_defaults()
