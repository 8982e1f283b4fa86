"""The bridge's memory budget: every cache's bound derived from one setting.

`LIVEBRIDGE_MEMORY_BUDGET_MB` (default 256) is the resident memory `livebridge run` may
use. `BASE_MB` of it is the process without its caches (interpreter, libraries, aiohttp,
nats-py and psycopg buffers, requests in flight: measured under load, see the README);
the rest is shared between the caches by `SHARES`, and each cache's bound is its share
over the measured size of one entry:

- the ledger's aggregate cache, in bytes (`services.ledger.repository.SizedCache`);
- the round book's remembered open bets (`services.ledger.book.PLACED_BET_BYTES` each);
- the event store's remembered aggregate heads, per recorder (`HEAD_BYTES` each; the
  ledger has two recorders, events and snapshots);
- the settle tracker's reported bets (`services.platform.settle.REPORTED_BET_BYTES`).

Bets and transaction records are not cached at all, the book forgets a bet once it is
resolved, and the feeds' sequencer and the ledger's known rounds keep the rounds heard
from in the last two minutes (10,000 at most, a few MB): what stays is bounded whatever
the length of the log and of the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.eventstore.heads import HEAD_BYTES
from services.ledger.book import PLACED_BET_BYTES
from services.platform.settle import REPORTED_BET_BYTES

DEFAULT_BUDGET_MB = 256
BASE_MB = 128
"""The bridge without its caches, with room for bursts (requests, batches, checkpoints)."""
MIN_BUDGET_MB = BASE_MB + 32
MB = 2**20
SHARES = {"aggregates": 0.55, "bets": 0.15, "heads": 0.1, "reported": 0.2}
"""How the budget beyond `BASE_MB` is shared between the caches."""
RECORDERS = 2
"""Recorders of the ledger that remember heads: its events and its snapshots."""


class MemoryBudgetError(ValueError):
    """The budget is not a number of megabytes, or too small to run in."""


@dataclass(frozen=True, kw_only=True)
class MemoryBounds:
    budget_mb: int
    aggregate_cache_bytes: int
    remembered_bets: int
    heads: int
    """Per recorder."""
    reported_bets: int

    def ledger_env(self) -> dict[str, str]:
        """The ledger's and its event store's settings for these bounds."""
        return {
            "AGGREGATE_CACHE_BYTES": str(self.aggregate_cache_bytes),
            "REMEMBERED_BETS": str(self.remembered_bets),
            "NATS_LAST_SEEN_HEADS": str(self.heads),
        }

    def describe(self) -> str:
        return (
            f"memory budget {self.budget_mb} MB: aggregate cache "
            f"{self.aggregate_cache_bytes / MB:.0f} MB, {self.remembered_bets} open bets "
            f"remembered, {self.heads} heads per recorder, {self.reported_bets} reported bets"
        )


def bounds(budget_mb: int) -> MemoryBounds:
    """Every cache's bound for a budget of `budget_mb` megabytes."""
    if budget_mb < MIN_BUDGET_MB:
        raise MemoryBudgetError(
            f"LIVEBRIDGE_MEMORY_BUDGET_MB={budget_mb} is below the {MIN_BUDGET_MB} MB the "
            f"bridge needs ({BASE_MB} MB before any cache); raise it"
        )
    spare = (budget_mb - BASE_MB) * MB
    return MemoryBounds(
        budget_mb=budget_mb,
        aggregate_cache_bytes=int(spare * SHARES["aggregates"]),
        remembered_bets=int(spare * SHARES["bets"] / PLACED_BET_BYTES),
        heads=int(spare * SHARES["heads"] / HEAD_BYTES / RECORDERS),
        reported_bets=int(spare * SHARES["reported"] / REPORTED_BET_BYTES),
    )


def default_bounds() -> MemoryBounds:
    return bounds(DEFAULT_BUDGET_MB)


def from_env(environ: Mapping[str, str]) -> MemoryBounds:
    """The bounds for `LIVEBRIDGE_MEMORY_BUDGET_MB` (default 256)."""
    raw = environ.get("LIVEBRIDGE_MEMORY_BUDGET_MB", "") or str(DEFAULT_BUDGET_MB)
    try:
        budget = int(raw)
    except ValueError:
        raise MemoryBudgetError(
            f"LIVEBRIDGE_MEMORY_BUDGET_MB={raw!r} is not a whole number of megabytes"
        ) from None
    return bounds(budget)
