"""The read API over the views: balances for the platform, rounds for dispute agents.

- `GET /platform/v1/wallets/{player}`: every currency of the player's wallets, with
  balance, held and available as decimal strings, and the log position the view reflects
  (`logPosition`, a JetStream stream sequence). A caller that just wrote at position N
  and needs to read its write back passes `?atLeast=N`: the answer waits (up to 2 s) for
  the view to reach N, else says `LBRG-503 VIEW_BEHIND`.
- `GET /disputes/v1/rounds/{roundId}`: one round's header, bets, verification and full
  timeline (`?provider=` picks one when providers share a round id).

Errors are JSON `{"error": "LBRG-<status> <CODE>", "message": "..."}`: a bad path or query
parameter is `LBRG-400` (`INVALID_PLAYER`, `INVALID_ROUND`, `INVALID_PROVIDER`,
`INVALID_POSITION`) and changes nothing; a database that does not answer within
`READ_TIMEOUT` is `LBRG-503 VIEWS_UNAVAILABLE` (retry later), never a hang or a 500. The
views are read in a thread (psycopg is synchronous), never on the event loop.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import Annotated
from typing import Any
from typing import TypeVar
from typing import TypeVarTuple

import msgspec
from aiohttp import web
from eventsourcing.persistence import InterfaceError
from eventsourcing.persistence import OperationalError
from eventsourcing.persistence import PersistenceError
from psycopg_pool import PoolTimeout

from contracts import ids
from contracts import money
from contracts.api import Operation
from contracts.api import Param
from contracts.api import Scope
from contracts.cashier import CurrencyBalance
from contracts.cashier import PlayerBalances
from projections.balances.view import BalancesView
from projections.balances.view import WalletBalances
from projections.rounds.view import RoundRecord
from projections.rounds.view import RoundsView
from projections.run import RunningViews
from projections.run import reading_views
from projections.run import running_projections

APPLICATION_NAME = "Ledger"
"""`services.ledger.application.Ledger.name`: the log the views follow."""
WAIT_TIMEOUT = 2.0
READ_TIMEOUT = 3.0
"""The longest a read may take (after any `atLeast` wait) before the answer is a 503."""
RETRY_PAUSE = 0.05
MAX_POSITION = 2**63 - 1
"""Log positions are JetStream sequences, stored as PostgreSQL `bigint`."""
_POSITION = re.compile(r"[0-9]{1,19}")

T = TypeVar("T")
A = TypeVarTuple("A")

_encoder = msgspec.json.Encoder()


class ReadApiError(msgspec.Struct, frozen=True, kw_only=True):
    error: str
    message: str


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=_encoder.encode(body), status=status, content_type="application/json")


def _error(status: int, code: str, message: str) -> web.Response:
    return _json(ReadApiError(error=f"LBRG-{status} {code}", message=message), status)


class BadParameter(Exception):
    """A path or query parameter the read API refuses: `LBRG-400 <code>`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class ViewsUnavailable(Exception):
    """The views' database did not answer in time: `LBRG-503 VIEWS_UNAVAILABLE`."""


def position_param(text: str) -> int:
    """`atLeast`: a log position, ASCII digits only, at most `MAX_POSITION`."""
    if not _POSITION.fullmatch(text) or int(text) > MAX_POSITION:
        raise BadParameter(
            "INVALID_POSITION",
            f"atLeast must be a log position: ASCII digits, at most {MAX_POSITION}",
        )
    return int(text)


def id_param(text: str, *, code: str, what: str) -> str:
    """An id from the path or the query, under the one id policy (`contracts.ids`)."""
    wrong = ids.problem(text, what)
    if wrong is not None:
        raise BadParameter(code, wrong)
    return text


async def read_within(seconds: float, function: Callable[[*A], T], *args: *A) -> T:
    """`function(*args)` in a thread; `ViewsUnavailable` if the database fails or is slow.

    A read that fails on a connection PostgreSQL dropped (it restarted) is tried again
    on another while time is left; one that finds no connection at all is not. The
    caller is answered within `seconds`; the thread of a read still waiting then ends
    by the readers' pool timeout (`READ_POOL_TIMEOUT`).
    """
    deadline = time.monotonic() + seconds

    def attempts() -> T:
        while True:
            try:
                return function(*args)
            except (InterfaceError, OperationalError) as error:
                no_connection = isinstance(error.__cause__, PoolTimeout)
                if no_connection or time.monotonic() + RETRY_PAUSE >= deadline:
                    raise
                time.sleep(RETRY_PAUSE)

    try:
        async with asyncio.timeout(seconds):
            return await asyncio.to_thread(attempts)
    except (PersistenceError, TimeoutError) as error:
        raise ViewsUnavailable(str(error) or f"no answer in {seconds:g} s") from error


