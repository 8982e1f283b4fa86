"""A short `livebridge chaos --cluster` run: three nodes, each in a network namespace of its
own, two bridges sharing them and PostgreSQL, the load spread over both; a node cut off
from the others and healed, a bridge paused, the ledger stream's leader killed. The checker
finds nothing lost, duplicated or violated. (`make chaos CLUSTER=1` runs longer.)

Needs CAP_NET_ADMIN for the namespaces, as the partition test does."""

from __future__ import annotations

import os

from services.bridge.config import command_env
from services.chaos import run
from tests.integration.chaos.support.verdict import assert_lost_nothing

SEED = 632
"""A seed whose three cycles cut node n1 off for 2.1 s, pause bridge-2 for 2.1 s (its
leases pass to bridge-1) and kill whichever node leads the ledger stream."""


async def test_a_short_cluster_chaos_run_with_two_bridges_loses_nothing() -> None:
    result = await run.chaos(
        seed=SEED,
        cycles=3,
        duration_s=2.0,
        kinds=("pause", "partition", "leader"),
        cluster=True,
        env=command_env(os.environ),
    )
    assert result["partitions"].startswith("network namespaces"), result["partitions"]
    assert (result["nodes"], result["bridges"]) == (3, 2)
    assert [(f["kind"], f["target"]) for f in result["faults"]] == [
        ("partition", "n1"),
        ("pause", "bridge-2"),
        ("leader", "ledger-leader"),
    ]
    # how much load ran through the faults depends on the machine: 31 calls and 10 feed
    # events on a CI run under a load average of 8
    assert_lost_nothing(result, calls=10, events=5)
