"""The cashier routes: wallets, deposits, withdrawals, table-bank transfers, history.

Money calls go to the ledger's cashier (`Ledger.transfer`), exactly once per
`idempotencyKey` (scoped per operator: the ledger's cashier transaction id is
`<operator>:<key>`). A repeat with the same payload gets the original receipt
(`replayed: true`, nothing moves); another payload is `LBRG-409 IDEMPOTENCY_CONFLICT`.
Balances and history are read from the balances view (PostgreSQL), with log positions.

Everything is checked before the ledger is called: the player id by `contracts.ids`,
amounts by `contracts.money`, the provider against the configuration.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated
from typing import Protocol
from typing import TypeVar

import msgspec
from aiohttp import web

from contracts import ids
from contracts import money
from contracts.api import Operation
from contracts.api import Param
from contracts.api import Scope
from contracts.cashier import CashierMove
from contracts.cashier import CashierReceipt
from contracts.cashier import HistoryItem
from contracts.cashier import MoneyKind
from contracts.cashier import OpenWallet
from contracts.cashier import TableBankMove
from contracts.cashier import TransactionHistory
from contracts.cashier import Wallet
from contracts.wallet import Refusal
from contracts.wallet import WalletReply
from projections.balances.view import BalancesView
from projections.http import MAX_POSITION
from projections.http import READ_TIMEOUT
from projections.http import ViewsUnavailable
from projections.http import reached
from projections.http import read_within
from services.edge.config import ProvidersConfig
from services.frontdoor.auth import OPERATOR
from services.frontdoor.http import ApiError
from services.frontdoor.http import json_response
from services.frontdoor.http import past_log_end
from services.frontdoor.http import read_json
from services.frontdoor.routes import RouteTable
from services.ledger.application import Ledger
from services.ledger.domain import CASHIER
from services.ledger.domain import provider_account
from services.ledger.errors import LedgerRefused

T = TypeVar("T")

APPLICATION_NAME = "Ledger"
WAIT_S = 2.0
MAX_PAGE = 200

REFUSALS: dict[Refusal, str] = {
    Refusal.INVALID_AMOUNT: "INVALID_AMOUNT",
    Refusal.UNKNOWN_CURRENCY: "UNKNOWN_CURRENCY",
    Refusal.UNKNOWN_WALLET: "WALLET_NOT_FOUND",
    Refusal.INSUFFICIENT_FUNDS: "INSUFFICIENT_FUNDS",
    Refusal.DUPLICATE_CONFLICT: "IDEMPOTENCY_CONFLICT",
    Refusal.RETRY_EXHAUSTED: "RETRY",
    Refusal.LIMIT_EXCEEDED: "LIMIT_EXCEEDED",
    Refusal.SELF_EXCLUDED: "SELF_EXCLUDED",
}
"""Ledger refusals a cashier call can meet, as LBRG codes."""


class Cashbook(Protocol):
    """What the cashier needs of the ledger (`services.ledger.application.Ledger`)."""

    def open_wallet(self, player: str, currency: str) -> None: ...

    def transfer(
        self, kind: str, player: str, currency: str, amount: Decimal, *, tx_id: str, account: str
    ) -> WalletReply: ...


def player_of(request: web.Request) -> str:
    player = request.match_info["player"]
    wrong = ids.problem(player, "player")
    if wrong:
        raise ApiError("INVALID_PLAYER", wrong)
    return player


def currency_of(currency: str) -> str:
    try:
        money.exponent(currency)
    except money.UnknownCurrency as exc:
        raise ApiError("UNKNOWN_CURRENCY", str(exc)) from None
    return currency


def amount_of(amount: str, currency: str) -> Decimal:
    try:
        return money.parse_amount(amount, currency, allow_zero=False)
    except money.MoneyError as exc:
        raise ApiError("INVALID_AMOUNT", str(exc)) from None


async def from_view(seconds: float, call: Callable[[], T]) -> T:
    """`call()` on the balances view, in a thread; a database that fails or does not answer
    within `seconds` is `LBRG-503 VIEWS_UNAVAILABLE` (retry), as on the read API."""
    return await _answered(read_within(seconds, call))


async def _answered(read: Awaitable[T]) -> T:
    """`read` of the views; their database away is `LBRG-503 VIEWS_UNAVAILABLE`."""
    try:
        return await read
    except ViewsUnavailable as error:
        raise ApiError(
            "VIEWS_UNAVAILABLE",
            f"the views' database does not answer ({error}); retry in a few seconds",
        ) from None


async def in_ledger(call: Callable[[], T]) -> T:
    try:
        return await asyncio.to_thread(call)
    except LedgerRefused as refused:
        code = REFUSALS.get(refused.code)
        if code is None:
            raise
        if code == "IDEMPOTENCY_CONFLICT":
            raise ApiError(code, f"{refused.message}; use a new idempotencyKey") from None
        raise ApiError(code, refused.message) from None


def setup_cashier(
    app: web.Application,
    table: RouteTable,
    *,
    ledger: Callable[[], Ledger],
    balances: Callable[[], BalancesView],
    providers: ProvidersConfig,
) -> None:
    async def open_wallet(request: web.Request) -> web.Response:
        player = player_of(request)
        body = await read_json(request, OpenWallet)
        currency = currency_of(body.currency)
        book = ledger()

        def run() -> Wallet:
            book.open_wallet(player, currency)
            found = book.balance(player, currency)
            return Wallet(
                player=player,
                currency=currency,
                balance=_exact(found.balance, currency),
                held=_exact(found.held, currency),
                available=_exact(found.available, currency),
            )

        return json_response(await in_ledger(run))

    async def move(
        request: web.Request, kind: MoneyKind, body: CashierMove | TableBankMove
    ) -> web.Response:
        player = player_of(request)
        currency = currency_of(body.currency)
        amount = amount_of(body.amount, currency)
        account, provider = CASHIER, ""
        if isinstance(body, TableBankMove):
            provider = body.provider
            try:
                offered = providers.get(provider).currencies
            except KeyError:
                raise ApiError("UNKNOWN_PROVIDER", f"no provider {provider!r}") from None
            if currency not in offered:
                raise ApiError(
                    "CURRENCY_NOT_OFFERED",
                    f"provider {provider!r} offers {', '.join(offered)}, not {currency}",
                )
            account = provider_account(provider)
        direction = (
            "deposit" if kind in (MoneyKind.DEPOSIT, MoneyKind.FROM_TABLE_BANK) else "withdraw"
        )
        tx_id = f"{request[OPERATOR].operator}:{body.idempotency_key}"
        book = ledger()
        reply = await in_ledger(
            lambda: book.transfer(direction, player, currency, amount, tx_id=tx_id, account=account)
        )
        position = reply.log_position or await _position_of(reply.tx_ref)
        return json_response(
            CashierReceipt(
                transaction_id=reply.tx_ref,
                idempotency_key=body.idempotency_key,
                kind=kind,
                player=player,
                currency=currency,
                amount=amount,
                balance=_exact(reply.balance, currency),
                available=_exact(reply.available, currency),
                log_position=position,
                replayed=reply.replayed,
                provider=provider,
            )
        )

    async def _position_of(tx_ref: str) -> int:
        """A replayed receipt's position, from the view (which may need a moment)."""
        view = balances()
        for _ in range(int(WAIT_S / 0.05)):
            found = await from_view(READ_TIMEOUT, functools.partial(view.position_of, tx_ref))
            if found is not None:
                return found
            await asyncio.sleep(0.05)
        raise ApiError("VIEW_BEHIND", f"transaction {tx_ref} is not in the view yet; retry")

    async def deposit(request: web.Request) -> web.Response:
        return await move(request, MoneyKind.DEPOSIT, await read_json(request, CashierMove))

    async def withdraw(request: web.Request) -> web.Response:
        return await move(request, MoneyKind.WITHDRAWAL, await read_json(request, CashierMove))

    async def to_table_bank(request: web.Request) -> web.Response:
        body = await read_json(request, TableBankMove)
        return await move(request, MoneyKind.TO_TABLE_BANK, body)

    async def from_table_bank(request: web.Request) -> web.Response:
        body = await read_json(request, TableBankMove)
        return await move(request, MoneyKind.FROM_TABLE_BANK, body)

    async def history(request: web.Request) -> web.Response:
        player = player_of(request)
        query = request.query
        currency = query.get("currency", "")
        if currency:
            currency_of(currency)
        before, limit, at_least = (
            _digits(query, "before", 0, code="INVALID_POSITION"),
            _digits(query, "limit", 50),
            _digits(query, "atLeast", 0, code="INVALID_POSITION"),
        )
        if not 1 <= limit <= MAX_PAGE:
            raise ApiError("INVALID_REQUEST", f"limit must be 1..{MAX_PAGE}")
        view = balances()
        if at_least:
            end = await past_log_end(lambda: ledger().recorder.max_notification_id() or 0, at_least)
            if end is not None:  # the view never gets there: VIEW_BEHIND would be retried forever
                raise ApiError(
                    "INVALID_POSITION",
                    f"atLeast {at_least} is past the end of the log (its last position is "
                    f"{end}); pass a logPosition this API answered",
                )
            # looked at in threads, waited for on the loop: a wait holds no shared thread
            if not await _answered(reached(view, APPLICATION_NAME, at_least)):
                raise ApiError(
                    "VIEW_BEHIND", f"the view has not reached log position {at_least}; retry"
                )
        lines = await from_view(
            READ_TIMEOUT,
            functools.partial(view.history, player, currency=currency, before=before, limit=limit),
        )
        items = tuple(
            HistoryItem(
                log_position=line.position,
                currency=line.currency,
                kind=line.kind,
                amount=_exact(line.amount, line.currency),
                balance_change=_exact(line.balance_change, line.currency),
                reference=line.reference,
                account=line.account,
                at=line.at,
            )
            for line in lines
        )
        next_before = items[-1].log_position if len(items) == limit else None
        return json_response(
            TransactionHistory(player=player, items=items, next_before=next_before)
        )

    for operation, handler in (
        (OPEN_WALLET, open_wallet),
        (DEPOSIT, deposit),
        (WITHDRAW, withdraw),
        (TO_TABLE_BANK, to_table_bank),
        (FROM_TABLE_BANK, from_table_bank),
        (HISTORY, history),
    ):
        table.add(app, operation, handler)


