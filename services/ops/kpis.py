"""The KPIs, computed from the round view (itself built from the log) for any window.

`KpiBoard.report(since, until, period)` asks the view's Postgres adapter for counts and
latencies per (provider, table, period) (`PostgresRoundsView.kpi_rounds` / `kpi_bets`:
the SQL lives there) and turns them into rates. Nothing is kept in memory between
calls but a one-second cache of the trailing window the metrics show, so every bridge
reading the same views answers the same, before and after a restart. Definitions: the
README, "Running it in production".
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Protocol

from contracts.ops import CallSample
from contracts.ops import DisputeKpis
from contracts.ops import KpiReport
from contracts.ops import KpiRow
from contracts.ops import Latency
from contracts.ops import Period
from contracts.ops import ReconcileKpi
from contracts.ops import ReconcileRunSummary
from contracts.ops import TicketView
from contracts.ops import WalletKpi
from services.ops.latency import latency
from services.ops.latency import merge

UNKNOWN_CAUSE = "unspecified"
MAX_WINDOW = timedelta(days=92)
"""The longest window the KPIs are read over (`/ops/v1/kpis`, `/metrics`)."""


class KpiSource(Protocol):
    """What the KPIs read: the round view's adapter (`PostgresRoundsView`)."""

    def kpi_rounds(
        self, since: datetime, until: datetime, unit: str, down_after: float
    ) -> list[dict[str, Any]]: ...

    def kpi_bets(
        self, since: datetime, until: datetime, unit: str, late_after: float
    ) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, kw_only=True)
class KpiSettings:
    window_s: float = 86_400.0
    """The trailing window `/metrics` shows (`LIVEBRIDGE_KPI_WINDOW_S`)."""
    late_after_s: float = 60.0
    """A settlement later than this after betting closed is late."""
    down_after_s: float = 120.0
    """A table silent for longer than this is down for that long."""
    qos_rate: float = 20.0
    """QoS sample batches a second per operator key (`LIVEBRIDGE_QOS_RATE`)..."""
    qos_burst: float = 40.0
    """...and the burst above it (`LIVEBRIDGE_QOS_BURST`)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> KpiSettings:
        values: dict[str, float] = {}
        for field, name in (
            ("window_s", "LIVEBRIDGE_KPI_WINDOW_S"),
            ("late_after_s", "LIVEBRIDGE_KPI_LATE_SETTLEMENT_S"),
            ("down_after_s", "LIVEBRIDGE_KPI_TABLE_DOWN_AFTER_S"),
            ("qos_rate", "LIVEBRIDGE_QOS_RATE"),
            ("qos_burst", "LIVEBRIDGE_QOS_BURST"),
        ):
            raw = environ.get(name)
            if raw is None or not raw.strip():
                continue
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{name}={raw!r} is not a number of seconds") from None
            if not 0 <= value < math.inf:
                raise ValueError(f"{name}={raw!r} must be a finite number, zero or more")
            if field == "window_s" and value > MAX_WINDOW.total_seconds():
                # the trailing window reaches before year 1 (every scrape fails) or reads
                # more than `/ops/v1/kpis` would ever read in one request
                raise ValueError(
                    f"{name}={raw!r} is more than {MAX_WINDOW.days} days "
                    f"({MAX_WINDOW.total_seconds():.0f} s)"
                )
            if field == "qos_burst" and value < 1:
                raise ValueError(f"{name}={raw!r} below 1 would refuse every QoS batch")
            values[field] = value
        return cls(**values)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _causes(found: Mapping[str, int] | None) -> dict[str, int]:
    return {(cause or UNKNOWN_CAUSE): int(n) for cause, n in sorted((found or {}).items())}


def _latency(row: Mapping[str, Any] | None, name: str) -> Latency:
    if row is None or not row[f"{name}_n"]:
        return Latency(count=0)
    return Latency(
        count=int(row[f"{name}_n"]),
        mean_s=float(row[f"{name}_mean"]),
        p50_s=float(row[f"{name}_p50"]),
        p99_s=float(row[f"{name}_p99"]),
    )


def _uptime(row: Mapping[str, Any] | None) -> float | None:
    if row is None or row["span_s"] is None or not row["span_s"] > 0:
        return None
    return 1.0 - float(row["down_s"]) / float(row["span_s"])


def kpi_rows(rounds: list[dict[str, Any]], bets: list[dict[str, Any]]) -> list[KpiRow]:
    """Merge the view's round and bet aggregates into one row per (provider, table, period)."""
    by_round = {(r["provider"], r["table_id"], r["period"]): r for r in rounds}
    by_bet = {(b["provider"], b["table_id"], b["period"]): b for b in bets}
    rows = []
    for key in sorted(set(by_round) | set(by_bet)):
        r, b = by_round.get(key), by_bet.get(key)
        expected = int(r["events_expected"]) if r else 0
        gaps = int(r["events_missing"]) if r else 0
        late = int(r["late_repairs"]) if r else 0
        verified = int(r["hash_verified"]) if r else 0
        mismatched = int(r["hash_mismatched"]) if r else 0
        bet_count = int(b["bets"]) if b else 0
        voided = int(b["voided"]) if b else 0
        rows.append(
            KpiRow(
                provider=key[0],
                table=key[1],
                period_start=key[2],
                rounds=int(r["rounds"]) if r else 0,
                events_expected=expected,
                feed_gaps=gaps,
                late_repairs=late,
                event_loss_rate=_rate(gaps + late, expected),
                hash_verified_rounds=verified,
                hash_mismatched_rounds=mismatched,
                round_hash_mismatch_rate=_rate(mismatched, verified),
                aborted_rounds=int(r["aborted"]) if r else 0,
                aborted_by_cause=_causes(r["aborted_by_cause"] if r else None),
                table_uptime=_uptime(r),
                bets=bet_count,
                void_bets=voided,
                void_rate=_rate(voided, bet_count),
                void_bets_by_cause=_causes(b["voided_by_cause"] if b else None),
                bet_window_latency=_latency(b, "window_s"),
                time_to_settle=_latency(b, "settle_s"),
                late_settlements=int(b["late_settlements"]) if b else 0,
            )
        )
    return rows


