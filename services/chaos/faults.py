"""The fault schedule, drawn from a seed, and how each fault is carried out.

One fault a cycle, at a random moment of it: `kill` (SIGKILL, then started again after
`hold_s`), `pause` (SIGSTOP for `hold_s`, then SIGCONT), `postgres` (the views' PostgreSQL
stopped for `hold_s` and started again), `webhooks` (the platform's receiver down for
`hold_s`) and `clock` (a bridge's clock stepped forward by `jump_s`). On a cluster, also
`partition` (a node's network cut for `hold_s`, three times the others' holds so that the
rest elect new leaders, then healed) and `leader` (a kill of whichever node leads the ledger
stream at that moment). Each kind picks its target from the list `Processes` offers for it,
so a run with more nodes or bridges draws from more. The same seed and the same targets give
the same schedule.

`schedule` draws each cycle's kind at random. `covering_schedule` (the cluster's) deals
each (kind, group of targets) pair once, in a shuffled order, before any comes again, so
ten cycles kill a bridge and a node, pause each, partition a node and kill the leader.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import asdict
from dataclasses import dataclass
from typing import Any

from services.chaos.processes import LEDGER_STREAM
from services.chaos.processes import Processes
from services.chaos.processes import pause
from services.chaos.processes import resume

KINDS = ("kill", "pause", "postgres", "webhooks", "clock", "partition", "leader")
DEFAULT_KINDS = ("kill", "pause", "postgres", "webhooks")
CLUSTER_KINDS = ("kill", "pause", "partition", "leader", "postgres", "webhooks")
PARTITION_HOLD = 3.0
"""A partition lasts this many times a kill's hold: long enough (1.5 to 9 s) for the other
two nodes to notice and elect leaders of their own."""
"""Clock jumps need the bridge under libfaketime, which slows it several times over on this
machine (its load falls from some 70 to some 10 calls a second): asked for by name."""


@dataclass(frozen=True, slots=True)
class Fault:
    cycle: int
    at_s: float
    """Seconds into its cycle."""
    kind: str
    target: str
    hold_s: float = 0.0
    jump_s: int = 0

    def describe(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        what = f"+{self.jump_s}s" if self.kind == "clock" else f"{self.hold_s}s"
        return f"cycle {self.cycle}: {self.kind} {self.target} at {self.at_s}s ({what})"


def targets_for(kind: str, processes: Processes) -> list[str]:
    match kind:
        case "kill":
            return [t.name for t in processes.killable()]
        case "pause":
            return [t.name for t in processes.pausable()]
        case "postgres":
            return [processes.postgres.name]
        case "webhooks":
            return [processes.webhooks.name]
        case "clock":
            return [b.name for b in processes.clocks()]
        case "partition":
            return [t.name for t in processes.partitionable()]
        case "leader":
            return processes.leaders()
    raise ValueError(f"unknown fault kind {kind!r}")


def schedule(
    seed: int,
    cycles: int,
    duration_s: float,
    processes: Processes,
    kinds: tuple[str, ...] = KINDS,
) -> list[Fault]:
    """One fault per cycle of `kinds`, every choice drawn from `seed`."""
    rng = random.Random(seed)
    kinds = tuple(kind for kind in kinds if targets_for(kind, processes))
    if not kinds:
        raise ValueError("no fault of the kinds asked for has a target in this run")
    plan = []
    for cycle in range(1, cycles + 1):
        kind = rng.choice(kinds)
        target = rng.choice(sorted(targets_for(kind, processes)))
        plan.append(_timed(rng, cycle, kind, target, duration_s))
    return plan


def _timed(rng: random.Random, cycle: int, kind: str, target: str, duration_s: float) -> Fault:
    """The fault of `kind` on `target` in `cycle`, its timing drawn from `rng` (always in
    the same order, so a seed replays the same schedule)."""
    at_s = round(rng.uniform(0.1, 0.6) * duration_s, 2)
    hold_s = round(rng.uniform(0.5, 3.0), 2)
    jump_s = rng.randint(20, 90)
    return Fault(
        cycle=cycle,
        at_s=at_s,
        kind=kind,
        target=target,
        hold_s=_hold(kind, hold_s),
        jump_s=jump_s if kind == "clock" else 0,
    )


def _hold(kind: str, drawn: float) -> float:
    if kind == "clock":
        return 0.0
    return round(drawn * PARTITION_HOLD, 2) if kind == "partition" else drawn


def deck(processes: Processes, kinds: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """Each kind with its targets; kills and pauses once for the bridges, once for the nodes."""
    bridges = {b.name for b in processes.bridges}
    cards = []
    for kind in kinds:
        found = sorted(targets_for(kind, processes))
        if kind in ("kill", "pause"):
            groups = [[t for t in found if t in bridges], [t for t in found if t not in bridges]]
        else:
            groups = [found]
        cards += [(kind, group) for group in groups if group]
    return cards


def covering_schedule(
    seed: int,
    cycles: int,
    duration_s: float,
    processes: Processes,
    kinds: tuple[str, ...] = CLUSTER_KINDS,
) -> list[Fault]:
    """One fault per cycle, every card of `deck` dealt once before any is dealt again."""
    rng = random.Random(seed)
    cards = deck(processes, kinds)
    if not cards:
        raise ValueError("no fault of the kinds asked for has a target in this run")
    plan: list[Fault] = []
    dealt: list[tuple[str, list[str]]] = []
    for cycle in range(1, cycles + 1):
        if not dealt:
            dealt = list(cards)
            rng.shuffle(dealt)
        kind, group = dealt.pop()
        target = rng.choice(group)
        plan.append(_timed(rng, cycle, kind, target, duration_s))
    return plan


async def inject(fault: Fault, processes: Processes) -> str:
    """Carry out one fault and undo it (restart, resume, heal); a clock stays jumped.
    Returns the name of what was hit (for `leader`, the node that led then)."""
    if fault.kind == "leader":
        return await _kill_leader(fault, processes)
    if fault.kind == "partition":
        return await _partition(fault, processes)
    target = processes.by_name(fault.target)
    match fault.kind:
        case "kill" | "postgres" | "webhooks":
            await target.kill()
            await asyncio.sleep(fault.hold_s)
            await target.start()
        case "pause":
            pause(target)
            await asyncio.sleep(fault.hold_s)
            resume(target)
        case "clock":
            bridge = next(b for b in processes.bridges if b.name == fault.target)
            bridge.jump_clock(fault.jump_s)
        case _:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
    return target.name


async def _kill_leader(fault: Fault, processes: Processes) -> str:
    assert processes.cluster is not None, "a leader is killed on a cluster only"
    leader = await asyncio.to_thread(processes.cluster.stream_leader, LEDGER_STREAM)
    if leader is None:  # no leader right now (an election under way): the first node
        leader = processes.nats[0].name
    target = processes.by_name(leader)
    await target.kill()
    await asyncio.sleep(fault.hold_s)
    await target.start()
    return target.name


async def _partition(fault: Fault, processes: Processes) -> str:
    assert processes.net is not None, "a partition needs the nodes in network namespaces"
    index = [node.name for node in processes.nats].index(fault.target)
    await asyncio.to_thread(processes.net.cut, index)
    try:
        await asyncio.sleep(fault.hold_s)
    finally:
        await asyncio.to_thread(processes.net.heal, index)
    return fault.target
