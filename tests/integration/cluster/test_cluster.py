"""livebridge on a three-node JetStream cluster: R3 streams, a node lost under load, two writers.

The cluster is the wheel's nats-server three times on loopback (`services.infra.natscluster`),
routed to each other, every node fsyncing before its vote counts.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import nats
import pytest

from services.infra.natscluster import NatsCluster
from services.infra.natsserver import NatsServerError
from services.ledger.application import Ledger
from services.ledger.errors import LedgerRefused
from tests.integration.cluster.conftest import cluster_env
from tests.integration.ledger.test_two_processes import two_processes_keep_the_invariants
from tests.integration.support.livebridge_run import Bridge
from tests.integration.support.livebridge_run import stopped_everything
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import funded

D = Decimal
PLAYERS = ("c0", "c1", "c2")


def replicas_of(url: str, streams: list[str]) -> dict[str, int]:
    async def read() -> dict[str, int]:
        nc = await nats.connect(url.split(","))
        try:
            js = nc.jetstream()
            return {s: (await js.stream_info(s)).config.num_replicas or 1 for s in streams}
        finally:
            await nc.close()

    return asyncio.run(read())


def test_a_cluster_one_of_whose_nodes_cannot_start_leaves_no_node_running(tmp_path: Path) -> None:
    cluster = NatsCluster(tmp_path, wrappers=[(), (), ("false",)])  # n3 exits at once
    with pytest.raises(NatsServerError, match="exited at start"), cluster:
        pass
    assert [name for name, node in cluster.nodes.items() if node.running()] == []


def test_a_started_cluster_places_an_r3_stream_at_once_after_the_placement_wait(
    tmp_path: Path,
) -> None:
    """A leader and current peers were not enough: `livebridge run CLUSTER=1` was refused its
    first R3 stream ("no suitable peers for placement, peer offline") now and then."""

    async def r3_at_once(url: str) -> tuple[int, list[str]]:
        nc = await nats.connect(url.split(","))
        try:
            js = nc.jetstream(timeout=2.0)
            made = await js.add_stream(name="R3_AT_ONCE", subjects=["r3.once"], num_replicas=3)
            names = [info.config.name or "" for info in await js.streams_info()]
            return made.config.num_replicas or 1, names
        finally:
            await nc.close()

    with NatsCluster(tmp_path) as cluster:  # entering it waits for placement
        replicas, streams = asyncio.run(r3_at_once(cluster.url))
    assert replicas == 3
    assert streams == ["R3_AT_ONCE"], "the probe stream is deleted"


def test_run_with_cluster_starts_three_nodes_puts_every_stream_and_bucket_at_r3_and_stops_them(
    tmp_path: Path,
) -> None:
    bridge = Bridge(tmp_path / "home", 1, env={"LIVEBRIDGE_CLUSTER": "1"})
    store = tmp_path / "home" / "nats-cluster"
    try:
        bridge.ready(within=30)
        url = json.loads((tmp_path / "home" / "endpoints.json").read_text())["nats_url"]
        assert len(url.split(",")) == 3, "the bridge knows every node"
        streams = ["LB_LEDGER", "LB_LEDGER_SNAPSHOTS", "ROUND_SETTLE", "KV_LB_platform_sessions"]
        assert replicas_of(url, streams) == dict.fromkeys(streams, 3)
        assert sorted(p.name for p in store.iterdir()) == ["n1", "n2", "n3"]

        assert bridge.interrupt()[0] == 0
        assert stopped_everything(store), "a node outlived livebridge run"
    finally:
        bridge.close()


def take(ledger: Ledger, tx_id: str, player: str, deadline_s: float = 30.0) -> bool:
    """Send one bet the way a provider does: again with the same id until it is answered.

    Returns whether the answer was a replay (the first attempt landed, its answer was lost).
    """
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return ledger.execute(debit(tx_id, "1.00", player=player, round_id="k1")).replayed
        except LedgerRefused:
            raise
        except Exception:
            assert time.monotonic() < deadline, f"{tx_id} unanswered for {deadline_s} s"
            time.sleep(0.2)


class Bets:
    """Bets taken one after another for `PLAYERS` in turn (each funded with 1000), and the
    check that every one answered is stored once with the wallets adding up."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.taken: list[str] = []
        for player in PLAYERS:
            funded(ledger, player, "1000")

    def take(self, n: int) -> None:
        for _ in range(n):
            tx = f"k-{len(self.taken)}"
            take(self.ledger, tx, PLAYERS[len(self.taken) % len(PLAYERS)])
            self.taken.append(tx)

    def check(self) -> None:
        stored = self.ledger.round_state("evo", "k1").bets
        assert Counter(b.bet_id for b in stored) == Counter(self.taken), (
            "every bet answered is stored once"
        )
        for player in PLAYERS:
            mine = sum(1 for b in stored if b.player == player)
            balance = self.ledger.balance(player, "EUR")
            assert balance.held == D(mine) and balance.available == D(1000 - mine)
        assert sum(self.ledger.postings_total("EUR").values(), D(0)) == 0


def test_bets_go_on_when_a_node_and_then_the_stream_leader_are_killed(
    tmp_path: Path, stream_prefix: str
) -> None:
    with (
        NatsCluster(tmp_path / "cluster") as cluster,
        Ledger(env=cluster_env(cluster, stream_prefix)) as ledger,
    ):
        stream = f"{stream_prefix}_LEDGER"
        bets = Bets(ledger)
        bets.take(15)
        follower = next(n for n in cluster.nodes if n != cluster.stream_leader(stream))
        cluster.nodes[follower].kill()  # a follower: the quorum stands, nothing waits
        bets.take(15)
        cluster.nodes[follower].start()
        leader = cluster.stream_leader(stream)
        assert leader is not None
        cluster.nodes[leader].kill()  # the leader: the other two elect one and go on
        bets.take(15)
        assert cluster.stream_leader(stream) not in (None, leader)
        cluster.nodes[leader].start()
        bets.take(5)
        bets.check()


def test_two_processes_on_the_same_wallets_through_the_cluster_keep_the_invariants(
    nats_cluster: NatsCluster, stream_prefix: str
) -> None:
    two_processes_keep_the_invariants(cluster_env(nats_cluster, stream_prefix))
