"""`make bench`: every area's figures in one run, printed as a table and written as JSON.

One nats-server from the wheel (fsync always) and one PostgreSQL serve every area, so each
ratio compares figures measured on the same machine, the same server and the same run:

- `eventstore`: raw durable publish rate from nats-py, the recorder's write rate, loads;
- `ledger`: bets, the hot-table and many-tables bursts, a 100k-transaction wallet load;
- `edge`: signed Hub88 bets over HTTP into the fsynced ledger (`edge_ratio` against raw),
  beside the edge alone, and the CPU per bet of the bridge and nats-server (`/proc`);
- `platform`: one 1,000-player round to the round.settle stream and a webhook;
- `socket`: canonical bets through the player's bet socket into the whole bridge
  (`ws_bet_per_s`, `ws_bet_p99_ms` at half that rate);
- `cluster`: the same socket bets on a three-node cluster, through one `livebridge run`
  and through two at once (`one_bridge_bet_per_s`, `two_bridges_bet_per_s`);
- `views`: a log of at least 1M events, its raw read rate, rebuilds and round replays, and
  durable bets on it against bets on a fresh log (`bet_cost_growth`);
- `reconcile`: a provider report of a million rows against as many ledger rows;
- `memory`: `livebridge run` on its defaults under simulated tables (RSS after warm-up and
  its growth per 1,000 wallet calls, nats-server's RSS), and replay p99 against
  nats-server's RSS under each collector budget (`GOMEMLIMIT`).

Each figure a target speaks of is checked at the end (`TARGETS`) and a missed one is listed
under `missed` in the JSON. The command still exits 0: on a shared 2-core machine one run
can miss by noise, and the figures are for reading, not a gate.
"""

from __future__ import annotations

import argparse
import json
import operator
import time
import uuid
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from services.bench import eventstore


@dataclass
class Context:
    """What the areas share: the servers, and the figures measured so far in this run."""

    nats_url: str
    nats_pid: int | None
    """The server's process, for its CPU per bet (None: a server not started here)."""
    nats_monitor: str | None
    """Its monitoring URL, for what it handled per bet."""
    database_url: str
    env: Mapping[str, str]
    """The environment the CLI passed in: `LIVEBRIDGE_BENCH_LOG_EVENTS`, `..._LOADS`."""
    figures: dict[str, float] = field(default_factory=dict)


def _ledger(ctx: Context) -> dict[str, float]:
    from services.bench import ledger

    return ledger.measure(ctx.nats_url)


def _edge(ctx: Context) -> dict[str, float]:
    from services.bench import edge

    figures = edge.measure(ctx.nats_url, nats_pid=ctx.nats_pid, nats_monitor=ctx.nats_monitor)
    raw = ctx.figures.get("raw_publish_per_s")
    if raw:
        figures["edge_ratio"] = round(figures["edge_bet_per_s"] / raw, 3)
    return figures


def _platform(_ctx: Context) -> dict[str, float]:
    from services.bench import platform

    return platform.measure()


def _views(ctx: Context) -> dict[str, float]:
    from services.bench import views

    events = int(ctx.env.get("LIVEBRIDGE_BENCH_LOG_EVENTS", "1000000"))
    prefix = "BIG" + uuid.uuid4().hex[:8].upper()
    figures = views.measure_big_log(ctx.nats_url, ctx.database_url, events, stream_prefix=prefix)
    if ctx.nats_pid is not None:
        from services.bench import edge

        figures.update(edge.cost_growth(ctx.nats_url, ctx.nats_pid, prefix))
    return figures


def _socket(ctx: Context) -> dict[str, float]:
    from services.bench import betsocket

    return betsocket.measure(ctx.nats_url, ctx.database_url)


def _cluster(ctx: Context) -> dict[str, float]:
    from services.bench import cluster

    return cluster.measure(ctx.database_url)


def _reconcile(ctx: Context) -> dict[str, float]:
    from services.bench import reconcile

    return reconcile.measure(ctx.database_url)


def _memory(ctx: Context) -> dict[str, float]:
    from services.bench import memory

    return memory.measure(ctx.database_url, ctx.env)


