"""`GET /ops/v1/kpis`: the KPIs of every provider and table, per period, for operators.

Mounted through the front door's route table (operator key, scope `read`), so the guard
and the OpenAPI document know it. Query: `since` and `until` (ISO 8601 with an offset;
default the last 24 hours), `period` (`hour`, `day` or `all`, default `all`), and the
filters `provider` and `table`. A window longer than `MAX_WINDOW` or upside down is
refused (`LBRG-400 INVALID_REQUEST`); views that cannot be read answer `LBRG-503 RETRY`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Protocol
from typing import get_args

import msgspec
from aiohttp import web

from contracts.api import Operation
from contracts.api import Param
from contracts.api import Scope
from contracts.ops import KpiReport
from contracts.ops import Period
from contracts.ops import ReconcileRunSummary
from services.frontdoor.http import ApiError
from services.frontdoor.http import json_response
from services.frontdoor.routes import RouteTable
from services.ops import metrics
from services.ops.cases_http import CASES
from services.ops.cases_http import setup_cases
from services.ops.kpis import MAX_WINDOW
from services.ops.kpis import KpiBoard
from services.ops.qos import setup_qos

log = logging.getLogger(__name__)

DEFAULT_WINDOW = timedelta(days=1)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
"""The instants a window may start or end at: inside them its arithmetic never overflows."""
PERIODS: tuple[str, ...] = get_args(Period)
BOARD = web.AppKey("ops_kpi_board", KpiBoard)


class ReconcileRuns(Protocol):
    """The completed reconcile runs (`projections.reconcile.audit.AuditRuns`)."""

    def __call__(self) -> list[ReconcileRunSummary]: ...

    def close(self) -> None: ...


KPIS = Operation(
    method="GET",
    path="/ops/v1/kpis",
    operation_id="getKpis",
    summary="KPIs per provider, table and period, computed from the log's views",
    description="Each KPI is defined in the README, section 'Running it in production'.",
    auth="operator",
    scope=Scope.READ,
    response=KpiReport,
    errors=("INVALID_REQUEST", "RETRY"),
    params=(
        Param(
            "since",
            "query",
            "Start (ISO 8601 with offset); default 24 h before until.",
            False,
            datetime,
        ),
        Param(
            "until", "query", "End, exclusive (ISO 8601 with offset); default now.", False, datetime
        ),
        Param(
            "period", "query", "`hour`, `day` or `all` (default): one row per ...", False, Period
        ),
        Param("provider", "query", "Only this provider.", False),
        Param("table", "query", "Only this table.", False),
    ),
    tags=("operations",),
)


def _instant(request: web.Request, name: str, default: datetime) -> datetime:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError("INVALID_REQUEST", f"`{name}` is not an ISO 8601 time: {raw!r}") from None
    if value.tzinfo is None:
        raise ApiError("INVALID_REQUEST", f"`{name}` needs an offset (e.g. `Z`): {raw!r}")
    try:  # near the calendar's ends, the window's arithmetic would overflow
        inside = EARLIEST <= value < LATEST
    except OverflowError:
        inside = False
    if not inside:
        raise ApiError("INVALID_REQUEST", f"`{name}` must be from 1970 to 9998: {raw!r}")
    return value


def setup_ops(
    app: web.Application,
    table: RouteTable,
    board: KpiBoard,
    *,
    cases_env: Callable[[], Mapping[str, str]],
    reconcile: ReconcileRuns | None = None,
) -> None:
    """Mount the operations routes, run the cases' application (in the log with the
    settings `cases_env()` gives when the app starts) and show `board` on `/metrics`.
    `reconcile` reads the completed reconcile runs (closed when the app stops)."""
    app[BOARD] = board
    setup_cases(app, table, env=cases_env, flags=board.source, reconcile=reconcile)  # type: ignore[arg-type]
    board.tickets = lambda: app[CASES].tickets()
    board.reconcile_runs = reconcile
    setup_qos(app, table, rate=board.settings.qos_rate, burst=board.settings.qos_burst)

    async def kpis(request: web.Request) -> web.Response:
        until = _instant(request, "until", board.clock())
        since = _instant(request, "since", until - DEFAULT_WINDOW)
        if not since < until or until - since > MAX_WINDOW:
            raise ApiError(
                "INVALID_REQUEST",
                f"`since` must be before `until`, at most {MAX_WINDOW.days} days apart",
            )
        period = request.query.get("period", "all")
        if period not in PERIODS:
            raise ApiError("INVALID_REQUEST", f"`period` is one of {', '.join(PERIODS)}")
        provider, only_table = request.query.get("provider"), request.query.get("table")
        try:
            report = await asyncio.to_thread(board.report, since, until, period, provider)  # type: ignore[arg-type]
        except Exception as error:
            log.warning("KPIs not read: %s", error)
            raise ApiError("RETRY", "the views cannot be read right now; retry") from None
        rows = tuple(row for row in report.rows if only_table is None or row.table == only_table)
        return json_response(msgspec.structs.replace(report, rows=rows))

    table.add(app, KPIS, kpis)

    async def shown(_app: web.Application) -> AsyncIterator[None]:
        metrics.register(board)
        yield
        metrics.unregister(board)
        if reconcile is not None:
            await asyncio.to_thread(reconcile.close)

    app.cleanup_ctx.append(shown)
