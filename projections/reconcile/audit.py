"""The audit queue for reconcile: every difference a run finds is an event in the log.

`Audit` is an event-sourced application of its own (stream `<prefix>_AUDIT` on JetStream,
with the same persistence settings as the ledger), so the record of what was found
does not depend on PostgreSQL, which holds views only. One `ReconcileRun` aggregate per
run: `Started` (provider, period, report), one `DifferenceFound` per difference, then
`Completed` with the counts and totals. Same aggregate style as the ledger (library
`Aggregate`, explicit nested events, `@event` appliers).

Events are saved in chunks (`CHUNK`) so a run with many differences is a few atomic
writes, not one write per difference and not one write beyond the store's batch limit.
Every run is recorded, clean ones too (their counts make the reconcile mismatch rate);
`Audit.runs` folds the log into the completed runs, which operations read (`AuditRuns`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.domain import event

from contracts.ops import ReconcileFinding
from contracts.ops import ReconcileRunSummary
from projections.reconcile.postgres import Comparison
from projections.reconcile.postgres import Difference

CHUNK = 500


class ReconcileRun(Aggregate):
    class Started(Aggregate.Created):
        provider: str
        report: str
        granularity: str
        period_start: str
        period_end: str
        report_rows: int

    @event(Started)
    def __init__(
        self,
        provider: str,
        report: str,
        granularity: str,
        period_start: str,
        period_end: str,
        report_rows: int,
    ) -> None:
        self.provider = provider
        self.report = report
        self.granularity = granularity
        self.period_start = period_start
        self.period_end = period_end
        self.report_rows = report_rows
        self.differences: list[dict[str, str]] = []
        self.completed = False

    def found(self, difference: Difference) -> None:
        self._difference_found(
            status=difference.status,
            key=difference.key,
            line=difference.line or 0,
            round_id=difference.round_id,
            player=difference.player,
            currency=difference.currency,
            report_amount=_text(difference.report_amount),
            ledger_amount=_text(difference.ledger_amount),
            position=difference.position or 0,
            detail=difference.detail,
        )

    class DifferenceFound(Aggregate.Event):
        status: str
        key: str
        line: int
        round_id: str
        player: str
        currency: str
        report_amount: str
        ledger_amount: str
        position: int
        detail: str

    @event(DifferenceFound)
    def _difference_found(
        self,
        status: str,
        key: str,
        line: int,
        round_id: str,
        player: str,
        currency: str,
        report_amount: str,
        ledger_amount: str,
        position: int,
        detail: str,
    ) -> None:
        self.differences.append({"status": status, "key": key, "detail": detail})

    def complete(
        self, counts: dict[str, int], mismatch_rate: float, totals: dict[str, str]
    ) -> None:
        self._completed(counts=counts, mismatch_rate=str(mismatch_rate), totals=totals)

    class Completed(Aggregate.Event):
        counts: dict[str, int]
        mismatch_rate: str
        totals: dict[str, str]

    @event(Completed)
    def _completed(
        self, counts: dict[str, int], mismatch_rate: str, totals: dict[str, str]
    ) -> None:
        self.completed = True


def _text(amount: Decimal | None) -> str:
    return "" if amount is None else str(amount)


class Audit(Application[UUID]):
    name = "audit"

    def record_run(self, comparison: Comparison, report: str) -> UUID:
        """Record a reconcile run and each of its differences; returns the run's id."""
        run = ReconcileRun(
            provider=comparison.provider,
            report=report,
            granularity=str(comparison.granularity),
            period_start=comparison.start.isoformat(),
            period_end=comparison.end.isoformat(),
            report_rows=comparison.report_rows,
        )
        for chunk in _chunks(comparison.differences, CHUNK):
            for difference in chunk:
                run.found(difference)
            self.save(run)
        totals = {
            f"{side}:{currency}:{name}": str(value)
            for side, by_currency in (
                ("report", comparison.report_totals),
                ("ledger", comparison.ledger_totals),
            )
            for currency, t in by_currency.items()
            for name, value in (
                ("bets", t.bets),
                ("wins", t.wins),
                ("refunds", t.refunds),
                ("ggr", t.ggr),
                ("commission", t.commission),
                ("net", t.net),
            )
        }
        run.complete(dict(comparison.counts), comparison.mismatch_rate, totals)
        self.save(run)
        return run.id

    def run(self, run_id: UUID) -> ReconcileRun:
        run: ReconcileRun = self.repository.get(run_id)
        return run

    def runs(self) -> list[ReconcileRunSummary]:
        """Every completed run, folded from this application's whole log (in log order)."""
        started: dict[UUID, Any] = {}
        findings: dict[UUID, list[ReconcileFinding]] = {}
        done: list[ReconcileRunSummary] = []
        for e in self._events():
            if isinstance(e, ReconcileRun.Started):
                started[e.originator_id] = e
                findings[e.originator_id] = []
            elif isinstance(e, ReconcileRun.DifferenceFound) and e.originator_id in started:
                findings[e.originator_id].append(
                    ReconcileFinding(
                        status=e.status,
                        key=e.key,
                        round_id=e.round_id,
                        position=e.position,
                        detail=e.detail,
                    )
                )
            elif isinstance(e, ReconcileRun.Completed) and e.originator_id in started:
                head = started[e.originator_id]
                done.append(
                    ReconcileRunSummary(
                        run_id=str(e.originator_id),
                        provider=head.provider,
                        period_start=datetime.fromisoformat(head.period_start),
                        period_end=datetime.fromisoformat(head.period_end),
                        completed_at=e.timestamp,
                        compared=sum(e.counts.values()),
                        matched=e.counts.get("matched", 0),
                        findings=tuple(findings[e.originator_id]),
                    )
                )
        return done

    def _events(self) -> Iterator[Any]:
        position = 0
        while page := self.recorder.select_notifications(position + 1, 1000):
            for notification in page:
                yield self.mapper.to_domain_event(notification)
            position = page[-1].id


class AuditRuns:
    """The completed reconcile runs, for operations: the `audit` application opened on
    first use (a bridge may run before any reconcile), closed by `close`."""

    def __init__(self, env: Callable[[], Mapping[str, str]]) -> None:
        self._env = env
        self._audit: Audit | None = None
        self._lock = threading.Lock()

    def __call__(self) -> list[ReconcileRunSummary]:
        with self._lock:
            if self._audit is None:
                self._audit = Audit(dict(self._env()))
            audit = self._audit
        return audit.runs()

    def close(self) -> None:
        with self._lock:
            if self._audit is not None:
                self._audit.close()
                self._audit = None


def _chunks(items: list[Difference], size: int) -> Iterable[list[Difference]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