Area = Callable[[Context], dict[str, float]]

AREAS: dict[str, Area] = {
    "eventstore": lambda ctx: eventstore.measure(
        ctx.nats_url, loads=int(ctx.env.get("LIVEBRIDGE_BENCH_LOADS", "300"))
    ),
    "ledger": _ledger,
    "edge": _edge,
    "platform": _platform,
    "socket": _socket,
    "cluster": _cluster,
    "views": _views,
    "reconcile": _reconcile,
    "memory": _memory,
}

_COMPARE = {">=": operator.ge, "<=": operator.le}

TARGETS: tuple[tuple[str, str, float | str], ...] = (
    ("recorder_write_ratio", ">=", 0.7),
    ("load_100_p99_ms", "<=", 10.0),
    ("one_table_vs_many_tables", ">=", 0.8),
    ("one_table_settle_ms", "<=", 500.0),
    ("wallet_load_100k_ms", "<=", 20.0),
    ("bet_cpu_vs_edge_only", "<=", 1.6),
    ("bet_server_cpu_ms", "<=", 0.2),
    ("edge_durable_ratio", ">=", 0.5),
    ("bet_cost_growth", "<=", 1.1),
    ("edge_bet_p99_ms", "<=", 50.0),
    ("ws_bet_p99_ms", "<=", 50.0),
    ("rebuild_ratio", ">=", 0.5),
    ("replay_round_p99_ms", "<=", 20.0),
    ("round_settle_publish_1000_ms", "<=", 1000.0),
    ("reconcile_1m_rows_s", "<=", 60.0),
    ("bridge_rss_growth_kb_per_1k_calls", "<=", 10.0),
    ("bridge_rss_calls_measured", ">=", 50_000.0),  # the growth's window, after warm-up
    ("bridge_rss_seconds_measured", ">=", 1_200.0),  # and its length: ten spans of two trims
    ("bridge_rss_mb_peak", "<=", 256.0),
)
"""(figure, comparison, bound): the design's targets and the issues' "done when" figures."""


def check(figures: dict[str, float]) -> tuple[list[str], list[str]]:
    """The targets met and missed among the figures measured (unmeasured ones are left out)."""
    met: list[str] = []
    missed: list[str] = []
    for key, op, bound in TARGETS:
        if key not in figures:
            continue
        limit = figures.get(bound, 0.0) if isinstance(bound, str) else bound
        line = f"{key} {op} {bound} (measured {figures[key]})"
        (met if _COMPARE[op](figures[key], limit) else missed).append(line)
    return met, missed


def main(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from services.bridge.postgres import find_or_start
    from services.infra.natsserver import NatsServer

    wanted = args.only or list(AREAS)
    unknown = sorted(set(wanted) - set(AREAS))
    if unknown:
        print(f"unknown bench area(s) {', '.join(unknown)}; choose from {', '.join(AREAS)}")
        return 2
    out = Path(args.out)
    home = Path(env.get("LIVEBRIDGE_HOME", ".livebridge"))
    postgres = find_or_start(env.get("LIVEBRIDGE_DATABASE_URL"), home)
    try:
        with NatsServer() as server:
            ctx = Context(
                nats_url=server.url,
                nats_pid=server.pid,
                nats_monitor=server.monitor_url,
                database_url=postgres.url,
                env=env,
            )
            for name in wanted:
                started = time.perf_counter()
                figures = AREAS[name](ctx)
                ctx.figures.update(figures)
                print(f"== {name} ({time.perf_counter() - started:.0f} s)", flush=True)
                for key, value in figures.items():
                    print(f"  {key:<34} {value:>12}", flush=True)
    finally:
        postgres.stop()
    met, missed = check(ctx.figures)
    print("== targets")
    for line in met:
        print(f"  met     {line}")
    for line in missed:
        print(f"  MISSED  {line}")
    out.parent.mkdir(parents=True, exist_ok=True)
    document: dict[str, object] = {**ctx.figures, "missed": missed}
    out.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out}")
    return 0
