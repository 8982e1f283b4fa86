"""What a wallet counts per calendar period, for the loss, stake and deposit limits of
player protection: stakes held, stakes refunded, money returned by wins, deposits.

Periods are UTC calendar periods: the day, the ISO week (from Monday) and the month of an
event's timestamp; a stake's refund and the wins it brings count in the stake's periods
(`count_back`), not in those they happen in. A wallet keeps the current period of each kind
only; a tally asked for another period (a new day) is zero.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from decimal import Decimal
from typing import Final

PERIODS: Final = ("DAY", "WEEK", "MONTH")
FIELDS: Final = ("staked", "refunded", "returned", "deposited")


def period_key(period: str, at: datetime) -> str:
    """The id of the `period` (`DAY`, `WEEK`, `MONTH`) that holds `at`: `2026-12-03`,
    `2026-W49`, `2026-12`."""
    return _key(period, at.astimezone(UTC).date())


@functools.lru_cache(maxsize=64)
def _key(period: str, day: date) -> str:
    if period == "DAY":
        return f"{day:%Y-%m-%d}"
    if period == "WEEK":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "MONTH":
        return f"{day:%Y-%m}"
    raise ValueError(f"unknown period {period!r}; known: {', '.join(PERIODS)}")


@dataclass(frozen=True, slots=True)
class Tally:
    """One wallet's movements in one period."""

    staked: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    returned: Decimal = Decimal(0)
    """Wins paid, and what a reversed settlement gave back."""
    deposited: Decimal = Decimal(0)

    @property
    def stakes(self) -> Decimal:
        """What the player wagered: stakes held, less those refunded."""
        return self.staked - self.refunded

    @property
    def loss(self) -> Decimal:
        """What the player lost: wagered less what came back; an open bet counts as lost."""
        return self.staked - self.refunded - self.returned


def count(tallies: dict[str, dict[str, object]], at: datetime, field: str, amount: Decimal) -> None:
    """Add `amount` to `field` in the periods holding `at` (mutates `tallies`, a wallet's
    state: `{period: {"key": ..., field: Decimal}}`)."""
    for period in PERIODS:
        key = period_key(period, at)
        current = tallies.get(period)
        if current is None or current.get("key") != key:
            current = tallies[period] = {"key": key}
        before = current.get(field, Decimal(0))
        assert isinstance(before, Decimal)
        current[field] = before + amount


def count_back(
    tallies: dict[str, dict[str, object]], staked_at: datetime, field: str, amount: Decimal
) -> None:
    """Add `amount` to `field` in the periods holding `staked_at` that are still the
    wallet's current ones: a refund or a win counts in the period of the stake it resolves
    (what a limit on a day's stakes or losses means), and nowhere once that period is over
    (a stake of 23:59:50 refunded at 00:00:10 frees nothing of the new day's allowance)."""
    for period in PERIODS:
        current = tallies.get(period)
        if current is None or current.get("key") != period_key(period, staked_at):
            continue
        before = current.get(field, Decimal(0))
        assert isinstance(before, Decimal)
        current[field] = before + amount


def read(tallies: dict[str, dict[str, object]], period: str, now: datetime) -> Tally:
    """The tally of the `period` holding `now`; zero when the wallet's is an older one."""
    current = tallies.get(period)
    if current is None or current.get("key") != period_key(period, now):
        return _ZERO
    return Tally(**{f: current[f] for f in FIELDS if f in current})  # type: ignore[arg-type]


_ZERO = Tally()
