"""Player bets over REST (seed B steps 3-4): `bet.place` -> a hold in the ledger ->
`bet.accepted` or `bet.rejected`.

`POST /platform/v1/bets` takes the player token; the body's `sessionId` must be the
token's own, open session. The bet goes to the round of the session's provider (its last
launch), at a table the lobby shows the session's player (country, currency, KYC status;
else `LBRG-409 TABLE_CLOSED`, as its launch would be). The round must be open by the log's
order (known to the ledger, and not closed: the ledger refuses a bet on a
closed round, and its round book refunds one the log orders after the close); the stake must be
money in the session's currency. The hold is the ledger's `Debit`, exactly once per
player and `idempotencyKey`: a double click gets the first answer again and holds once,
even when the session, the table or the provider closed since (the ledger answers it from
its record); the same key with another payload is `LBRG-409 IDEMPOTENCY_CONFLICT`.

Refusals the bet itself earns answer `bet.rejected` with the HTTP status of its code;
authentication and malformed bodies answer the usual error body.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Awaitable
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from datetime import datetime

from aiohttp import web

from contracts import money
from contracts.api import Operation
from contracts.api import error_text
from contracts.player import BetAccepted
from contracts.player import BetPlace
from contracts.player import BetRejected
from contracts.wallet import Debit
from contracts.wallet import Refusal
from services.frontdoor.http import ApiError
from services.frontdoor.http import json_response
from services.frontdoor.http import read_json
from services.frontdoor.launch import PLATFORM_SESSIONS
from services.frontdoor.players import PLAYER
from services.frontdoor.players import PlayerClaims
from services.frontdoor.routes import RouteTable
from services.frontdoor.sessions import PlatformSession
from services.ledger.application import Ledger
from services.ledger.domain import TxRecord
from services.ledger.domain import tx_record_id
from services.ledger.errors import LedgerRefused
from services.ledger.protection import GuardState
from services.ledger.protection import Protection
from services.ledger.views import RoundStatus

REFUSALS: dict[Refusal, str] = {
    Refusal.INSUFFICIENT_FUNDS: "INSUFFICIENT_FUNDS",
    Refusal.BETTING_CLOSED: "BETTING_CLOSED",
    Refusal.ROUND_CLOSED: "BETTING_CLOSED",
    Refusal.DUPLICATE_CONFLICT: "IDEMPOTENCY_CONFLICT",
    Refusal.INVALID_AMOUNT: "INVALID_STAKE",
    Refusal.UNKNOWN_CURRENCY: "INVALID_STAKE",
    Refusal.CURRENCY_MISMATCH: "INVALID_STAKE",
    Refusal.UNKNOWN_WALLET: "WALLET_NOT_FOUND",
    Refusal.LIMIT_EXCEEDED: "LIMIT_EXCEEDED",
    Refusal.STAKE_OUT_OF_LIMITS: "INVALID_STAKE",
    Refusal.SELF_EXCLUDED: "SELF_EXCLUDED",
    Refusal.RETRY_EXHAUSTED: "RETRY",
}


class _Rejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _profile_refusal(
    state: GuardState, player: str, session: PlatformSession, named: str
) -> _Rejected | None:
    """A bet may name a profile the first rule matching the session allows (any, when no
    rule matches). A profile named but not the player's own (DEFAULT unless the operator
    assigned one) must also have limits in force: with none, the bet would be under no
    limits at all."""
    own = state.profile_of(player)
    profile = named or own
    allowed = state.allowed_profiles(session.country, session.currency, session.kyc_status)
    where = f"{session.country}, {session.currency}, KYC {session.kyc_status}"
    if allowed is not None and profile not in allowed:
        return _Rejected(
            "PROFILE_NOT_ALLOWED",
            f"profile {profile!r} is not allowed for {where}; allowed: {', '.join(allowed)}",
        )
    if profile != own and not state.in_force(profile):
        return _Rejected(
            "PROFILE_NOT_ALLOWED", f"profile {profile!r} has no limits in force; name another"
        )
    return None


class _Repeat:
    """Whether a bet repeats one the ledger answered: asked only when a check of the
    session, the profile, the provider or the table would refuse the bet, and at most once.
    A repeat skips those checks: the ledger answers it from its record of the first (the
    same answer, or IDEMPOTENCY_CONFLICT), since its stake stays held whatever closed."""

    def __init__(self, ask: Callable[[], Awaitable[bool]]) -> None:
        self._ask = ask
        self._known: bool | None = None

    async def unless(self, refusal: ApiError | _Rejected | None) -> None:
        """Raise `refusal`, if any, unless the bet is a repeat."""
        if refusal is None:
            return
        if self._known is None:
            self._known = await self._ask()
        if not self._known:
            raise refusal


def bet_ids(player: str, idempotency_key: str) -> tuple[str, str]:
    """The ledger's transaction id and the bet id of a player's canonical bet."""
    digest = hashlib.sha256(f"{player}\x1f{idempotency_key}".encode()).hexdigest()[:32]
    return f"lbrg:{digest}", f"bet_{digest}"


BetAnswer = BetAccepted | BetRejected


def rejected(body: BetPlace, code: str, message: str) -> BetRejected:
    return BetRejected(
        idempotency_key=body.idempotency_key,
        code=error_text(code),
        message=message,
        server_time=datetime.now(UTC),
        round_id=body.round_id,
    )


def status_of(answer: BetAnswer) -> int:
    return 200 if isinstance(answer, BetAccepted) else int(answer.code[5:8])


TakeBet = Callable[[PlayerClaims, BetPlace], Awaitable[BetAnswer]]
"""Take one `bet.place` from a verified player: `ApiError` for a session problem."""


TableRefusal = Callable[[str, str, PlatformSession], tuple[str, str] | None]
"""Why the catalogue refuses the session's bet at a provider's table now (code, message),
or None."""

LEDGER_WORKERS = 64
"""Threads for the bets' ledger calls, as the edge has (`services.edge.ports`): a hold
blocks its thread until the log has it fsynced, and holds sent together share one write
(`services.eventstore.coalesce`). On asyncio's default pool (a few threads, shared with
the settle publisher, the push hub and the cashier) bets queued for a thread longer than
their hold took (p50 165 ms queued against 53 ms held, 64 sockets saturating)."""


def setup_bets(
    app: web.Application,
    table: RouteTable,
    *,
    ledger: Callable[[], Ledger],
    protection: Callable[[], Protection],
    refusal: TableRefusal = lambda provider, table, seat: None,
) -> TakeBet:
    """Mount `POST /platform/v1/bets`; returns the bet taker (the socket uses it too).

    `refusal` is the catalogue's say (`services.frontdoor.catalog.Catalog.refusal`): a
    provider that is down, a table that takes no bets now. `protection` holds the limit
    profiles and the rules that allow them (the ledger checks the rest before the hold)."""
    executor = ThreadPoolExecutor(LEDGER_WORKERS, thread_name_prefix="frontdoor-bets")

    async def close_executor(app: web.Application) -> None:
        executor.shutdown(wait=False, cancel_futures=True)

    app.on_cleanup.append(close_executor)

    async def take(claims: PlayerClaims, body: BetPlace) -> BetAnswer:
        if body.session_id != claims.session_id:
            raise ApiError("NOT_YOUR_SESSION", "a player bets in its own session only")
        sessions = app[PLATFORM_SESSIONS]
        session = await sessions.get(body.session_id)
        if session is None or session.player != claims.player:
            raise ApiError("NOT_YOUR_SESSION", "a player bets in its own session only")
        state = protection().state
        profile = body.limits_profile or state.profile_of(claims.player)
        tx_id, _ = bet_ids(claims.player, body.idempotency_key)
        repeat = _Repeat(functools.partial(_answered, session.provider, tx_id))
        try:
            if not session.open(sessions.clock()):
                over = f"session {session.session_id} is over; relaunch"
                await repeat.unless(ApiError("SESSION_CLOSED", over))
            await repeat.unless(
                _profile_refusal(state, claims.player, session, body.limits_profile)
            )
            return await _hold(body, session, profile, repeat)
        except _Rejected as refusal:
            return rejected(body, refusal.code, refusal.message)

    async def place(request: web.Request) -> web.Response:
        body = await read_json(request, BetPlace)
        answer = await take(request[PLAYER], body)
        return json_response(answer, status_of(answer))

    async def _answered(provider: str, tx_id: str) -> bool:
        """Whether the ledger answered transaction `tx_id` before: its record holds the reply."""
        record_id = tx_record_id(provider, tx_id)
        loop = asyncio.get_running_loop()
        earlier = await loop.run_in_executor(executor, ledger().find, TxRecord, record_id)
        return earlier is not None and earlier.reply is not None

    async def _hold(
        body: BetPlace, session: PlatformSession, profile: str, repeat: _Repeat
    ) -> BetAccepted:
        player, currency, provider = session.player, session.currency, session.provider
        if body.stake.currency != currency:
            raise _Rejected(
                "INVALID_STAKE", f"the session plays in {currency}, not {body.stake.currency}"
            )
        try:
            stake = money.parse_amount(body.stake.amount, currency, allow_zero=False)
        except money.MoneyError as exc:
            raise _Rejected("INVALID_STAKE", str(exc)) from None
        if not body.selection:
            raise _Rejected("INVALID_STAKE", "a bet needs at least one selection")
        # Each part of a split stake is the ledger's to check (INVALID_AMOUNT), on every path.
        down = refusal(provider, "", session)
        await repeat.unless(_Rejected(*down) if down else None)
        book = ledger()
        loop = asyncio.get_running_loop()
        round_table, game = await _table_and_game(book, provider, body.round_id)
        closed = refusal(provider, round_table, session) if round_table else None
        await repeat.unless(_Rejected(*closed) if closed else None)
        # A closed round is the ledger's to refuse (BETTING_CLOSED), so that a repeat of a
        # bet taken before the close still gets its first answer.
        tx_id, bet_id = bet_ids(player, body.idempotency_key)
        debit = Debit(
            provider=provider,
            tx_id=tx_id,
            player=player,
            currency=currency,
            amount=stake,
            round_id=body.round_id,
            bet_id=bet_id,
            game=game,
            table=round_table,
            session_id=body.session_id,
            selections=body.selection,
            limits_profile=profile,
        )
        try:
            reply = await loop.run_in_executor(
                book.executor_for(debit) or executor, book.execute, debit
            )
        except LedgerRefused as refused:
            code = REFUSALS.get(refused.code)
            if code is None:
                raise
            raise _Rejected(code, refused.message) from None
        return BetAccepted(
            idempotency_key=body.idempotency_key,
            bet_id=bet_id,
            round_id=body.round_id,
            balance_hold=-stake,
            available=reply.available.quantize(money.quantum(currency)),
            effective_limits=protection().state.limits_for(
                provider, round_table, currency, profile
            ),
            server_time=datetime.now(UTC),
            transaction_id=reply.tx_ref,
            log_position=reply.log_position,
        )

    async def _table_and_game(book: Ledger, provider: str, round_id: str) -> tuple[str, str]:
        """The round's table and game: from what this process knows of the round when it
        knows both (its `BettingOpened` was saved or read here: no thread, no read), else
        from its aggregate. Whether betting is still open is the ledger's to say, in the
        hold, and the round book's, by log order."""
        known = book.known_rounds.get(provider, round_id)
        if known is not None and known.table and known.game:
            return known.table, known.game
        loop = asyncio.get_running_loop()
        state = await loop.run_in_executor(executor, book.round_header, provider, round_id)
        if state.status is RoundStatus.UNKNOWN:
            raise _Rejected(
                "ROUND_NOT_FOUND", f"round {round_id!r} of {provider!r} is not open for bets"
            )
        return state.table, state.game

    table.add(app, PLACE, place)
    return take


PLACE = Operation(
    method="POST",
    path="/platform/v1/bets",
    operation_id="placeBet",
    summary="bet.place: hold the stake for a bet in an open round; bet.accepted or bet.rejected",
    auth="player",
    request=BetPlace,
    response=BetAccepted,
    rejection=BetRejected,
    errors=(
        "SESSION_CLOSED",
        "INVALID_STAKE",
        "ROUND_NOT_FOUND",
        "BETTING_CLOSED",
        "INSUFFICIENT_FUNDS",
        "IDEMPOTENCY_CONFLICT",
        "WALLET_NOT_FOUND",
        "LIMIT_EXCEEDED",
        "TABLE_CLOSED",
        "PROVIDER_DOWN",
        "SELF_EXCLUDED",
        "PROFILE_NOT_ALLOWED",
        "RETRY",
    ),
    tags=("player",),
)
