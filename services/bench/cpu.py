"""CPU time of processes from `/proc/<pid>/stat`: what a figure cost, beside how fast it was.

On a shared 2-core machine a rate drifts with whoever else runs; the CPU a process spent
per unit of work (user + system time, all its threads) drifts far less, so the bench
reports both. Linux only: `/proc` is read directly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds `pid` has used so far, all threads."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        # The command name (field 2) may hold spaces: count fields after its ')'.
        fields = stat.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass
class Spent:
    """CPU seconds used by each watched process while the `spent` block ran."""

    seconds: dict[str, float] = field(default_factory=dict)

    def per(self, name: str, units: int) -> float:
        """Milliseconds of `name`'s CPU per unit of work."""
        return self.seconds[name] * 1000 / max(units, 1)


@contextmanager
def spent(**pids: int | None) -> Iterator[Spent]:
    """Measure the CPU that each named process (`bridge=os.getpid()`, `server=...`) uses
    during the block; a None pid is left out."""
    watched = {name: pid for name, pid in pids.items() if pid is not None}
    before = {name: cpu_seconds(pid) for name, pid in watched.items()}
    result = Spent()
    yield result
    for name, pid in watched.items():
        result.seconds[name] = cpu_seconds(pid) - before[name]
