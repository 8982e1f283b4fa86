"""`livebridge chaos`: a whole run. Start everything, play the load, inject the scheduled
faults, then let the bridge settle and ask the checker for its verdict.

    livebridge chaos --cycles 20 --duration 15 --seed 7     (make chaos CYCLES=20 ...)
    livebridge chaos --cluster --cycles 10                  (make chaos CLUSTER=1 CYCLES=10)

Everything runs in a fresh directory: its own nats-server (fsync always), a private
PostgreSQL made with `initdb` (the machine's shared server is never restarted), the
bridge (`livebridge run`) and the platform's webhook receiver. With `--cluster`: three
nodes at R3, each in a network namespace of its own (on loopback, without partitions,
where namespaces cannot be made: the run says so and `partitions` in the JSON says why),
and two bridges sharing them and PostgreSQL, the load spread over both. The seed is
printed first; the same seed replays the same fault schedule. The figures go to
`<LIVEBRIDGE_HOME>/chaos.json`; exit 1 when anything was lost, duplicated or violated.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import nats

from services.chaos.faults import CLUSTER_KINDS
from services.chaos.faults import DEFAULT_KINDS
from services.chaos.faults import KINDS
from services.chaos.faults import Fault
from services.chaos.faults import covering_schedule
from services.chaos.faults import inject
from services.chaos.faults import schedule
from services.chaos.load import DIALECTS
from services.chaos.load import LoadStats
from services.chaos.load import Secrets
from services.chaos.load import config_text
from services.chaos.load import play
from services.chaos.processes import LEDGER_STREAM
from services.chaos.processes import PREFIX
from services.chaos.processes import BridgeTarget
from services.chaos.processes import NatsTarget
from services.chaos.processes import PostgresTarget
from services.chaos.processes import Processes
from services.chaos.processes import WebhookReceiver
from services.checker.commands import read_view
from services.checker.history import HistoryWriter
from services.checker.history import read_history
from services.checker.log import read_stream
from services.checker.verdict import Verdict
from services.checker.verdict import judge
from services.infra.natscluster import NatsCluster
from services.infra.netns import Net
from services.infra.netns import NetnsUnavailable


def arguments(
    p: argparse.ArgumentParser, env: Mapping[str, str]
) -> Callable[[argparse.Namespace], int]:
    p.add_argument("--cycles", type=int, default=5, help="faults to inject, one a cycle")
    p.add_argument("--duration", type=float, default=10.0, help="seconds a cycle lasts")
    p.add_argument("--seed", type=int, default=None, help="default: a random one (printed)")
    p.add_argument("--keep", action="store_true", help="keep the run's directory")
    p.add_argument(
        "--cluster",
        action="store_true",
        help="a three-node cluster (nodes in network namespaces) and two bridges",
    )
    p.add_argument(
        "--faults",
        nargs="*",
        choices=KINDS,
        default=None,
        help="the kinds to draw from (default: all but clock, which needs libfaketime; "
        "partition and leader only with --cluster)",
    )
    p.add_argument("--out", default="", help="default: <LIVEBRIDGE_HOME>/chaos.json")
    return partial(main, env=env)


def main(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    home = Path(env.get("LIVEBRIDGE_HOME", ".livebridge"))
    out = Path(args.out) if args.out else home / "chaos.json"
    result = asyncio.run(
        chaos(
            seed=seed,
            cycles=args.cycles,
            duration_s=args.duration,
            kinds=tuple(args.faults or (CLUSTER_KINDS if args.cluster else DEFAULT_KINDS)),
            keep=args.keep,
            cluster=args.cluster,
            env=env,
        )
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "faults"}, indent=2))
    print(f"livebridge chaos: wrote {out}")
    return 0 if result["ok"] else 1


def say(text: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {text}", flush=True)


def bridge_env(
    env: Mapping[str, str],
    home: Path,
    processes: Processes,
    secrets: Secrets,
    config: Path,
) -> dict[str, str]:
    """A bridge's environment: every node's URL, replicas on every node of a cluster."""
    found = {k: v for k, v in env.items() if not k.startswith(("LIVEBRIDGE_", "NATS_"))}
    return {
        **found,
        **secrets.env,
        "LIVEBRIDGE_HOME": str(home),
        "LIVEBRIDGE_NATS_URL": processes.nats_url,
        "LIVEBRIDGE_NATS_MONITOR_URL": ",".join(node.monitor_url for node in processes.nats),
        "LIVEBRIDGE_NATS_REPLICAS": str(len(processes.nats)),
        "LIVEBRIDGE_DATABASE_URL": processes.postgres.url,
        "LIVEBRIDGE_CONFIG": str(config),
        "LIVEBRIDGE_STREAM_PREFIX": PREFIX,
    }


def _workdir() -> Path:
    workdir = Path(tempfile.mkdtemp(prefix="livebridge-chaos-"))
    workdir.chmod(0o755)  # a private PostgreSQL runs as `postgres` when we are root
    return workdir


async def chaos(
    *,
    seed: int,
    cycles: int,
    duration_s: float,
    kinds: tuple[str, ...] = DEFAULT_KINDS,
    keep: bool = False,
    cluster: bool = False,
    env: Mapping[str, str] = os.environ,
) -> dict[str, Any]:
    where = "a three-node cluster and two bridges" if cluster else "one nats-server"
    say(f"seed {seed}: {cycles} cycles of {duration_s} s on {where}")
    workdir = _workdir()
    processes: Processes | None = None
    started = time.monotonic()
    try:
        pg = PostgresTarget("postgres", workdir / "postgres")
        webhooks = WebhookReceiver()
        # Everything started is stopped at the end, whatever fails on the way.
        processes = Processes(nats=[], bridges=[], postgres=pg, webhooks=webhooks)
        await pg.start()
        partitions = ""
        if cluster:
            partitions = await _start_cluster(processes, workdir)
        else:
            node = NatsTarget("nats", workdir / "nats")
            processes.nats.append(node)
            await node.start()
        await webhooks.start()
        secrets = Secrets(workdir)
        config = workdir / "livebridge.toml"
        await asyncio.to_thread(config.write_text, config_text(secrets, webhooks.url))
        names = ["bridge-1", "bridge-2"] if cluster else ["bridge"]
        for name in names:
            bridge = BridgeTarget(
                name,
                bridge_env(env, workdir / name, processes, secrets, config),
                workdir / f"{name}.log",
                workdir / f"{name}.clock",
                clock="clock" in kinds,
            )
            processes.bridges.append(bridge)
        await asyncio.gather(*(bridge.start() for bridge in processes.bridges))
        plan = (covering_schedule if cluster else schedule)(
            seed, cycles, duration_s, processes, kinds
        )
        for fault in plan:
            say(f"planned {fault}")
        if not processes.clocks() and "clock" in kinds:
            say("libfaketime is not installed: no clock jumps (apt-get install faketime)")
        history = HistoryWriter(workdir / "history.jsonl")
        stats = await _load_under_faults(processes, plan, secrets, history, seed, duration_s)
        history.close()
        say(f"load stopped: {stats.simulations} simulations, {stats.aborted} broken by faults")
        verdict, views_caught_up = await _judge(processes, workdir / "history.jsonl")
        result = _result(seed, cycles, duration_s, plan, verdict, stats, webhooks.received)
        result["nodes"] = len(processes.nats)
        result["bridges"] = len(processes.bridges)
        if cluster:
            result["partitions"] = partitions
        result["views_caught_up"] = views_caught_up
        result["seconds"] = round(time.monotonic() - started, 1)
        keep = keep or not result["ok"]
        if keep:
            result["workdir"] = str(workdir)
        return result
    finally:
        if processes is not None:
            await processes.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


async def _start_cluster(processes: Processes, workdir: Path) -> str:
    """Three nodes, each in a network namespace of its own when namespaces can be made
    here (then partitions are drawn too); on loopback otherwise. Says which, and why."""
    net: Net | None = Net()
    assert net is not None
    try:
        await asyncio.to_thread(net.up)
    except NetnsUnavailable as exc:
        net = None
        partitions = f"unavailable: {exc}"
        say(f"no partitions in this run, the nodes run on loopback: {exc}")
    else:
        partitions = f"network namespaces {', '.join(net.namespaces)} on {net.subnet}.0/24"
        processes.net = net
    found = NatsCluster(
        workdir / "cluster",
        hosts=net.hosts if net else (),
        wrappers=net.wrappers if net else (),
    )
    processes.cluster = found
    processes.nats += [NatsTarget(name, node.store_dir, node) for name, node in found.nodes.items()]
    await asyncio.to_thread(found.start)
    await found.placed()
    return partitions


async def _load_under_faults(
    processes: Processes,
    plan: list[Fault],
    secrets: Secrets,
    history: HistoryWriter,
    seed: int,
    duration_s: float,
) -> LoadStats:
    stop = asyncio.Event()
    stats = LoadStats()
    urls = [bridge.url for bridge in processes.bridges]
    players = [
        asyncio.create_task(
            play(
                dialect,
                # Each dialect's feed goes to a bridge of its own first; wallet calls to all.
                urls=urls[number % len(urls) :] + urls[: number % len(urls)],
                secrets=secrets,
                history=history,
                stop=stop,
                seed=seed,
                stats=stats,
            )
        )
        for number, dialect in enumerate(DIALECTS)
    ]
    try:
        for fault in plan:
            cycle_start = time.monotonic()
            await asyncio.sleep(fault.at_s)
            say(f"inject {fault}")
            hit = await inject(fault, processes)
            if hit != fault.target:
                say(f"  ({fault.target} was {hit})")
            await asyncio.sleep(max(0.0, duration_s - (time.monotonic() - cycle_start)))
    finally:
        stop.set()
        _, pending = await asyncio.wait(players, timeout=180)
        for task in pending:
            task.cancel()
        await asyncio.gather(*players, return_exceptions=True)
    return stats


async def _quiet_log(url: str, quiet_s: float = 8.0, within_s: float = 120.0) -> int:
    """Wait until the ledger stream stops growing (the round book and settlers are done,
    and a feed's held events have outwaited their gap timeout, 5 s by default)."""
    nc = await nats.connect(url.split(","), name="livebridge-chaos")
    try:
        js = nc.jetstream()
        last, since = -1, time.monotonic()
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            seq = (await js.stream_info(LEDGER_STREAM)).state.last_seq
            if seq != last:
                last, since = seq, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                break
            await asyncio.sleep(0.5)
        return last
    finally:
        await nc.close()


async def _judge(processes: Processes, history_path: Path) -> tuple[Verdict, bool]:
    """The checker's verdict once the log is quiet; the views get a minute to catch up."""
    url = processes.nats_url
    await _quiet_log(url)
    events = await read_stream(url, LEDGER_STREAM)
    history = list(read_history(history_path))
    deadline = time.monotonic() + 60
    while True:
        view = await asyncio.to_thread(read_view, processes.postgres.url)
        verdict = judge(history, events, view)
        caught_up = not any("(I7)" in v for v in verdict.violations)
        if caught_up or time.monotonic() > deadline:
            return verdict, caught_up
        await asyncio.sleep(2)


def _result(
    seed: int,
    cycles: int,
    duration_s: float,
    plan: list[Fault],
    verdict: Verdict,
    stats: LoadStats,
    webhooks: int,
) -> dict[str, Any]:
    summary = verdict.summary()
    faults: dict[str, int] = {}
    for fault in plan:
        faults[fault.kind] = faults.get(fault.kind, 0) + 1
    return {
        "seed": seed,
        "cycles": cycles,
        "duration_s": duration_s,
        "faults": [fault.describe() for fault in plan],
        "faults_by_kind": faults,
        **summary,
        "simulations": stats.simulations,
        "simulations_broken_by_faults": stats.aborted,
        "load_errors": stats.errors,
        "webhooks_received": webhooks,
        "ok": verdict.ok,
        "command": " ".join(["livebridge", *sys.argv[1:]]) if sys.argv else "",
    }


__all__ = ["arguments", "chaos", "main"]
