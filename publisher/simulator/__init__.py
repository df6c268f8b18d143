"""A faithful stand-in for the Netstream GetMeterReadings API, over real HTTP, for tests and demos."""

from publisher.simulator.clock import SimClock
from publisher.simulator.config import (
    FORWARD_15MIN_KWH,
    FORWARD_30MIN_KWH,
    FORWARD_DAILY_KWH,
    MONTHLY_REGISTER_KWH,
    REVERSE_30MIN_KWH,
    REVERSE_DAILY_KWH,
    SimulatorConfig,
    SimUsagePoint,
)
from publisher.simulator.faults import FaultPlan, FaultRule
from publisher.simulator.recording import RecordedRequest
from publisher.simulator.server import SimulatorServer

__all__ = [
    "FORWARD_15MIN_KWH",
    "FORWARD_30MIN_KWH",
    "FORWARD_DAILY_KWH",
    "MONTHLY_REGISTER_KWH",
    "REVERSE_30MIN_KWH",
    "REVERSE_DAILY_KWH",
    "FaultPlan",
    "FaultRule",
    "RecordedRequest",
    "SimClock",
    "SimUsagePoint",
    "SimulatorConfig",
    "SimulatorServer",
]
