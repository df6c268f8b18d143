"""Kafka's murmur2 hash, as the Java client's default partitioner computes it.

Used for shard assignment (``murmur2(mRID) mod shard count``) and for choosing state-topic partitions, so that
our placement agrees with ``murmur2_random`` in librdkafka and with Java clients and Kafka Streams.
"""

from __future__ import annotations

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """The signed 32-bit murmur2 hash of ``data`` (Kafka ``Utils.murmur2``)."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    full = length - length % 4
    for i in range(0, full, 4):
        k = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = (h * _M) & _MASK
        h ^= k
    rest = length % 4
    if rest == 3:
        h ^= data[full + 2] << 16
    if rest >= 2:
        h ^= data[full + 1] << 8
    if rest >= 1:
        h ^= data[full]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def positive(value: int) -> int:
    """Kafka ``Utils.toPositive``: clear the sign bit."""
    return value & 0x7FFFFFFF


def partition_for(key: str | bytes, partitions: int) -> int:
    """The partition the Java default partitioner picks for a non-null ``key``."""
    raw = key.encode("utf-8") if isinstance(key, str) else key
    return positive(murmur2(raw)) % partitions
