"""Every `make bench` area runs end to end at a small size, so the bench cannot rot unseen.

The figures themselves come from `make bench`; here each area must measure something
real (a rate above zero, a latency) on a real nats-server and PostgreSQL, and say which
targets it met or missed.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import pytest

from services.bench import betsocket
from services.bench import cluster as cluster_bench
from services.bench import edge as edge_bench
from services.bench import eventstore
from services.bench import platform as platform_bench
from services.bench import runner
from services.bench import views as views_bench
from services.bench.cpu import spent
from services.infra.natsserver import NatsServer
from services.ledger.application import Ledger
from tests.conftest import POSTGRES_ADMIN_URL


def test_the_eventstore_area_measures_raw_and_recorder_writes_on_one_server(
    nats_url: str,
) -> None:
    figures = eventstore.measure(nats_url, seconds=0.6, rounds=2, loads=5)
    assert figures["raw_publish_per_s"] > 0
    assert figures["recorder_write_per_s"] > 0
    # The ratio comes from the unrounded rates, the per-second figures are rounded to 0.1.
    assert figures["recorder_write_ratio"] == pytest.approx(
        figures["recorder_write_per_s"] / figures["raw_publish_per_s"], abs=0.002
    )
    assert 0 < figures["load_100_p50_ms"] <= figures["load_100_p99_ms"]


def test_the_edge_area_drives_signed_bets_through_http_into_the_ledger(
    nats_server: NatsServer,
) -> None:
    figures = edge_bench.measure(
        nats_server.url,
        nats_pid=nats_server.pid,
        nats_monitor=nats_server.monitor_url,
        seconds=0.5,
        concurrency=4,
        players=8,
        max_bets=80,
    )
    assert figures["edge_bet_per_s"] > 0
    assert figures["edge_bet_p99_saturated_ms"] > 0
    assert figures["edge_paced_per_s"] == max(1.0, round(figures["edge_bet_per_s"] / 2, 1))
    assert figures["edge_bet_p99_ms"] >= figures["edge_bet_p50_ms"] > 0
    assert figures["edge_only_bet_per_s"] > 0
    assert figures["edge_durable_ratio"] == round(
        figures["edge_bet_per_s"] / figures["edge_only_bet_per_s"], 3
    )
    # A durable bet costs the bridge more CPU than an answer from memory, and the server some.
    assert figures["bet_cpu_ms"] > figures["edge_only_cpu_ms"] > 0
    assert figures["bet_server_cpu_ms"] > 0
    # Each bet is one atomic batch of its wallet, bet and record: three messages at least.
    assert figures["bet_server_in_msgs"] >= 3 and figures["bet_server_out_msgs"] > 0


def test_a_durable_bets_cost_is_measured_on_a_given_log(nats_server: NatsServer) -> None:
    assert nats_server.pid is not None
    cost = edge_bench.durable_cost_ms(
        nats_server.url, nats_server.pid, "COST", seconds=0.5, concurrency=4, players=8,
        max_bets=40,
    )  # fmt: skip
    assert 0 < cost < 1000


def test_a_bets_cost_growth_sets_bets_on_a_big_log_against_bets_on_fresh_ones(
    nats_server: NatsServer,
) -> None:
    assert nats_server.pid is not None
    views_bench.big_log(nats_server.url, 3000, played=1000, stream_prefix="GROW").close()
    figures = edge_bench.cost_growth(
        nats_server.url, nats_server.pid, "GROW", rounds=2, seconds=0.5, concurrency=4,
        players=8, max_bets=40,
    )  # fmt: skip
    fresh, big = figures["bet_cost_fresh_log_ms"], figures["bet_cost_big_log_ms"]
    assert fresh > 0 and big > 0
    assert figures["bet_cost_growth"] == pytest.approx(big / fresh, abs=0.01)
    # Each run bets with players of its own, on the big log too: its wallets are new.
    with Ledger(
        {"PERSISTENCE_MODULE": "services.eventstore", "NATS_URL": nats_server.url,
         "NATS_STREAM_PREFIX": "GROW"}
    ) as ledger:  # fmt: skip
        for run in range(2):
            assert ledger.balance(f"cost{run}-0000", "EUR").balance > 0


def test_cpu_seconds_count_this_process_burning_cpu() -> None:
    with spent(me=os.getpid(), nobody=None) as cpu:
        deadline = time.process_time() + 0.2
        while time.process_time() < deadline:
            pass
    assert list(cpu.seconds) == ["me"]
    assert 0.1 <= cpu.seconds["me"] < 5
    assert cpu.per("me", 100) == pytest.approx(cpu.seconds["me"] * 10)


def test_the_views_area_rebuilds_and_replays_a_log_beside_its_raw_read_rate(
    nats_url: str, database_url: str
) -> None:
    figures = views_bench.measure_big_log(
        nats_url, database_url, events=4000, played=2000, samples=100
    )
    assert figures["log_events"] >= 4000
    assert figures["raw_read_per_s"] > 0
    assert figures["projection_rebuild_per_s"] > 0
    assert figures["rebuild_ratio"] == round(
        figures["projection_rebuild_per_s"] / figures["raw_read_per_s"], 3
    )
    assert figures["replay_round_p99_ms"] > 0


def test_the_socket_area_drives_canonical_bets_through_the_bet_socket_of_a_whole_bridge(
    nats_url: str,
) -> None:
    figures = betsocket.measure(nats_url, POSTGRES_ADMIN_URL, sockets=4, seconds=1.0)
    assert figures["ws_bet_per_s"] > 0
    assert abs(figures["ws_paced_per_s"] - max(1.0, figures["ws_bet_per_s"] * 0.5)) <= 0.1
    assert figures["ws_bet_p99_ms"] >= figures["ws_bet_p50_ms"] > 0


def test_the_cluster_area_drives_socket_bets_through_one_and_then_two_bridges_on_a_cluster() -> (
    None
):
    figures = cluster_bench.measure(POSTGRES_ADMIN_URL, sockets=4, seconds=1.0)
    assert figures["one_bridge_bet_per_s"] > 0
    assert figures["two_bridges_bet_per_s"] > 0
    assert figures["two_bridges_vs_one"] == round(
        figures["two_bridges_bet_per_s"] / figures["one_bridge_bet_per_s"], 3
    )


def test_the_platform_area_settles_a_round_to_the_stream_and_a_webhook() -> None:
    figures = platform_bench.measure(players=20)
    assert figures["round_settle_publish_1000_ms"] > 0
    assert figures["round_settle_webhook_1000_ms"] > 0


def test_the_runner_writes_figures_and_the_targets_missed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        runner.AREAS, "eventstore", lambda ctx: eventstore.measure(ctx.nats_url, 0.4, 1, loads=5)
    )
    out = tmp_path / "bench.json"
    assert runner.main(argparse.Namespace(only=["eventstore"], out=str(out)), os.environ) == 0
    document = json.loads(out.read_text())
    assert document["raw_publish_per_s"] > 0
    assert isinstance(document["missed"], list)
    assert runner.main(argparse.Namespace(only=["nonsense"], out=str(out)), os.environ) == 2


def test_targets_are_checked_against_their_bounds() -> None:
    met, missed = runner.check(
        {"recorder_write_ratio": 0.71, "edge_bet_p99_ms": 51.0, "unrelated": 1.0}
    )
    assert met == ["recorder_write_ratio >= 0.7 (measured 0.71)"]
    assert missed == ["edge_bet_p99_ms <= 50.0 (measured 51.0)"]
