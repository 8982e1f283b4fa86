"""Exponential backoff with full jitter, and the pause between turns of a loop that runs
until cancelled, for the transports that reconnect or re-poll."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from dataclasses import field


@dataclass(slots=True)
class Backoff:
    """`next()` gives the delay before the next attempt: up to `initial * factor**n`, capped."""

    initial: float = 0.2
    factor: float = 2.0
    cap: float = 30.0
    jitter: bool = True
    attempts: int = 0
    _rng: random.Random = field(default_factory=random.Random)

    def next(self) -> float:
        ceiling = min(self.cap, self.initial * self.factor**self.attempts)
        self.attempts += 1
        return self._rng.uniform(ceiling / 2, ceiling) if self.jitter else ceiling

    def reset(self) -> None:
        self.attempts = 0


async def pause(seconds: float) -> None:
    """Sleep `seconds`, unless this task was cancelled during its last turn: then end it.

    Python 3.11's `asyncio.wait_for`, which nats-py's requests (KV reads and writes) go
    through, returns the result instead of raising when the task is cancelled just as the
    answer arrives (CPython gh-86296, fixed in 3.12). The cancel is lost, but the task still
    counts it (`Task.cancelling()`), so a loop that pauses here ends one turn late, not never.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
    await asyncio.sleep(seconds)