def disputes(tickets: list[TicketView], since: datetime, until: datetime) -> DisputeKpis:
    """Tickets opened and resolved in [since, until); MTTR over those resolved."""
    took = [
        (t.resolved_at - t.opened_at).total_seconds()
        for t in tickets
        if t.resolved_at is not None and since <= t.resolved_at < until
    ]
    return DisputeKpis(
        opened=sum(1 for t in tickets if since <= t.opened_at < until),
        resolved=len(took),
        mttr_s=sum(took) / len(took) if took else None,
    )


def _period_of(at: datetime, since: datetime, unit: str) -> datetime:
    if unit == "all":
        return since
    at = at.astimezone(UTC)
    start = at.replace(minute=0, second=0, microsecond=0)
    return start.replace(hour=0) if unit == "day" else start


def reconcile_kpis(
    runs: list[ReconcileRunSummary], since: datetime, until: datetime, unit: str
) -> tuple[ReconcileKpi, ...]:
    """Per provider and period (of each run's report period start) in [since, until)."""
    groups: dict[tuple[str, datetime], list[ReconcileRunSummary]] = {}
    for run in runs:
        if since <= run.period_start < until:
            key = (run.provider, _period_of(run.period_start, since, unit))
            groups.setdefault(key, []).append(run)
    found = []
    for (provider, period), members in sorted(groups.items()):
        compared = sum(r.compared for r in members)
        mismatched = sum(r.compared - r.matched for r in members)
        found.append(
            ReconcileKpi(
                provider=provider,
                period_start=period,
                runs=len(members),
                compared=compared,
                mismatched=mismatched,
                mismatch_rate=_rate(mismatched, compared),
            )
        )
    return tuple(found)


WalletSamples = Callable[[datetime, datetime], list[tuple[str, datetime, list[CallSample]]]]
"""(provider, interval start, samples) of the intervals started in a window (`Watch.samples`)."""


def wallet_kpis(
    samples: list[tuple[str, datetime, list[CallSample]]],
    since: datetime,
    unit: str,
) -> tuple[WalletKpi, ...]:
    """Latency (from the samples' histograms, `services.ops.latency`) and failures per
    provider, endpoint and period."""
    groups: dict[tuple[str, str, datetime], list[CallSample]] = {}
    for provider, started, calls in samples:
        period = _period_of(started, since, unit)
        for call in calls:
            groups.setdefault((provider, call.endpoint, period), []).append(call)
    found = []
    for (provider, endpoint, period), members in sorted(groups.items()):
        merged = merge(members)
        assert merged is not None
        found.append(
            WalletKpi(
                provider=provider,
                endpoint=endpoint,
                period_start=period,
                latency=latency(merged),
                failed=merged.failed,
                error_rate=_rate(merged.failed, merged.calls),
            )
        )
    return tuple(found)


class KpiBoard:
    """The KPIs of one bridge's views; `source` is resolved on each call (views start late)."""

    def __init__(
        self,
        source: Callable[[], KpiSource],
        settings: KpiSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.source = source
        self.settings = settings
        self.clock = clock
        self.tickets: Callable[[], list[TicketView]] | None = None
        """Every dispute ticket (from the cases' log), once the bridge keeps them."""
        self.reconcile_runs: Callable[[], list[ReconcileRunSummary]] | None = None
        """Every completed reconcile run (from the `audit` application's log)."""
        self.wallet_samples: WalletSamples | None = None
        """The SLA watch's call samples (from the `watch` application's log)."""
        self._lock = threading.Lock()
        self._cached: tuple[float, KpiReport] | None = None

    def report(
        self, since: datetime, until: datetime, period: Period, provider: str | None = None
    ) -> KpiReport:
        """Every KPI of the window; with `provider`, that provider's only (rows, disputes,
        reconcile runs and wallet calls alike)."""

        def of(found: str) -> bool:
            return provider is None or found == provider

        view = self.source()
        rounds = view.kpi_rounds(since, until, period, self.settings.down_after_s)
        bets = view.kpi_bets(since, until, period, self.settings.late_after_s)
        return KpiReport(
            since=since,
            until=until,
            period=period,
            late_after_s=self.settings.late_after_s,
            down_after_s=self.settings.down_after_s,
            rows=tuple(row for row in kpi_rows(rounds, bets) if of(row.provider)),
            disputes=None
            if self.tickets is None
            else disputes([t for t in self.tickets() if of(t.provider)], since, until),
            reconcile=()
            if self.reconcile_runs is None
            else reconcile_kpis(
                [r for r in self.reconcile_runs() if of(r.provider)], since, until, period
            ),
            wallet=()
            if self.wallet_samples is None
            else wallet_kpis(
                [s for s in self.wallet_samples(since, until) if of(s[0])], since, period
            ),
        )

    def window(self) -> KpiReport:
        """The trailing window (what `/metrics` shows), read at most once a second."""
        with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < 1.0:
                return self._cached[1]
            until = self.clock()
            since = until - timedelta(seconds=self.settings.window_s)
            report = self.report(since, until, "all")
            self._cached = (now, report)
            return report
