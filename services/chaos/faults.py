"""The fault schedule, drawn from a seed, and how each fault is carried out.

One fault a cycle, at a random moment of it: `kill` (SIGKILL, then started again after
`hold_s`), `pause` (SIGSTOP for `hold_s`, then SIGCONT), `postgres` (the views' PostgreSQL
stopped for `hold_s` and started again), `webhooks` (the platform's receiver down for
`hold_s`) and `clock` (a bridge's clock stepped forward by `jump_s`). Each kind picks its
target from the list `Processes` offers for it, so a run with more nodes or bridges draws
from more. The same seed and the same targets give the same schedule.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import asdict, dataclass
from typing import Any

from services.chaos.processes import Processes, pause, resume

KINDS = ("kill", "pause", "postgres", "webhooks", "clock")
DEFAULT_KINDS = ("kill", "pause", "postgres", "webhooks")
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
        at_s = round(rng.uniform(0.1, 0.6) * duration_s, 2)
        hold_s = round(rng.uniform(0.5, 3.0), 2)
        jump_s = rng.randint(20, 90)
        plan.append(
            Fault(
                cycle=cycle,
                at_s=at_s,
                kind=kind,
                target=target,
                hold_s=0.0 if kind == "clock" else hold_s,
                jump_s=jump_s if kind == "clock" else 0,
            )
        )
    return plan


async def inject(fault: Fault, processes: Processes) -> None:
    """Carry out one fault and undo it (restart, resume); a clock stays jumped."""
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
