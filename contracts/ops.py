"""What operators read at `/ops/v1/...`: the KPIs of providers and tables, per period.

Each KPI is defined once, in the README ("Running it in production"); the numbers come
from the views built from the log, never from a process's memory, so every bridge answers
the same and a restart changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

Period = Literal["hour", "day", "all"]


class Latency(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A latency over the period's samples, in seconds (None: no sample)."""

    count: int
    mean_s: float | None = None
    p50_s: float | None = None
    p99_s: float | None = None


class KpiRow(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One provider's table over one period (rounds by their start, bets by placement)."""

    provider: str
    table: str
    """The provider's table id; empty for bets on rounds the feed never named a table for."""
    period_start: datetime
    rounds: int
    events_expected: int
    """Provider events the rounds should have had: each round's highest `seq`, summed."""
    feed_gaps: int
    """Of those, `seq`s that never arrived."""
    late_repairs: int
    """Events that arrived after a later `seq` of their round was recorded."""
    event_loss_rate: float | None
    """(feed gaps + late repairs) / events expected."""
    hash_verified_rounds: int
    """Rounds with a provider `round_hash` that were verified (result in)."""
    hash_mismatched_rounds: int
    """Of those, rounds whose hash differs from the bridge's digest."""
    round_hash_mismatch_rate: float | None
    aborted_rounds: int
    """Rounds the provider voided."""
    aborted_by_cause: dict[str, int]
    table_uptime: float | None
    """1 - (silences longer than the down threshold) / (first to last provider event)."""
    bets: int
    void_bets: int
    """Bets refunded (outcome VOID): a voided round, a late bet, a provider's rollback."""
    void_rate: float | None
    void_bets_by_cause: dict[str, int]
    bet_window_latency: Latency
    """From the round's betting opening to the bet's acceptance (both as the ledger
    recorded them)."""
    time_to_settle: Latency
    """From the round's betting close (or result, or void) to the bet's settlement."""
    late_settlements: int
    """Bets settled more than the late threshold after their round's betting closed."""


class KpiReport(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """`GET /ops/v1/kpis`: every provider and table with activity in [since, until)."""

    since: datetime
    until: datetime
    period: Period
    late_after_s: float
    """The late-settlement threshold (`LIVEBRIDGE_KPI_LATE_SETTLEMENT_S`)."""
    down_after_s: float
    """The table-silence threshold (`LIVEBRIDGE_KPI_TABLE_DOWN_AFTER_S`)."""
    rows: tuple[KpiRow, ...]