async def reached(view: BalancesView, application_name: str, position: int) -> bool:
    """Whether the view reaches `position` within `WAIT_TIMEOUT` (read-your-writes).

    Each look is one read in a thread; the pauses between looks are on the event loop.
    (Waiting in the thread held it for the whole 2 s: a dozen callers waiting on a view
    behind took every thread the process's reads share, and a plain read queued behind
    them answered `VIEWS_UNAVAILABLE`.)"""
    deadline = time.monotonic() + WAIT_TIMEOUT
    reached = getattr(view, "has_tracking_id_once", view.has_tracking_id)
    pause = 0.02
    while not await read_within(READ_TIMEOUT, reached, application_name, position):
        if time.monotonic() + pause > deadline:
            return False
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.2)
    return True


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
Elsewhere = Callable[
    [Mapping[str, str], Mapping[str, Callable[[], bool]]], AbstractAsyncContextManager[None]
]
"""Runs the views' runners in another process while entered: given the projections'
settings and when each view's runner may run."""


def setup_views(
    app: web.Application,
    env: Mapping[str, str] | Callable[[web.Application], Mapping[str, str]],
    *,
    batched: bool = True,
    application_name: str = APPLICATION_NAME,
    gates: Callable[[web.Application], Mapping[str, Callable[[], bool]]] | None = None,
    elsewhere: Elsewhere | None = None,
) -> None:
    """Run the views for the life of `app` (a `cleanup_ctx`) and mount the read API.

    `env` is `running_projections`' (ledger settings plus `view_env(database_url)`), or
    a function of the app giving it at start-up (when earlier contexts have set what it
    needs, such as the database URL).
    `gates(app)` gives, at start-up, when each view's runner may run (its lease is held).
    `elsewhere(env, gates)`, where given, runs the runners in another process for as
    long as it is entered: this process then only reads the views.
    """

    async def views_ctx(app: web.Application) -> AsyncIterator[None]:
        settings = env(app) if callable(env) else env
        found = gates(app) if gates is not None else None
        if elsewhere is not None:
            async with elsewhere(settings, found or {}):
                reading = reading_views(settings, app_name=application_name)
                app[VIEWS] = await asyncio.to_thread(reading.__enter__)
                try:
                    yield
                finally:
                    await asyncio.to_thread(reading.__exit__, None, None, None)
            return
        running = running_projections(settings, batched=batched, gates=found)
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
        player = id_param(request.match_info["player"], code="INVALID_PLAYER", what="player id")
        at_least = request.query.get("atLeast", "")
        if at_least:
            position = position_param(at_least)
            if not await reached(balances, application_name, position):
                return _error(
                    503,
                    "VIEW_BEHIND",
                    f"the balances view has not reached log position {position} yet; retry",
                )
        found = await read_within(READ_TIMEOUT, balances.wallet, player, application_name)
        if found is None:
            return _error(404, "WALLET_NOT_FOUND", f"no wallet for player {player!r}")
        return _json(wallet_body(found))

    async def round_(request: web.Request) -> web.Response:
        rounds = rounds_view()
        round_id = id_param(request.match_info["round_id"], code="INVALID_ROUND", what="round id")
        provider = request.query.get("provider") or None
        if provider is not None:
            provider = id_param(provider, code="INVALID_PROVIDER", what="provider")
        found: list[RoundRecord] = await read_within(
            READ_TIMEOUT, rounds.rounds, round_id, application_name, provider
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

    app.router.add_get("/platform/v1/wallets/{player}", _refusing(wallet))
    app.router.add_get("/disputes/v1/rounds/{round_id}", _refusing(round_))


def _refusing(
    handler: Callable[[web.Request], Awaitable[web.Response]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The handler, with its refusals and a database that does not answer as JSON errors."""

    async def answer(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except BadParameter as error:
            return _error(400, error.code, error.message)
        except ViewsUnavailable as error:
            return _error(
                503,
                "VIEWS_UNAVAILABLE",
                f"the views' database does not answer ({error}); retry in a few seconds",
            )

    return answer


READ_OPERATIONS = (
    Operation(
        method="GET",
        path="/platform/v1/wallets/{player}",
        operation_id="getBalances",
        summary="A player's balances: every currency, with the log position they reflect",
        auth="operator",
        scope=Scope.READ,
        response=PlayerBalances,
        errors=(
            "INVALID_PLAYER",
            "INVALID_POSITION",
            "WALLET_NOT_FOUND",
            "VIEW_BEHIND",
            "VIEWS_UNAVAILABLE",
        ),
        params=(
            Param("player", "path", "The player's id.", type=ids.Id),
            Param(
                "atLeast",
                "query",
                "Wait (up to 2 s) until the view reflects this log position.",
                required=False,
                type=Annotated[int, msgspec.Meta(ge=0, le=MAX_POSITION)],
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
        errors=(
            "INVALID_ROUND",
            "INVALID_PROVIDER",
            "ROUND_NOT_FOUND",
            "AMBIGUOUS_ROUND",
            "VIEWS_UNAVAILABLE",
        ),
        params=(
            Param("round_id", "path", "The provider's round id.", type=ids.Id),
            Param(
                "provider",
                "query",
                "The provider, when several use the id.",
                required=False,
                type=ids.OptionalId,
            ),
        ),
        tags=("disputes",),
    ),
)
"""The read routes' descriptions, for the front door's route table and OpenAPI document."""
