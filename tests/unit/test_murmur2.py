"""murmur2 agrees with Kafka's Java implementation (vectors from Kafka's own UtilsTest)."""

from __future__ import annotations

import pytest

from publisher.kafka.murmur2 import murmur2, partition_for, positive


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("21", -973932308),
        ("foobar", -790332482),
        ("a-little-bit-long-string", -985981536),
        ("a-little-bit-longer-string", -1486304829),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        ("abc", 479470107),
    ],
)
def test_matches_kafka_java_vectors(text: str, expected: int) -> None:
    assert murmur2(text.encode()) == expected


def test_partition_is_positive_hash_modulo_partitions() -> None:
    assert partition_for("foobar", 12) == positive(-790332482) % 12
    assert all(0 <= partition_for(f"up-{i}", 7) < 7 for i in range(500))
