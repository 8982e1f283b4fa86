"""What operators read at `/ops/v1/...`: the KPIs of providers and tables, per period.

Each KPI is defined once, in the README ("Running it in production"); the numbers come
from the views built from the log, never from a process's memory, so every bridge answers
the same and a restart changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from typing import Literal

import msgspec

from contracts.ids import TEXT_PATTERN
from contracts.ids import Id
from contracts.ids import LongText
from contracts.tagged import Tagged

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
    disputes: DisputeKpis | None = None
    """Dispute tickets in the window (None when this bridge keeps no tickets)."""
    reconcile: tuple[ReconcileKpi, ...] = ()
    """Reconcile mismatch rate per provider and period (runs recorded by `reconcile`)."""
    wallet: tuple[WalletKpi, ...] = ()
    """Wallet API latency and failures per provider, endpoint and period (the SLA watch's
    samples in the log)."""


class WalletKpi(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One provider endpoint's calls over one period (`wallet.debit`, `feed.poll`...); the
    latency's p50 and p99 are read from the histogram of `LATENCY_BOUNDS_S`, linear within
    a bucket (as Prometheus's `histogram_quantile`), its count and mean are exact."""

    provider: str
    endpoint: str
    period_start: datetime
    latency: Latency
    failed: int
    """Calls the provider could not use: our retryable or internal error, a refusal of
    its signature or body, a feed poll without a usable batch."""
    error_rate: float | None


LATENCY_BOUNDS_S: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""Upper bounds of the wallet latency buckets, in seconds (a last bucket holds the rest)."""


class CallSample(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The calls of one provider endpoint over one sampling interval, as the log keeps them:
    counted exactly, their times as a histogram (so a sample's size never grows with
    traffic)."""

    endpoint: str
    calls: int
    failed: int
    total_s: float
    """The calls' times summed (the exact mean)."""
    buckets: tuple[int, ...]
    """Calls per bucket: the i-th took at most `LATENCY_BOUNDS_S[i]` and more than the bound
    before it; the last, longer than every bound."""


# The SLA watch and the automated playbook (`services/ops/playbook.py`): every step an
# event in the log, published on NATS and to the alert webhooks.

PlaybookAction = Literal["throttle_sessions", "switch_feed", "hide_tables", "soft_decline"]


class ProviderRecovered(Tagged, frozen=True, kw_only=True, tag="provider.recovered"):
    """A provider that breached its SLA has been healthy for the configured time: the
    playbook undid its steps, and `provider.error` for it is cleared."""

    provider: str
    message: str
    occurred_at: datetime
    breached_at: datetime


class PlaybookStep(Tagged, frozen=True, kw_only=True, tag="playbook.step"):
    """One thing the playbook did to a provider, or undid (`undo`), and why."""

    provider: str
    action: PlaybookAction
    undo: bool
    reason: str
    occurred_at: datetime


# Dispute tickets and the audit queue (`services/ops/cases.py`): every step an event.

TicketOutcome = Literal["upheld", "rejected", "partially_upheld"]
AuditReason = Literal[
    "hash_mismatch", "sequence_gap", "conflict", "settlement_failure", "reconcile_difference"
]


class OpenTicket(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """`POST /ops/v1/tickets`: a player disputes a round."""

    provider: Id
    round_id: Id
    player: Id
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1024, pattern=TEXT_PATTERN)]


class CommentTicket(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=4096, pattern=TEXT_PATTERN)]