def _digits(query: object, name: str, default: int, *, code: str = "INVALID_REQUEST") -> int:
    """A non-negative integer parameter, at most `MAX_POSITION`: a log position's `code` is
    `INVALID_POSITION`, as on the read API and the socket."""
    assert hasattr(query, "get")
    text = query.get(name, "")
    if not text:
        return default
    # ASCII only: str.isdigit also passes '²' (int() raises: a 500) and '٣' (int() reads 3).
    if not text.isascii() or not text.isdigit() or len(text) > 19 or int(text) > MAX_POSITION:
        what = "a log position" if code == "INVALID_POSITION" else "a non-negative integer"
        raise ApiError(code, f"{name} must be {what}: ASCII digits, at most {MAX_POSITION}")
    return int(text)


def _exact(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(money.quantum(currency))


_PLAYER = Param(
    "player", "path", "The player's id (1-128 characters, no control characters).", type=ids.Id
)
_POSITION = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
_MOVE_ERRORS = (
    "INVALID_PLAYER",
    "INVALID_AMOUNT",
    "UNKNOWN_CURRENCY",
    "WALLET_NOT_FOUND",
    "IDEMPOTENCY_CONFLICT",
    "VIEW_BEHIND",
    "VIEWS_UNAVAILABLE",
    "RETRY",
)

OPEN_WALLET = Operation(
    method="POST",
    path="/platform/v1/players/{player}/wallets",
    operation_id="openWallet",
    summary="Open a player's wallet in a currency (idempotent)",
    auth="operator",
    scope=Scope.CASHIER,
    request=OpenWallet,
    response=Wallet,
    errors=("INVALID_PLAYER", "UNKNOWN_CURRENCY", "RETRY"),
    params=(_PLAYER,),
    tags=("cashier",),
)
DEPOSIT = Operation(
    method="POST",
    path="/platform/v1/players/{player}/deposits",
    operation_id="deposit",
    summary="Money from the platform's cashier into the player's wallet, exactly once",
    auth="operator",
    scope=Scope.CASHIER,
    request=CashierMove,
    response=CashierReceipt,
    errors=(*_MOVE_ERRORS, "LIMIT_EXCEEDED", "SELF_EXCLUDED"),
    params=(_PLAYER,),
    tags=("cashier",),
)
WITHDRAW = Operation(
    method="POST",
    path="/platform/v1/players/{player}/withdrawals",
    operation_id="withdraw",
    summary="Money from the player's wallet back to the platform's cashier, exactly once",
    auth="operator",
    scope=Scope.CASHIER,
    request=CashierMove,
    response=CashierReceipt,
    errors=(*_MOVE_ERRORS, "INSUFFICIENT_FUNDS"),
    params=(_PLAYER,),
    tags=("cashier",),
)
TO_TABLE_BANK = Operation(
    method="POST",
    path="/platform/v1/players/{player}/table-bank/deposits",
    operation_id="toTableBank",
    summary="Transfer wallet: money from the player's wallet into a provider's table bank "
    "(refused while the player is blocked: it is money to play with)",
    auth="operator",
    scope=Scope.CASHIER,
    request=TableBankMove,
    response=CashierReceipt,
    errors=(
        *_MOVE_ERRORS,
        "INSUFFICIENT_FUNDS",
        "UNKNOWN_PROVIDER",
        "CURRENCY_NOT_OFFERED",
        "SELF_EXCLUDED",
    ),
    params=(_PLAYER,),
    tags=("cashier",),
)
FROM_TABLE_BANK = Operation(
    method="POST",
    path="/platform/v1/players/{player}/table-bank/withdrawals",
    operation_id="fromTableBank",
    summary="Transfer wallet: money from a provider's table bank back into the player's wallet",
    auth="operator",
    scope=Scope.CASHIER,
    request=TableBankMove,
    response=CashierReceipt,
    errors=(*_MOVE_ERRORS, "UNKNOWN_PROVIDER", "CURRENCY_NOT_OFFERED"),
    params=(_PLAYER,),
    tags=("cashier",),
)
HISTORY = Operation(
    method="GET",
    path="/platform/v1/players/{player}/transactions",
    operation_id="transactionHistory",
    summary="A player's transaction history, newest first, paged by log position",
    auth="operator",
    scope=Scope.READ,
    response=TransactionHistory,
    errors=(
        "INVALID_PLAYER",
        "INVALID_REQUEST",
        "INVALID_POSITION",
        "UNKNOWN_CURRENCY",
        "VIEW_BEHIND",
        "VIEWS_UNAVAILABLE",
    ),
    params=(
        _PLAYER,
        Param("currency", "query", "Only this currency's wallet.", required=False),
        Param("before", "query", "Only lines before this log position.", False, _POSITION),
        Param(
            "limit",
            "query",
            f"Lines per page, 1..{MAX_PAGE} (default 50).",
            False,
            Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE)],
        ),
        Param("atLeast", "query", "Wait (up to 2 s) for the view to reach it.", False, _POSITION),
    ),
    tags=("cashier",),
)
