"""The composition root: settings become correctly configured objects."""

from __future__ import annotations

from publisher.app import build_client, topic_specs
from publisher.config import load_settings

ENV = {"NETSTREAM_BASE_URL": "http://127.0.0.1:9", "NETSTREAM_TOKEN": "t", "NETSTREAM_RATE_LIMIT": "8"}


def test_backfill_share_scales_the_rate_limit_and_in_flight_requests() -> None:
    settings = load_settings(None, {**ENV, "NETSTREAM_MAX_IN_FLIGHT": "4"})
    full = build_client(settings)
    share = build_client(settings, rate_share=0.25)
    try:
        limits = [
            (c._transport._limiter.rate_per_second, c._transport._limiter.max_in_flight)
            for c in (full, share)
        ]
        assert limits == [(8.0, 4), (2.0, 1)]
    finally:
        full.close()
        share.close()


def test_topic_specs_cover_readings_routes_state_and_dead_letters() -> None:
    settings = load_settings(
        None,
        {
            "PUBLISHER_TOPICS": '{"register": "netstream.registers.v1"}',
            "PUBLISHER_STATE_PARTITIONS": "24",
            "PUBLISHER_TOPIC_PARTITIONS": "6",
        },
    )
    specs = {spec.name: spec for spec in topic_specs(settings)}
    assert set(specs) == {
        "netstream.meter-readings.v1",
        "netstream.registers.v1",
        "netstream-publisher.state.v1",
        "netstream.meter-readings.dlq.v1",
    }
    state = specs["netstream-publisher.state.v1"]
    assert (state.partitions, state.compacted, state.exact_partitions) == (24, True, True)
    assert not specs["netstream.meter-readings.v1"].compacted
    assert specs["netstream.registers.v1"].partitions == 6
