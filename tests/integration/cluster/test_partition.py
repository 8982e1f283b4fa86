"""A node cut off from the other two by the network (not killed), then healed, under bets.

Each node runs in a network namespace of its own, made here (`services.infra.netns`: a veth
pair to a bridge in the test's namespace, addresses in a private /24 used by nothing else): the
partition takes the leader's link down, so it runs on, alone and without quorum, while
the other two elect a leader and take the bets; healed, it rejoins and catches up.
Needs CAP_NET_ADMIN (root here; the test fails with what is missing otherwise).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from services.infra.natscluster import NatsCluster
from services.infra.netns import Net
from services.ledger.application import Ledger
from tests.integration.cluster.conftest import cluster_env
from tests.integration.cluster.test_cluster import Bets

D = Decimal


@pytest.fixture
def net() -> Iterator[Net]:
    found = Net()
    try:
        found.up()
        yield found
    finally:
        found.down()


def test_bets_go_on_while_the_stream_leader_is_partitioned_away_and_after_it_heals(
    net: Net, tmp_path: Path, stream_prefix: str
) -> None:
    cluster = NatsCluster(tmp_path / "cluster", hosts=net.hosts, wrappers=net.wrappers)
    with cluster, Ledger(env=cluster_env(cluster, stream_prefix)) as ledger:
        stream = f"{stream_prefix}_LEDGER"
        bets = Bets(ledger)
        bets.take(10)
        leader = cluster.stream_leader(stream)
        assert leader is not None
        cut = list(cluster.nodes).index(leader)
        net.cut(cut)  # the leader runs on, cut off from the other two and from us
        bets.take(15)
        assert cluster.stream_leader(stream) not in (None, leader)
        net.heal(cut)
        deadline = time.monotonic() + 30
        while cluster.meta_leader(leader) is None:  # rejoined: it knows the cluster again
            assert time.monotonic() < deadline, f"{leader} did not rejoin within 30 s"
            time.sleep(0.2)
        bets.take(10)
        # Direct gets are answered by any replica, the healed one too while it catches up;
        # the round read drains the round book up to the head the leader knows, so it
        # lists every bet answered at once (it once listed 10 of 35, from the healed node).
        bets.check()
