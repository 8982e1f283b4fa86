"""Cluster figures for `make bench`: bets through one bridge and through two, on one cluster.

`measure(database_url)` starts a three-node JetStream cluster from the wheel
(`services.infra.natscluster`, streams at R3), then two `livebridge run` processes on it
sharing one PostgreSQL database, each its own process as in a deployment. Players are
funded and launched through the first bridge's platform API; sessions live in the
cluster's KV, so a player's socket may open on either bridge. The load is the bet socket
bench's (`services.bench.betsocket`: every socket bets again as soon as it is answered),
from a process of its own, in the same run:

- `one_bridge_bet_per_s`: every socket on the first bridge (the second bridge idles, as
  a standby holding or waiting for the leases);
- `two_bridges_bet_per_s`: half the players on each bridge (players routed to one bridge:
  each player's wallet is written by one process, so its cache stays warm).

Both count `bet.accepted` answers a second; each bet is a hold fsynced by a majority of
the cluster before it is answered.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from services.bench.betsocket import CONFIG
from services.bench.betsocket import KEY
from services.bench.betsocket import PLAYER_SECRET
from services.bench.betsocket import Seat
from services.bench.betsocket import _saturate
from services.bench.betsocket import _seat_players
from services.bench.betsocket import open_rounds
from services.bench.edge import _elsewhere
from services.infra.databases import own_database
from services.infra.natscluster import NatsCluster
from services.infra.natsserver import free_port
from services.ledger.application import Ledger


def _ready(url: str, process: subprocess.Popen[bytes], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"bench bridge at {url} did not become ready")
        time.sleep(0.2)


async def _saturate_all(groups: list[tuple[str, list[Seat]]], seconds: float) -> float:
    """Every group's sockets betting on its bridge at once: the answers a second, summed."""
    rates = await asyncio.gather(*(_saturate(base, seats, seconds) for base, seats in groups))
    return sum(rate for rate, _ in rates)


def _saturate_all_sync(groups: list[tuple[str, list[Seat]]], seconds: float) -> float:
    return asyncio.run(_saturate_all(groups, seconds))


def measure(database_url: str, *, sockets: int = 64, seconds: float = 6.0) -> dict[str, float]:
    prefix = "BENCHCL" + uuid.uuid4().hex[:6].upper()
    with (
        tempfile.TemporaryDirectory() as tmp,
        NatsCluster(Path(tmp) / "cluster") as cluster,
        own_database(database_url, "livebridge_bench_cl") as database,
    ):
        config = Path(tmp) / "livebridge.toml"
        config.write_text(CONFIG)
        env = {
            **os.environ,
            "BENCH_ADMIN_KEY": KEY,
            "BENCH_PLAYER_TOKEN_SECRET": PLAYER_SECRET,
            "BENCH_EVO_TOKEN": "bench-evo-token",
            "LIVEBRIDGE_NATS_URL": cluster.url,
            "LIVEBRIDGE_NATS_MONITOR_URL": cluster.monitor_url,
            "LIVEBRIDGE_DATABASE_URL": database,
            "LIVEBRIDGE_CONFIG": str(config),
            "LIVEBRIDGE_STREAM_PREFIX": prefix,
            "LIVEBRIDGE_SETTLE_STREAM": f"{prefix}_ROUND_SETTLE",
            "LIVEBRIDGE_SETTLE_SUBJECT": f"{prefix}.round.settle",
        }
        bases: list[str] = []
        bridges: list[subprocess.Popen[bytes]] = []
        try:
            for n in range(2):
                port = free_port()
                bridges.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "services.cli", "run"],
                        env={
                            **env,
                            "LIVEBRIDGE_HOME": str(Path(tmp) / f"bridge{n}"),
                            "LIVEBRIDGE_HTTP_PORT": str(port),
                        },
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
                bases.append(f"http://127.0.0.1:{port}")
                _ready(bases[-1], bridges[-1])
            seats = asyncio.run(_seat_players(bases[0], [f"cl-{n:03d}" for n in range(sockets)]))
            _open_rounds(cluster.url, prefix)
            one = _elsewhere(_saturate_all_sync, [(bases[0], seats)], seconds)
            half = len(seats) // 2
            two = _elsewhere(
                _saturate_all_sync, [(bases[0], seats[:half]), (bases[1], seats[half:])], seconds
            )
        finally:
            for process in bridges:
                process.terminate()
            for process in bridges:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    one, two = round(one, 1), round(two, 1)
    return {
        "one_bridge_bet_per_s": one,
        "two_bridges_bet_per_s": two,
        "two_bridges_vs_one": round(two / one, 3) if one else 0.0,
    }


def _open_rounds(nats_url: str, prefix: str) -> None:
    """The socket bench's rounds, recorded in the cluster's ledger."""
    ledger = Ledger(
        {
            "PERSISTENCE_MODULE": "services.eventstore",
            "NATS_URL": nats_url,
            "NATS_STREAM_PREFIX": prefix,
            "NATS_REPLICAS": "3",
        }
    )
    try:
        open_rounds(ledger.record_event)
    finally:
        ledger.close()
