"""The resharding rule docs/deploy.md states, checked against the code that places and restores state.

A target's state records go to partition ``murmur2(target) mod P`` (ShardPublisher._write_state through
``partition_for``); shard ``s`` of ``S`` polls the targets with ``murmur2(target) mod S == s``
(``registry.shard_of``) and restores the partitions ``p`` with ``p mod S == s``
(``statelog.shard_partitions``). With ``S`` dividing ``P`` every target's state sits on a partition its own
shard restores, for every such divisor.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.kafka.murmur2 import partition_for
from publisher.kafka.statelog import shard_partitions
from publisher.registry import shard_of

STATE_PARTITIONS = (12, 24, 60)


def divisors(number: int) -> list[int]:
    """Every shard count that divides ``number``."""
    return [d for d in range(1, number + 1) if number % d == 0]


@settings(max_examples=200, deadline=None)
@given(mrid=st.text(min_size=1, max_size=60), partitions=st.sampled_from(STATE_PARTITIONS))
def test_every_divisor_keeps_each_targets_state_with_its_shard(mrid: str, partitions: int) -> None:
    state_partition = partition_for(mrid, partitions)
    for shards in divisors(partitions):
        shard = shard_of(mrid, shards)
        assert state_partition % shards == shard
        assert state_partition in shard_partitions(partitions, shard, shards)


def test_shards_own_disjoint_partitions_that_cover_the_topic() -> None:
    for partitions in STATE_PARTITIONS:
        for shards in divisors(partitions):
            owned = [shard_partitions(partitions, s, shards) for s in range(shards)]
            assert sorted(p for part in owned for p in part) == list(range(partitions))
            assert {len(part) for part in owned} == {partitions // shards}


def test_a_shard_count_that_does_not_divide_the_partitions_strands_state() -> None:
    partitions, shards = 12, 5
    stranded = [
        mrid
        for mrid in (f"up-{i}" for i in range(200))
        if partition_for(mrid, partitions) not in shard_partitions(partitions, shard_of(mrid, shards), shards)
    ]
    assert stranded  # why the chart and the service refuse such a shard count
