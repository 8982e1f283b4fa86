"""The KPIs as Prometheus gauges: the trailing window of every running bridge's board.

Observable gauges are created once a process (module import); each scrape calls them,
and they read the boards registered by running bridges (`register` / `unregister`), each
at most once a second (`KpiBoard.window`). Labels: `provider`, `table`, and `cause` or
`quantile` where the KPI has them. A board whose views cannot be read (PostgreSQL down, the
views not started yet) shows nothing for that scrape and logs why.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from operator import attrgetter

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions
from opentelemetry.metrics import Observation

from contracts.ops import DisputeKpis
from contracts.ops import KpiReport
from contracts.ops import KpiRow
from contracts.ops import Latency
from contracts.ops import WalletKpi
from services.ops.kpis import KpiBoard

log = logging.getLogger(__name__)
_meter = metrics.get_meter("livebridge.ops")
_boards: list[KpiBoard] = []
_lock = threading.Lock()


def register(board: KpiBoard) -> None:
    with _lock:
        _boards.append(board)


def unregister(board: KpiBoard) -> None:
    with _lock:
        if board in _boards:
            _boards.remove(board)


def _reports(what: str) -> Iterator[KpiReport]:
    """Every registered board's trailing window; one that cannot be read is logged and
    left out (a scrape must not fail because one view is away)."""
    with _lock:
        boards = list(_boards)
    for board in boards:
        try:
            report = board.window()
        except Exception as error:
            log.warning("%s not read for this scrape: %s", what, error)
            continue
        yield report


def _rows() -> Iterator[KpiRow]:
    for report in _reports("KPIs"):
        yield from report.rows


def _disputes(
    value: Callable[[DisputeKpis], float | None],
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(_options: CallbackOptions) -> Iterable[Observation]:
        found = []
        for report in _reports("dispute KPIs"):
            if report.disputes is not None and (seen := value(report.disputes)) is not None:
                found.append(Observation(seen))
        return found

    return callback


def _labels(row: KpiRow) -> dict[str, str]:
    return {"provider": row.provider, "table": row.table}


def _per_row(
    value: Callable[[KpiRow], float | None],
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(_options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(found, _labels(row)) for row in _rows() if (found := value(row)) is not None
        ]

    return callback


def _per_cause(
    value: Callable[[KpiRow], dict[str, int]],
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(_options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(count, {**_labels(row), "cause": cause})
            for row in _rows()
            for cause, count in value(row).items()
        ]

    return callback


def _quantiles(
    value: Callable[[KpiRow], Latency],
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(_options: CallbackOptions) -> Iterable[Observation]:
        found = []
        for row in _rows():
            latency = value(row)
            for quantile, seconds in (("0.5", latency.p50_s), ("0.99", latency.p99_s)):
                if seconds is not None:
                    found.append(Observation(seconds, {**_labels(row), "quantile": quantile}))
        return found

    return callback


def _gauge(
    name: str,
    description: str,
    callback: Callable[[CallbackOptions], Iterable[Observation]],
    unit: str = "",
) -> None:
    _meter.create_observable_gauge(
        f"livebridge.kpi.{name}", callbacks=[callback], unit=unit, description=description
    )


_PER_ROW = (
    ("rounds", "rounds started in the window"),
    ("events_expected", "provider events the rounds should have had"),
    ("feed_gaps", "provider events that never arrived"),
    ("late_repairs", "provider events that arrived after a later one"),
    ("event_loss_rate", "(feed gaps + late repairs) / events expected"),
    ("hash_verified_rounds", "rounds with a provider hash, verified"),
    ("hash_mismatched_rounds", "verified rounds whose hash differs"),
    ("round_hash_mismatch_rate", "hash mismatches / hash-verified rounds"),
    ("table_uptime", "share of the table's time without a long silence"),
    ("bets", "bets placed in the window"),
    ("void_rate", "VOID bets / bets"),
    ("late_settlements", "bets settled later than the threshold after betting closed"),
)
"""The KPIs with one value per provider and table, each named as its `KpiRow` field."""
for _field, _description in _PER_ROW:
    _gauge(_field, _description, _per_row(attrgetter(_field)))
_gauge(
    "aborted_rounds",
    "rounds the provider voided, by cause",
    _per_cause(lambda r: r.aborted_by_cause),
)
_gauge("void_bets", "bets refunded (VOID), by cause", _per_cause(lambda r: r.void_bets_by_cause))
_gauge(
    "bet_window_latency_seconds",
    "betting open to bet accepted",
    _quantiles(lambda r: r.bet_window_latency),
)
_gauge(
    "time_to_settle_seconds",
    "betting closed to bet settled",
    _quantiles(lambda r: r.time_to_settle),
)
_gauge("disputes_opened", "dispute tickets opened in the window", _disputes(lambda d: d.opened))
_gauge(
    "disputes_resolved", "dispute tickets resolved in the window", _disputes(lambda d: d.resolved)
)
_gauge(
    "dispute_mttr_seconds", "mean time to resolve a dispute ticket", _disputes(lambda d: d.mttr_s)
)


def _reconcile(_options: CallbackOptions) -> Iterable[Observation]:
    found = []
    for report in _reports("reconcile KPIs"):
        for kpi in report.reconcile:
            if kpi.mismatch_rate is not None:
                found.append(Observation(kpi.mismatch_rate, {"provider": kpi.provider}))
    return found


_gauge("reconcile_mismatch_rate", "unmatched / compared over reconcile runs", _reconcile)


def _wallet(
    value: Callable[[WalletKpi], Iterable[tuple[float | None, dict[str, str]]]],
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(_options: CallbackOptions) -> Iterable[Observation]:
        found = []
        for report in _reports("wallet KPIs"):
            for kpi in report.wallet:
                labels = {"provider": kpi.provider, "endpoint": kpi.endpoint}
                for seen, extra in value(kpi):
                    if seen is not None:
                        found.append(Observation(seen, {**labels, **extra}))
        return found

    return callback


_gauge(
    "wallet_latency_seconds",
    "wallet API call time per provider and endpoint",
    _wallet(
        lambda k: [(k.latency.p50_s, {"quantile": "0.5"}), (k.latency.p99_s, {"quantile": "0.99"})]
    ),
)
_gauge(
    "wallet_calls",
    "wallet API calls per provider and endpoint",
    _wallet(lambda k: [(k.latency.count, {})]),
)
_gauge(
    "wallet_failed_calls",
    "wallet API calls the provider could not use",
    _wallet(lambda k: [(k.failed, {})]),
)
_gauge("wallet_error_rate", "failed / wallet API calls", _wallet(lambda k: [(k.error_rate, {})]))
