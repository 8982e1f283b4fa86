"""`/ops/v1/tickets` and `/ops/v1/audit`: dispute tickets and the audit queue.

Reads need scope `read`, every step (open, comment, resolve, assign) scope `admin`; each
step is an event of the `Cases` application (`services/ops/cases.py`), recorded with the
operator key that took it. The audit queue lists the round view's flags (hash
mismatches, sequence gaps, conflicts, bets the round book could not settle or refund),
newest first, joined with what operators did about each (`AuditCase` events). The
listing's filters, those on what operators did too (as item keys), are applied by the
view before its limit, and an item is found by its key, however old.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from operator import attrgetter
from typing import Any
from typing import Literal
from typing import Protocol
from typing import get_args

from aiohttp import web

from contracts import ids
from contracts.api import Operation
from contracts.api import Param
from contracts.api import Scope
from contracts.ops import AssignAudit
from contracts.ops import AuditItem
from contracts.ops import AuditList
from contracts.ops import AuditReason
from contracts.ops import AuditState
from contracts.ops import CommentTicket
from contracts.ops import OpenTicket
from contracts.ops import ReconcileRunSummary
from contracts.ops import ResolveAudit
from contracts.ops import ResolveTicket
from contracts.ops import TicketList
from contracts.ops import TicketView
from services.frontdoor.auth import OPERATOR
from services.frontdoor.http import ApiError
from services.frontdoor.http import json_response
from services.frontdoor.http import read_json
from services.frontdoor.routes import RouteTable
from services.ops.cases import AuditItemClosed
from services.ops.cases import Cases
from services.ops.cases import Ticket
from services.ops.cases import TicketClosed
from services.ops.cases import ticket_view

CASES = web.AppKey("ops_cases", Cases)
AUDIT_LIMIT = 1000
"""Most items one listing returns (newest first)."""
REASONS: tuple[str, ...] = get_args(AuditReason)
_KEY = re.compile(
    r"^(hash_mismatch|sequence_gap):[0-9a-f]{32}$|^(conflict|settlement_failure):\d+$"
    r"|^reconcile_difference:[0-9a-f-]{36}:\d+$"
)


class FlagSource(Protocol):
    """The round view's adapter (`PostgresRoundsView.audit_flags`): it filters, then
    limits, so an item older than the newest `limit` is still found by its filters."""

    def audit_flags(
        self,
        provider: str | None,
        limit: int,
        *,
        reason: str | None = None,
        keys: Sequence[str] | None = None,
        not_keys: Sequence[str] = (),
    ) -> list[dict[str, Any]]: ...


def flag_filter(
    states: Mapping[str, AuditState], status: str | None, assignee: str | None
) -> tuple[list[str] | None, list[str]]:
    """The item keys a listing of `status` and `assignee` takes (None: any) and those it
    leaves out, from what operators did (the view does not know)."""
    keys: set[str] | None = None
    not_keys: set[str] = set()
    resolved = {key for key, state in states.items() if state.resolution}
    if status == "open":
        not_keys |= resolved
    elif status == "resolved":
        keys = resolved
    if assignee == "":
        not_keys |= {key for key, state in states.items() if state.assignee}
    elif assignee is not None:
        mine = {key for key, state in states.items() if state.assignee == assignee}
        keys = mine if keys is None else keys & mine
    return (None if keys is None else sorted(keys)), sorted(not_keys)


def audit_items(rows: list[dict[str, Any]], states: Mapping[str, AuditState]) -> list[AuditItem]:
    items = []
    for row in rows:
        key = row["key"]
        state = states.get(key, AuditState())
        items.append(
            AuditItem(
                key=key,
                reason=row["reason"],
                detail=str(row["detail"] or ""),
                provider=row["provider"],
                round_id=row["round_id"],
                table=row["table_id"],
                position=int(row["position"]),
                flagged_at=row["server_time"],
                status="resolved" if state.resolution else "open",
                assignee=state.assignee,
                resolution=state.resolution,
                resolved_by=state.resolved_by,
            )
        )
    return items


def reconcile_items(
    runs: list[ReconcileRunSummary], provider: str | None, states: Mapping[str, AuditState]
) -> list[AuditItem]:
    """Each difference of each reconcile run, as an audit item (newest run first)."""
    items = []
    for run in sorted(runs, key=lambda r: r.completed_at, reverse=True):
        if provider is not None and run.provider != provider:
            continue
        for index, finding in enumerate(run.findings):
            key = f"reconcile_difference:{run.run_id}:{index}"
            state = states.get(key, AuditState())
            items.append(
                AuditItem(
                    key=key,
                    reason="reconcile_difference",
                    detail=f"{finding.status} {finding.key}: {finding.detail}",
                    provider=run.provider,
                    round_id=finding.round_id,
                    table="",
                    position=finding.position,
                    flagged_at=run.completed_at,
                    status="resolved" if state.resolution else "open",
                    assignee=state.assignee,
                    resolution=state.resolution,
                    resolved_by=state.resolved_by,
                )
            )
    return items


def _actor(request: web.Request) -> str:
    key = request[OPERATOR]
    return f"{key.operator}/{key.key_id}"


def _ticket_id(request: web.Request) -> uuid.UUID:
    raw = request.match_info["ticket_id"]
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ApiError("TICKET_NOT_FOUND", f"no ticket {raw!r} (ticket ids are UUIDs)") from None


_STATUS = Literal["open", "resolved"]
TICKET_PARAM = Param("ticket_id", "path", "The ticket's id (a UUID).", type=uuid.UUID)
KEY_PARAM = Param("key", "path", "The item's key, as the listing gives it.")


def _operator_route(
    method: str,
    path: str,
    operation_id: str,
    summary: str,
    scope: Scope,
    response: type,
    *errors: str,
    request: type | None = None,
    params: tuple[Param, ...] = (),
    status: int = 200,
) -> Operation:
    """An operations route for operator keys; every one answers `RETRY` when the
    operations log cannot be used."""
    return Operation(
        method=method,
        path=path,
        operation_id=operation_id,
        summary=summary,
        auth="operator",
        scope=scope,
        request=request,
        response=response,
        status=status,
        errors=(*errors, "RETRY"),
        params=params,
        tags=("operations",),
    )


_STATUS_PARAM = Param("status", "query", "`open` or `resolved`; default both.", False, _STATUS)
OPERATIONS = (
    _operator_route(
        "POST",
        "/ops/v1/tickets",
        "openTicket",
        "Open a dispute ticket on a round for a player",
        Scope.ADMIN,
        TicketView,
        request=OpenTicket,
        status=201,
    ),
    _operator_route(
        "GET",
        "/ops/v1/tickets",
        "listTickets",
        "Every dispute ticket, open or resolved",
        Scope.READ,
        TicketList,
        "INVALID_REQUEST",
        params=(_STATUS_PARAM,),
    ),
    _operator_route(
        "GET",
        "/ops/v1/tickets/{ticket_id}",
        "getTicket",
        "One dispute ticket with its comments",
        Scope.READ,
        TicketView,
        "TICKET_NOT_FOUND",
        params=(TICKET_PARAM,),
    ),
    _operator_route(
        "POST",
        "/ops/v1/tickets/{ticket_id}/comments",
        "commentTicket",
        "Comment on an open dispute ticket",
        Scope.ADMIN,
        TicketView,
        "TICKET_NOT_FOUND",
        "TICKET_RESOLVED",
        request=CommentTicket,
        params=(TICKET_PARAM,),
    ),
    _operator_route(
        "POST",
        "/ops/v1/tickets/{ticket_id}/resolve",
        "resolveTicket",
        "Resolve a dispute ticket with its outcome",
        Scope.ADMIN,
        TicketView,
        "TICKET_NOT_FOUND",
        "TICKET_RESOLVED",
        request=ResolveTicket,
        params=(TICKET_PARAM,),
    ),
    _operator_route(
        "GET",
        "/ops/v1/audit",
        "listAudit",
        "The audit queue: flagged rounds with their reason, log position and handler",
        Scope.READ,
        AuditList,
        "INVALID_REQUEST",
        params=(
            Param("provider", "query", "Only this provider.", False, ids.Id),
            Param("reason", "query", f"One of {', '.join(REASONS)}.", False, AuditReason),
            _STATUS_PARAM,
            Param("assignee", "query", "Only items assigned to this operator.", False),
        ),
    ),
    _operator_route(
        "POST",
        "/ops/v1/audit/{key}/assign",
        "assignAudit",
        "Assign a flagged item to an operator",
        Scope.ADMIN,
        AuditItem,
        "AUDIT_ITEM_NOT_FOUND",
        "AUDIT_ITEM_RESOLVED",
        request=AssignAudit,
        params=(KEY_PARAM,),
    ),
    _operator_route(
        "POST",
        "/ops/v1/audit/{key}/resolve",
        "resolveAudit",
        "Resolve a flagged item (an event in the log)",
        Scope.ADMIN,
        AuditItem,
        "AUDIT_ITEM_NOT_FOUND",
        "AUDIT_ITEM_RESOLVED",
        request=ResolveAudit,
        params=(KEY_PARAM,),
    ),
)


def _status(request: web.Request) -> str | None:
    status = request.query.get("status")
    if status not in (None, "open", "resolved"):
        raise ApiError("INVALID_REQUEST", "`status` is `open` or `resolved`")
    return status


def setup_cases(
    app: web.Application,
    table: RouteTable,
    *,
    env: Callable[[], Mapping[str, str]],
    flags: Callable[[], FlagSource],
    reconcile: Callable[[], list[ReconcileRunSummary]] | None = None,
) -> None:
    """Run the `Cases` application while the app runs and mount its routes."""

    async def running(app: web.Application) -> AsyncIterator[None]:
        cases = await asyncio.to_thread(Cases, dict(env()))
        app[CASES] = cases
        try:
            yield
        finally:
            await asyncio.to_thread(cases.close)

    app.cleanup_ctx.append(running)

    async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except (ApiError, TicketClosed, AuditItemClosed):
            raise
        except Exception as error:
            raise ApiError(
                "RETRY", f"the operations log cannot be used right now: {error}"
            ) from None

    async def open_ticket(request: web.Request) -> web.Response:
        body = await read_json(request, OpenTicket)
        view = await call(
            app[CASES].open_ticket,
            provider=body.provider,
            round_id=body.round_id,
            player=body.player,
            reason=body.reason,
            opened_by=_actor(request),
        )
        return json_response(view, 201)

    async def list_tickets(request: web.Request) -> web.Response:
        status = _status(request)
        found: list[TicketView] = await call(app[CASES].tickets)
        return json_response(
            TicketList(tickets=tuple(t for t in found if status in (None, t.status)))
        )

    async def get_ticket(request: web.Request) -> web.Response:
        ticket_id = _ticket_id(request)
        found: Ticket | None = await call(app[CASES].ticket, ticket_id)
        if found is None:  # its own events only: no fold of the whole log
            raise ApiError("TICKET_NOT_FOUND", f"no ticket {ticket_id}")
        return json_response(ticket_view(found))

    async def step(
        request: web.Request, fn: Callable[..., TicketView | None], *args: Any
    ) -> web.Response:
        ticket_id = _ticket_id(request)
        try:
            view = await call(fn, ticket_id, *args)
        except TicketClosed as closed:
            raise ApiError("TICKET_RESOLVED", str(closed)) from None
        if view is None:
            raise ApiError("TICKET_NOT_FOUND", f"no ticket {ticket_id}")
        return json_response(view)

    async def comment(request: web.Request) -> web.Response:
        body = await read_json(request, CommentTicket)
        return await step(request, app[CASES].comment, _actor(request), body.text)

    async def resolve_ticket(request: web.Request) -> web.Response:
        body = await read_json(request, ResolveTicket)
        return await step(
            request, app[CASES].resolve_ticket, body.outcome, body.note, _actor(request)
        )

    async def items(
        provider: str | None = None,
        *,
        reason: str | None = None,
        status: str | None = None,
        assignee: str | None = None,
        key: str | None = None,
    ) -> list[AuditItem]:
        """The queue's items, the round view's flags filtered in the view before its limit."""
        states = await call(app[CASES].audit_states)
        keys, not_keys = flag_filter(states, status, assignee)
        if key is not None:
            keys = [key] if keys is None or key in keys else []
        rows = await call(
            flags().audit_flags,
            provider,
            AUDIT_LIMIT,
            reason=reason,
            keys=keys,
            not_keys=not_keys,
        )
        runs = [] if reconcile is None else await call(reconcile)
        return audit_items(rows, states) + reconcile_items(runs, provider, states)

    async def list_audit(request: web.Request) -> web.Response:
        reason, assignee = request.query.get("reason"), request.query.get("assignee")
        if reason is not None and reason not in REASONS:
            raise ApiError("INVALID_REQUEST", f"`reason` is one of {', '.join(REASONS)}")
        status = _status(request)
        provider = request.query.get("provider")
        wrong = ids.problem(provider, "provider") if provider is not None else None
        if wrong:
            raise ApiError("INVALID_REQUEST", wrong)
        found = await items(provider, reason=reason, status=status, assignee=assignee)
        shown = [
            i
            for i in found
            if reason in (None, i.reason)
            and status in (None, i.status)
            and assignee in (None, i.assignee)
        ]
        # the view's flags come limited, every reconcile run's differences do not: the
        # listing is the newest `AUDIT_LIMIT` of both (a run of 100,000 differences
        # answered every listing with all of them)
        shown.sort(key=attrgetter("flagged_at"), reverse=True)
        return json_response(AuditList(items=tuple(shown[:AUDIT_LIMIT])))

    async def find_item(request: web.Request) -> AuditItem:
        key = request.match_info["key"]
        if _KEY.match(key):
            for item in await items(key=key):
                if item.key == key:
                    return item
        raise ApiError("AUDIT_ITEM_NOT_FOUND", f"no flagged item {key!r} in the audit queue")

    async def case_step(request: web.Request, fn: Callable[..., None], *args: Any) -> web.Response:
        item = await find_item(request)
        try:
            await call(fn, item.key, *args, _actor(request))
        except AuditItemClosed as closed:
            raise ApiError("AUDIT_ITEM_RESOLVED", str(closed)) from None
        return json_response(await find_item(request))

    async def assign(request: web.Request) -> web.Response:
        body = await read_json(request, AssignAudit)
        return await case_step(request, app[CASES].assign, body.assignee)

    async def resolve_item(request: web.Request) -> web.Response:
        body = await read_json(request, ResolveAudit)
        return await case_step(request, app[CASES].resolve_case, body.resolution)

    handlers = (
        open_ticket,
        list_tickets,
        get_ticket,
        comment,
        resolve_ticket,
        list_audit,
        assign,
        resolve_item,
    )
    for operation, handler in zip(OPERATIONS, handlers, strict=True):
        table.add(app, operation, handler)
