"""Exponential backoff with full jitter, for the transports that reconnect or re-poll."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


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