class ResolveTicket(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    outcome: TicketOutcome
    note: LongText = ""


class TicketComment(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    author: str
    """The operator key that wrote it."""
    text: str
    at: datetime


class TicketView(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    ticket_id: str
    provider: str
    round_id: str
    player: str
    reason: str
    opened_by: str
    opened_at: datetime
    comments: tuple[TicketComment, ...] = ()
    status: Literal["open", "resolved"] = "open"
    outcome: str = ""
    resolution_note: str = ""
    resolved_at: datetime | None = None


class TicketList(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    tickets: tuple[TicketView, ...]


class AuditState(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What operators did about one audit item (from the `AuditCase` events)."""

    assignee: str = ""
    resolution: str = ""
    resolved_by: str = ""


class AuditItem(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A flagged round: why, where in the log, and who handles it."""

    key: str
    """Stable id of the item: `<reason>:<round key>` or `<reason>:<log position>`."""
    reason: AuditReason
    detail: str
    """The flag as the ledger wrote it."""
    provider: str
    round_id: str
    table: str
    position: int
    """The log position of the event that raised the flag."""
    flagged_at: datetime
    status: Literal["open", "resolved"]
    assignee: str = ""
    resolution: str = ""
    resolved_by: str = ""


class AuditList(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    items: tuple[AuditItem, ...]


class AssignAudit(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    assignee: Id


class ResolveAudit(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    resolution: Annotated[str, msgspec.Meta(min_length=1, max_length=1024, pattern=TEXT_PATTERN)]


class DisputeKpis(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Tickets opened and resolved in the window; MTTR over those resolved."""

    opened: int
    resolved: int
    mttr_s: float | None
    """Mean of (resolved - opened) over tickets resolved in the window (None: none)."""


class ReconcileFinding(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One difference a reconcile run found (`projections/reconcile/audit.py`)."""

    status: str
    key: str
    round_id: str
    position: int
    """The ledger's log position of the transaction (0 when the ledger has none)."""
    detail: str


class ReconcileRunSummary(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A completed reconcile run, folded from the `audit` application's log."""

    run_id: str
    provider: str
    period_start: datetime
    period_end: datetime
    completed_at: datetime
    compared: int
    matched: int
    findings: tuple[ReconcileFinding, ...] = ()


class ReconcileKpi(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Reconcile runs of one provider whose report period starts in the period."""

    provider: str
    period_start: datetime
    runs: int
    compared: int
    mismatched: int
    mismatch_rate: float | None
    """(compared - matched) / compared, over the runs."""


# QoS samples from the player's front (`POST /qos/v1/samples`).

Protocol = Literal["webrtc", "ll-hls"]
MAX_SAMPLES = 100


class QosSample(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What one player's video front measured over its last interval."""

    provider: Id
    table: Id
    region: Id
    """The player's region as the platform names it (`eu-west`, `CA-ON`...)."""
    protocol: Protocol
    bet_rtt_ms: Annotated[float, msgspec.Meta(ge=0, le=60_000)] | None = None
    """Round trip of a bet signal, in milliseconds (target under 150 with WebRTC)."""
    dropped_frames: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0
    buffer_events: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0
    """Stalls (rebuffering) in the interval."""
    bitrate_kbps: Annotated[float, msgspec.Meta(ge=0, le=1_000_000)] | None = None
    resolution: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{2,5}x[0-9]{2,5}\Z")] | None = None
    fps: Annotated[float, msgspec.Meta(ge=0, le=1000)] | None = None


class QosBatch(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    samples: Annotated[list[QosSample], msgspec.Meta(min_length=1, max_length=MAX_SAMPLES)]


class QosAccepted(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    accepted: int


# The pilot scorecard (`livebridge pilot`): every round of a provider cross-verified.

PILOT_THRESHOLD = 0.005
"""A pilot fails above this share of mismatched rounds (0.5%, seed A)."""


class PilotRound(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One round that failed a check, and which."""

    round_id: str
    table: str
    problems: tuple[str, ...]


class Scorecard(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A provider's last `rounds_read` finished rounds, each checked three ways: its
    `round_hash` against the bridge's digest, its provider `seq` without gaps or
    conflicting repeats, and the ledger's settlement of each bet against the payout the
    round's result gives."""

    provider: str
    rounds_asked: int
    rounds_read: int
    hash_verified: int
    """Rounds with a provider `round_hash` (the others are counted as unhashed)."""
    hash_mismatched: int
    unhashed: int
    sequence_breaks: int
    ledger_differences: int
    """Rounds with a bet whose settlement differs from the payout its result gives."""
    mismatched_rounds: int
    """Rounds failing any check (each counted once)."""
    mismatch_rate: float | None
    threshold: float = PILOT_THRESHOLD
    passed: bool
    mismatches: tuple[PilotRound, ...] = ()
