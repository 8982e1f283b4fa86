"""SoftSwiss / BGaming casino protocol at `/wallet/softswiss/...` (wire: `contracts.dialects`).

Provider config: `secret_env`/`secret_file` holds the casino auth token that signs bodies.
Options: none required.

Semantics, per the public implementations in `reference/provider-dialects.md` unless
marked [INFER]:
- `X-REQUEST-SIGN` (hex HMAC-SHA256 of the raw body) is checked before anything is
  decoded; a bad or missing one is HTTP 403 `{"code": 403}` and nothing else happens.
- `/play` without actions (absent or empty) is a balance query. With actions, each is one
  ledger command, in order: `bet` -> Debit, `win` -> Credit of every open bet of the player
  in the round (`game_id`); `finished: true` closes the round with the request's last
  action [INFER: a finished request without actions moves nothing and closes nothing].
  A round finished on a bet has no win (SoftSwiss acceptance scenario C), nor one
  finished on a win rolled back before it came (absorbed, it pays nothing): after the
  actions, a zero credit `finished:<game_id>:<user_id>` settles the player's open bets
  in it as lost and closes it, once; a later rollback of such a bet still refunds it.
  The answer is the balance after the last action and one `{action_id, tx_id,
  processed_at}` per action; `tx_id` is the ledger's transaction reference.
- A repeated `action_id` gets its original `tx_id` and moves nothing; a request mixing
  repeated and new actions is handled per action; `balance` is always the balance now. A
  repeat with another amount is HTTP 400 code 400 [INFER: SoftSwiss names no code for it;
  the request contradicts an earlier one].
- `/rollback` actions undo `original_action_id`; `finished: true` ends the round after
  them with no win to come: the player's bets they left open are lost (a zero credit
  `finished-by-rollback:<game_id>:<user_id>`, once) and it closes. Pre-rollback: a
  rollback of an action not yet seen is accepted (200, empty `tx_id`) and remembered;
  when the original arrives it gets a `tx_id` but moves no money
  (`late_original="absorb"`). A rollback naming a rollback or another player's action
  -> HTTP 404 code 404; one naming itself (`original_action_id` = its `action_id`) ->
  HTTP 400 code 400, nothing moves.
- A win for a round where the player has no bet -> HTTP 404 code 404 [INFER]; a second win
  for a settled round -> HTTP 400 code 400 [INFER]. A zero win settles the round as lost.
- Refusals: not enough funds -> HTTP 412 code 100 with the balance; unknown player ->
  412 code 101; currency not configured for this provider -> 412 code 154; betting closed
  -> 412 code 405 [INFER]; limits (the profile's or player protection's) -> 412 code
  105; a self-excluded, timed-out or high-risk player -> 412 code 110.
- `jackpot_contribution` and `jackpot_win` are informational: they are parts of `amount`
  already [INFER], so they move nothing of their own.
- `session_id`, when the provider sends one, is checked on bets only (it must be a live,
  unexpired session of that player, else 412 code 101, in the request's currency, else
  412 code 154) [INFER]; wins and rollbacks never
  check it. A request whose every bet `action_id` the ledger answered before is a repeat
  whatever became of the session (expired, revoked, unknown; another player's excepted),
  answered per action as any repeat.
- Malformed JSON, wrong types, an empty `user_id`, `action_id` or `original_action_id`,
  negative or out-of-range amounts -> HTTP 400 code 400.
  Edge refusals: IP not allowed -> 403 code 403; rate limited -> 429 code 503 [INFER: the
  provider retries]; body too large -> 413 code 400; internal failure -> 503 code 500.
  Nothing answers 500.
- Ids follow `contracts.ids` (1-128 characters; no control, invisible formatting or
  surrogate characters): `user_id`, `action_id`, `original_action_id`, and `game_id`,
  `game`, `session_id` (may be empty); another -> HTTP 400 code 400, nothing moves.
- `/freespins` (a freespins issue's status): `played` with a `total_amount` pays it to the
  player as a ledger `Award` (cause PROMO) under `freespins:<issue_id>`, once per issue
  (a repeat moves nothing; another amount for the same issue -> 400 code 400). Any other
  status (`expired`, `canceled`...) or no win moves nothing. The answer is `{balance}`.
  The issue must name its player and currency (`user_id`, `currency`, as on `/play`)
  [INFER: livebridge keeps no freespins issues of its own; SoftSwiss's public
  implementations look the issue up]; without them -> 412 code 610.
- The protocol carries no timestamp or nonce; a replayed signed body is harmless because
  every action is idempotent on `action_id`.
- `balance` is the available balance (cash minus holds) in minor units.
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

import msgspec

from contracts import bodies
from contracts.dialects import softswiss as wire
from contracts.dialects.softswiss import Code
from contracts.money import MoneyError
from contracts.money import from_minor
from contracts.money import to_minor
from contracts.wallet import Award
from contracts.wallet import AwardCause
from contracts.wallet import Credit
from contracts.wallet import Debit
from contracts.wallet import Refusal
from contracts.wallet import Rollback
from contracts.wallet import WalletReply
from services.edge.adapters.base import DialectAdapter
from services.edge.adapters.base import EdgeRequest
from services.edge.adapters.base import EdgeResponse
from services.edge.adapters.base import Endpoint
from services.edge.adapters.base import Rejected
from services.edge.adapters.base import Rejection
from services.edge.adapters.base import TokenFault
from services.edge.adapters.base import TokenRefused
from services.edge.adapters.base import debit_session_id
from services.edge.ports import Refused

C = TypeVar("C")

_REJECTIONS: dict[Rejection, tuple[int, Code, str]] = {
    Rejection.IP_NOT_ALLOWED: (403, Code.FORBIDDEN, "caller address not allowed"),
    Rejection.RATE_LIMITED: (429, Code.UNAVAILABLE, "rate limit exceeded; retry later"),
    Rejection.BODY_TOO_LARGE: (413, Code.BAD_REQUEST, "request body too large"),
    Rejection.BAD_SIGNATURE: (403, Code.FORBIDDEN, "X-REQUEST-SIGN does not match the body"),
    Rejection.MALFORMED: (400, Code.BAD_REQUEST, "malformed request"),
    Rejection.INTERNAL: (503, Code.UNKNOWN, "temporary failure; retry"),
    Rejection.SOFT_DECLINE: (503, Code.UNAVAILABLE, "temporarily unavailable; retry"),
}
_REFUSALS: dict[Refusal, Code] = {
    Refusal.INVALID_AMOUNT: Code.BAD_REQUEST,
    Refusal.UNKNOWN_CURRENCY: Code.CURRENCY_NOT_ALLOWED,
    Refusal.CURRENCY_MISMATCH: Code.CURRENCY_NOT_ALLOWED,
    Refusal.UNKNOWN_WALLET: Code.PLAYER_INVALID,
    Refusal.INSUFFICIENT_FUNDS: Code.NOT_ENOUGH_FUNDS,
    Refusal.DUPLICATE_CONFLICT: Code.BAD_REQUEST,
    Refusal.BET_NOT_FOUND: Code.NOT_FOUND,
    Refusal.TRANSACTION_NOT_FOUND: Code.NOT_FOUND,
    Refusal.BET_ALREADY_SETTLED: Code.BAD_REQUEST,
    Refusal.BET_REFUNDED: Code.BAD_REQUEST,
    Refusal.TRANSACTION_ROLLED_BACK: Code.BAD_REQUEST,
    Refusal.BETTING_CLOSED: Code.GAME_NOT_AVAILABLE,
    Refusal.ROUND_CLOSED: Code.GAME_NOT_AVAILABLE,
    Refusal.LIMIT_EXCEEDED: Code.BET_LIMIT,
    Refusal.STAKE_OUT_OF_LIMITS: Code.BET_LIMIT,
    Refusal.SELF_EXCLUDED: Code.PLAYER_DISABLED,
    Refusal.RETRY_EXHAUSTED: Code.UNKNOWN,
}


class _Answer(Exception):
    """Stop here and answer with this code (and the balance when it is known)."""

    def __init__(self, code: Code, message: str, balance: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.balance = balance


def _error(code: Code, message: str, balance: int | None = None) -> EdgeResponse:
    body = wire.ErrorResponse(code=code, message=message, balance=balance)
    return EdgeResponse(wire.http_status(code), wire.encoder.encode(body))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Adapter(DialectAdapter):
    dialect = "softswiss"

    def endpoints(self) -> Sequence[Endpoint]:
        return (
            Endpoint("POST", "play", self.play),
            Endpoint("POST", "rollback", self.rollback),
            Endpoint("POST", "freespins", self.freespins),
        )

    def reject(self, rejection: Rejection, endpoint: Endpoint | None) -> EdgeResponse:
        status, code, message = _REJECTIONS[rejection]
        body = wire.ErrorResponse(code=code, message=message)
        return EdgeResponse(status, wire.encoder.encode(body))

    # -- plumbing -----------------------------------------------------------------------

    def _verify(self, request: EdgeRequest) -> None:
        secret = self.provider.text_secret()
        if not wire.verify(request.body, secret, request.header(wire.SIGNATURE_HEADER)):
            raise Rejected(Rejection.BAD_SIGNATURE)

    def _currency(self, currency: str) -> str:
        if currency not in self.provider.currencies:
            raise _Answer(
                Code.CURRENCY_NOT_ALLOWED,
                f"currency {currency!r} is not enabled for {self.provider.id}",
            )
        return currency

    def _amount(self, units: int, currency: str) -> Decimal:
        try:
            return from_minor(units, currency)
        except MoneyError as exc:
            raise _Answer(Code.BAD_REQUEST, str(exc)) from exc

    async def _balance_units(self, player: str, currency: str) -> int | None:
        available = await self.available(player, currency)
        return None if available is None else to_minor(available, currency)

    async def _execute(self, command: Debit | Credit | Rollback | Award) -> WalletReply:
        try:
            return await self.ledger.execute(command)
        except Refused as exc:
            raise await self._refusal(exc, command) from exc

    async def _refusal(self, exc: Refused, command: Debit | Credit | Rollback | Award) -> _Answer:
        """The SoftSwiss answer to the ledger's refusal of `command`."""
        code = _REFUSALS[exc.code]
        balance = None
        if code is not Code.UNKNOWN and exc.code is not Refusal.UNKNOWN_WALLET:
            balance = await self._balance_units(command.player, command.currency)
        return _Answer(code, exc.message or str(exc.code), balance)

    async def _check_session(
        self, token: str, player: str, currency: str, bets: Sequence[str]
    ) -> str:
        """The `session_id` the bets `bets` in `currency` with `token` are recorded under
        ("" without a token), once `debit_session` lets them through and the session
        is in `currency`."""
        if not token:
            return ""
        try:
            session = await self.debit_session(token, player, bets)
        except TokenRefused as refused:
            if refused.fault is TokenFault.EXPIRED:
                raise _Answer(Code.PLAYER_INVALID, f"the session of {player} has expired") from None
            raise _Answer(
                Code.PLAYER_INVALID, f"session is not a live session of {player}"
            ) from None
        if session is not None and session.currency != currency:
            raise _Answer(
                Code.CURRENCY_NOT_ALLOWED,
                f"session of {player} plays in {session.currency}, not {currency}",
            )
        return debit_session_id(session, token)

    async def _serve(
        self,
        request: EdgeRequest,
        decoder: msgspec.json.Decoder[C],
        path: str,
        handle: Callable[[C], Awaitable[EdgeResponse]],
    ) -> EdgeResponse:
        """Verify the signature, decode the path's request and `handle` it: a body that is
        not that request, and any `_Answer` on the way, become SoftSwiss errors."""
        self._verify(request)
        try:
            call = bodies.decode_with(decoder, request.body)
        except msgspec.DecodeError as exc:
            return _error(Code.BAD_REQUEST, f"not a /{path} request: {exc}")
        try:
            return await handle(call)
        except _Answer as answer:
            return _error(answer.code, answer.message, answer.balance)

    # -- endpoints ----------------------------------------------------------------------

    async def freespins(self, request: EdgeRequest) -> EdgeResponse:
        return await self._serve(
            request, wire.freespins_request_decoder, "freespins", self._freespins
        )

    async def _freespins(self, call: wire.FreespinsRequest) -> EdgeResponse:
        if not call.user_id or not call.currency:
            raise _Answer(
                Code.INVALID_FREESPINS_ISSUE,
                f"freespins issue {call.issue_id} names no player and currency",
            )
        currency = self._currency(call.currency)
        if call.status == "played" and call.total_amount:
            await self._execute(
                Award(
                    provider=self.provider.id,
                    tx_id=f"freespins:{call.issue_id}",
                    player=call.user_id,
                    currency=currency,
                    amount=self._amount(call.total_amount, currency),
                    cause=AwardCause.PROMO,
                    game=call.game,
                    reference=f"freespins issue {call.issue_id}",
                )
            )
        balance = await self._balance_units(call.user_id, currency)
        if balance is None:
            raise _Answer(Code.PLAYER_INVALID, f"player {call.user_id} has no wallet")
        return self._ok(wire.PlayResponse(balance=balance))

    async def play(self, request: EdgeRequest) -> EdgeResponse:
        return await self._serve(request, wire.play_request_decoder, "play", self._play)

    async def _play(self, call: wire.PlayRequest) -> EdgeResponse:
        currency = self._currency(call.currency)
        actions = call.actions or []
        if not actions:
            try:
                balance = await self.ledger.balance(call.user_id, currency)
            except Refused as exc:
                raise _Answer(_REFUSALS[exc.code], exc.message or str(exc.code)) from exc
            units = to_minor(balance.available, currency)
            return self._ok(wire.PlayResponse(balance=units, game_id=call.game_id or ""))
        if not call.game_id:
            raise _Answer(Code.BAD_REQUEST, "actions need a game_id (the round)")
        ids = [a.action_id for a in actions]
        if len(set(ids)) != len(ids) or not all(ids):
            raise _Answer(Code.BAD_REQUEST, "action_id must be present and unique per request")
        commands: list[Debit | Credit] = []
        recorded = ""
        bets = [a.action_id for a in actions if isinstance(a, wire.BetAction)]
        if bets:
            recorded = await self._check_session(call.session_id, call.user_id, currency, bets)
        lost = call.finished and isinstance(actions[-1], wire.BetAction)
        for index, action in enumerate(actions):
            closes = call.finished and not lost and index == len(actions) - 1
            amount = self._amount(action.amount, currency)
            bet = isinstance(action, wire.BetAction)
            move: type[Debit] | type[Credit] = Debit if bet else Credit
            commands.append(
                move(
                    provider=self.provider.id,
                    tx_id=action.action_id,
                    player=call.user_id,
                    currency=currency,
                    amount=amount,
                    round_id=call.game_id,
                    game=call.game,
                    session_id=recorded if bet else "",
                    closes_round=closes,
                )
            )
        transactions: list[wire.Transaction] = []
        reply: WalletReply | None = None
        for command in commands:
            reply = await self._execute(command)
            transactions.append(
                wire.Transaction(action_id=command.tx_id, tx_id=reply.tx_ref, processed_at=_now())
            )
        assert reply is not None
        if lost or (call.finished and reply.absorbed):
            # Finished on a bet, or on a win rolled back before it came.
            reply = await self._finish(call, currency, "finished") or reply
        return self._ok(
            wire.PlayResponse(
                balance=await self._balance_after(reply, call.user_id, currency),
                game_id=call.game_id,
                transactions=transactions,
            )
        )

    async def _finish(
        self, call: wire.PlayRequest | wire.RollbackRequest, currency: str, how: str
    ) -> WalletReply | None:
        """End the round `call` finished with no win to come: the player's bets still open
        in it are lost (a zero credit `<how>:<game_id>:<user_id>`, once), and it closes.
        None when the player has no wallet or no bet there to lose (as Pragmatic's
        `endRound`): nothing moved."""
        command = Credit(
            provider=self.provider.id,
            tx_id=f"{how}:{call.game_id}:{call.user_id}",
            player=call.user_id,
            currency=currency,
            amount=Decimal(0),
            round_id=call.game_id,
            game=call.game,
            closes_round=True,
        )
        try:
            return await self.ledger.execute(command)
        except Refused as exc:
            if exc.code in (Refusal.BET_NOT_FOUND, Refusal.UNKNOWN_WALLET):
                return None
            raise await self._refusal(exc, command) from exc

    async def _balance_after(self, reply: WalletReply, player: str, currency: str) -> int:
        """The balance now: a replayed reply carries the balance of its first answer."""
        if reply.replayed:
            units = await self._balance_units(player, currency)
            if units is not None:
                return units
        return to_minor(reply.available, currency)

    async def rollback(self, request: EdgeRequest) -> EdgeResponse:
        return await self._serve(request, wire.rollback_request_decoder, "rollback", self._rollback)

    async def _rollback(self, call: wire.RollbackRequest) -> EdgeResponse:
        currency = self._currency(call.currency)
        actions = call.actions
        ids = [a.action_id for a in actions]
        if not actions or len(set(ids)) != len(ids) or not all(ids):
            raise _Answer(Code.BAD_REQUEST, "rollback needs actions with unique action_id")
        for action in actions:
            if action.action_id == action.original_action_id:
                raise _Answer(
                    Code.BAD_REQUEST, f"rollback {action.action_id} names itself as its original"
                )
        transactions: list[wire.Transaction] = []
        balance: int | None = None
        for action in actions:
            command = Rollback(
                provider=self.provider.id,
                tx_id=action.action_id,
                player=call.user_id,
                currency=currency,
                ref_tx_id=action.original_action_id,
                round_id=call.game_id,
                late_original="absorb",
            )
            try:
                reply = await self.ledger.execute(command)
            except Refused as exc:
                code = _REFUSALS[exc.code]
                units = await self._balance_units(call.user_id, currency)
                raise _Answer(code, exc.message or str(exc.code), units) from exc
            else:
                balance = await self._balance_after(reply, call.user_id, currency)
                tx_id = "" if reply.absorbed else reply.tx_ref
            transactions.append(
                wire.Transaction(action_id=action.action_id, tx_id=tx_id, processed_at=_now())
            )
        if balance is None:
            raise _Answer(Code.PLAYER_INVALID, f"player {call.user_id} has no {currency} wallet")
        if call.finished and call.game_id:
            # Finished by a rollback: no win comes for the bets it left open.
            finished = await self._finish(call, currency, "finished-by-rollback")
            if finished is not None:
                balance = await self._balance_after(finished, call.user_id, currency)
        return self._ok(
            wire.PlayResponse(balance=balance, game_id=call.game_id, transactions=transactions)
        )

    @staticmethod
    def _ok(body: wire.PlayResponse) -> EdgeResponse:
        return EdgeResponse(200, wire.encoder.encode(body))
