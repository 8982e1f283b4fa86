"""The read API over the views: balances for the platform, rounds for dispute agents.

- `GET /platform/v1/wallets/{player}`: every currency of the player's wallets, with
  balance, held and available as decimal strings, and the log position the view reflects
  (`logPosition`, a JetStream stream sequence). A caller that just wrote at position N
  and needs to read its write back passes `?atLeast=N`: the answer waits (up to 2 s) for
  the view to reach N, else says `LBRG-503 VIEW_BEHIND`.
- `GET /disputes/v1/rounds/{roundId}`: one round's header, bets, verification and full
  timeline (`?provider=` picks one when providers share a round id).

Errors are JSON `{"error": "LBRG-<status> <CODE>", "message": "..."}`; the views are read
in a thread (psycopg is synchronous), never on the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from decimal import Decimal
from typing import Any

import msgspec
from aiohttp import web

from contracts import ids, money
from contracts.api import Operation, Param, Scope
from contracts.cashier import CurrencyBalance, PlayerBalances
from projections.balances.view import BalancesView, WalletBalances
from projections.rounds.view import RoundRecord, RoundsView
from projections.run import RunningViews, running_projections

APPLICATION_NAME = "Ledger"
"""`services.ledger.application.Ledger.name`: the log the views follow."""
WAIT_TIMEOUT = 2.0

_encoder = msgspec.json.Encoder()


class ReadApiError(msgspec.Struct, frozen=True, kw_only=True):
    error: str
    message: str


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=_encoder.encode(body), status=status, content_type="application/json")


def _error(status: int, code: str, message: str) -> web.Response:
    return _json(ReadApiError(error=f"LBRG-{status} {code}", message=message), status)


def _amount(amount: Decimal, currency: str) -> Decimal:
    try:
        return amount.quantize(money.quantum(currency))
    except money.MoneyError:
        return amount


def wallet_body(wallet: WalletBalances) -> PlayerBalances:
    return PlayerBalances(
        player=wallet.player,
        log_position=wallet.position,
        balances=tuple(
            CurrencyBalance(
                currency=b.currency,
                balance=_amount(b.balance, b.currency),
                held=_amount(b.held, b.currency),
                available=_amount(b.available, b.currency),
                log_position=b.position,
            )
            for b in wallet.balances
        ),
    )


VIEWS = web.AppKey("projections_views", RunningViews)
"""The running views of this process, set by `setup_views`' cleanup context."""


def setup_views(
    app: web.Application,
    env: Mapping[str, str] | Callable[[web.Application], Mapping[str, str]],
    *,
    batched: bool = True,
    application_name: str = APPLICATION_NAME,
) -> None:
    """Run the views for the life of `app` (a `cleanup_ctx`) and mount the read API.

    `env` is `running_projections`' (ledger settings plus `view_env(database_url)`), or
    a function of the app giving it at start-up (when earlier contexts have set what it
    needs, such as the database URL). Start-up waits for the views to catch up.
    """

    async def views_ctx(app: web.Application) -> AsyncIterator[None]:
        settings = env(app) if callable(env) else env
        running = running_projections(settings, batched=batched)
        app[VIEWS] = await asyncio.to_thread(running.__enter__)
        try:
            yield
        finally:
            await asyncio.to_thread(running.__exit__, None, None, None)

    app.cleanup_ctx.append(views_ctx)
    _mount(app, lambda: app[VIEWS].balances, lambda: app[VIEWS].rounds, application_name)


def setup_read_api(
    app: web.Application,
    *,
    balances: BalancesView,
    rounds: RoundsView,
    application_name: str = APPLICATION_NAME,
) -> None:
    """Mount the two read routes on `app`, answering from the given views."""
    _mount(app, lambda: balances, lambda: rounds, application_name)


def _mount(
    app: web.Application,
    balances_view: Callable[[], BalancesView],
    rounds_view: Callable[[], RoundsView],
    application_name: str,
) -> None:
    async def wallet(request: web.Request) -> web.Response:
        balances = balances_view()
        player = request.match_info["player"]
        wrong = ids.problem(player, "player id")
        if wrong is not None:
            return _error(400, "INVALID_PLAYER", wrong)
        at_least = request.query.get("atLeast", "")
        if at_least:
            if not at_least.isdigit():
                return _error(400, "INVALID_POSITION", "atLeast must be a log position (digits)")
            try:
                await asyncio.to_thread(
                    balances.wait, application_name, int(at_least), WAIT_TIMEOUT
                )
            except TimeoutError:
                return _error(
                    503,
                    "VIEW_BEHIND",
                    f"the balances view has not reached log position {at_least} yet; retry",
                )
        found = await asyncio.to_thread(balances.wallet, player, application_name)
        if found is None:
            return _error(404, "WALLET_NOT_FOUND", f"no wallet for player {player!r}")
        return _json(wallet_body(found))

    async def round_(request: web.Request) -> web.Response:
        rounds = rounds_view()
        round_id = request.match_info["round_id"]
        provider = request.query.get("provider") or None
        wrong = ids.problem(round_id, "round id") or ids.problem(
            provider or "", "provider", optional=True
        )
        if wrong is not None:
            return _error(400, "INVALID_ROUND", wrong)
        found: list[RoundRecord] = await asyncio.to_thread(
            rounds.rounds, round_id, application_name, provider
        )
        if not found:
            who = f" of provider {provider!r}" if provider else ""
            return _error(
                404,
                "ROUND_NOT_FOUND",
                f"no round {round_id!r}{who} in the dispute view; check the id, or retry if "
                "the round is younger than a second",
            )
        if len(found) > 1:
            names = ", ".join(r.provider for r in found)
            return _error(
                409,
                "AMBIGUOUS_ROUND",
                f"round id {round_id!r} is used by providers {names}; add ?provider=<id>",
            )
        return _json(found[0])

    app.router.add_get("/platform/v1/wallets/{player}", wallet)
    app.router.add_get("/disputes/v1/rounds/{round_id}", round_)


READ_OPERATIONS = (
    Operation(
        method="GET",
        path="/platform/v1/wallets/{player}",
        operation_id="getBalances",
        summary="A player's balances: every currency, with the log position they reflect",
        auth="operator",
        scope=Scope.READ,
        response=PlayerBalances,
        errors=("INVALID_PLAYER", "INVALID_POSITION", "WALLET_NOT_FOUND", "VIEW_BEHIND"),
        params=(
            Param("player", "path", "The player's id."),
            Param(
                "atLeast",
                "query",
                "Wait (up to 2 s) until the view reflects this log position.",
                required=False,
                type=int,
            ),
        ),
        tags=("cashier",),
    ),
    Operation(
        method="GET",
        path="/disputes/v1/rounds/{round_id}",
        operation_id="getRound",
        summary="One round for a dispute: header, bets, verification and full timeline",
        auth="operator",
        scope=Scope.READ,
        response=RoundRecord,
        errors=("INVALID_ROUND", "ROUND_NOT_FOUND", "AMBIGUOUS_ROUND"),
        params=(
            Param("round_id", "path", "The provider's round id."),
            Param("provider", "query", "The provider, when several use the id.", required=False),
        ),
        tags=("disputes",),
    ),
)
"""The read routes' descriptions, for the front door's route table and OpenAPI document."""
