"""The fault schedule (its targets bind free ports, hence not a unit test): the same seed
gives the same faults; each kind picks from the targets a run offers, so a run with more
of them (nodes, bridges) draws from all; a cluster's schedule deals every fault (a bridge
killed, a node killed, a partition, the leader killed...) before any comes again."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.chaos.faults import CLUSTER_KINDS
from services.chaos.faults import KINDS
from services.chaos.faults import covering_schedule
from services.chaos.faults import deck
from services.chaos.faults import schedule
from services.chaos.faults import targets_for
from services.chaos.processes import LEDGER_LEADER
from services.chaos.processes import BridgeTarget
from services.chaos.processes import NatsTarget
from services.chaos.processes import PostgresTarget
from services.chaos.processes import Processes
from services.chaos.processes import WebhookReceiver
from services.infra.natscluster import NatsCluster
from services.infra.netns import Net


def processes(tmp_path: Path, *, bridges: int = 1, nodes: int = 1) -> Processes:
    return Processes(
        nats=[NatsTarget(f"nats-{n}", tmp_path / f"nats-{n}") for n in range(nodes)],
        bridges=[
            BridgeTarget(f"bridge-{b}", {}, tmp_path / f"b{b}.log", tmp_path / f"b{b}.clock")
            for b in range(bridges)
        ],
        postgres=PostgresTarget.__new__(PostgresTarget),
        webhooks=WebhookReceiver(),
    )


@pytest.fixture
def run(tmp_path: Path) -> Processes:
    found = processes(tmp_path)
    found.postgres.name = "postgres"
    return found


def test_the_same_seed_gives_the_same_schedule_and_another_seed_another(run: Processes) -> None:
    first = schedule(7, 20, 10.0, run)
    assert first == schedule(7, 20, 10.0, run)
    assert first != schedule(8, 20, 10.0, run)
    assert [f.cycle for f in first] == list(range(1, 21))
    assert all(0 < f.at_s < 10.0 for f in first)


def test_every_kind_of_fault_is_drawn_over_a_long_schedule(run: Processes) -> None:
    kinds = {fault.kind for fault in schedule(1, 200, 10.0, run)}
    one_node = set(KINDS) - {"partition", "leader"}  # those need a cluster
    expected = one_node if run.clocks() else one_node - {"clock"}
    assert kinds == expected


def test_a_run_with_more_targets_draws_faults_from_all_of_them(tmp_path: Path) -> None:
    bigger = processes(tmp_path, bridges=2, nodes=3)
    bigger.postgres.name = "postgres"
    assert targets_for("kill", bigger) == ["bridge-0", "bridge-1", "nats-0", "nats-1", "nats-2"]
    hit = {f.target for f in schedule(3, 300, 10.0, bigger, ("kill", "pause"))}
    assert hit == {"bridge-0", "bridge-1", "nats-0", "nats-1", "nats-2"}


def test_asking_only_for_kinds_without_targets_is_an_error(run: Processes) -> None:
    run.bridges[0].faketime = None
    with pytest.raises(ValueError, match="no fault"):
        schedule(1, 3, 10.0, run, ("clock",))


def cluster(tmp_path: Path) -> Processes:
    """Two bridges and three nodes, as `livebridge chaos --cluster` has them, partitionable."""
    found = processes(tmp_path, bridges=2, nodes=3)
    found.postgres.name = "postgres"
    found.cluster = NatsCluster.__new__(NatsCluster)
    found.net = Net()
    return found


def test_a_cluster_schedule_deals_every_fault_once_before_any_comes_again(
    tmp_path: Path,
) -> None:
    run = cluster(tmp_path)
    cards = deck(run, CLUSTER_KINDS)
    assert [(kind, len(group)) for kind, group in cards] == [
        ("kill", 2),
        ("kill", 3),
        ("pause", 2),
        ("pause", 3),
        ("partition", 3),
        ("leader", 1),
        ("postgres", 1),
        ("webhooks", 1),
    ]
    for seed in range(20):
        plan = covering_schedule(seed, 10, 10.0, run)
        dealt = [(f.kind, f.target.startswith("bridge")) for f in plan[: len(cards)]]
        assert sorted(set(dealt)) == sorted(
            (kind, group[0].startswith("bridge")) for kind, group in cards
        ), f"seed {seed}: every card in the first {len(cards)} cycles"
        assert plan == covering_schedule(seed, 10, 10.0, run)
    partitions = [f for f in covering_schedule(1, 40, 10.0, run) if f.kind == "partition"]
    assert all(1.5 <= f.hold_s <= 9.0 for f in partitions), "long enough for an election"


def test_without_network_namespaces_a_cluster_draws_no_partition(tmp_path: Path) -> None:
    run = cluster(tmp_path)
    run.net = None
    assert "partition" not in {f.kind for f in covering_schedule(5, 30, 10.0, run)}
    assert targets_for("leader", run) == [LEDGER_LEADER]
