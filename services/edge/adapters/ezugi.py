"""Ezugi seamless wallet at `/wallet/ezugi/...` (wire: `contracts.dialects.ezugi`).

Provider config: `secret_env`/`secret_file` holds the operator's Ezugi secret key;
`max_skew_s` (default 300) is the request-timestamp window. Options: `operator_id` (int,
required: calls for another operator are refused), `session_ttl_s` (idle time after
which the session token `/auth` hands out expires unused, sliding; default 1800).

Semantics, per the public implementations in `reference/provider-dialects.md` unless
marked [INFER]:
- The `hash` header (base64 HMAC-SHA256 of the raw body) is checked before anything is
  decoded; a bad or missing one is errorCode 1 "Invalid hash" and nothing else happens.
  Every answer is HTTP 200 with `errorCode`, except an internal failure or a rate limit,
  which is HTTP 503 with errorCode 1 so that Ezugi's retry logic resends [INFER].
- `/auth` takes the launch token (issued by the platform) and answers with a new session
  token for the same player; the launch token stays valid until it expires, so a repeated
  `/auth` works [INFER]. Unknown or expired token -> 6.
- `/debit` needs a live session token of that `uid`: unknown, revoked, another player's or
  expired -> 6; but a debit whose `transactionId` the ledger answered before is a repeat
  whatever became of its token (another player's excepted), answered as any repeat;
  `/credit` and `/rollback` never check the token (Ezugi sends them after the session may
  have ended).
- Ids: a debit is its `transactionId`; a credit is its own `transactionId` settling the
  debit `debitTransactionId`; a rollback repeats the debit's `transactionId`, so the ledger
  knows it as `rollback:<transactionId>`.
- Repeats: a debit, credit or rollback already processed gets errorCode 0 "Transaction
  already processed" with the current balance; the same id with another amount ->
  errorCode 1 [INFER].
- Credit for an unknown debit -> 9. Credit for a rolled-back debit -> 0 "Debit was rolled
  back" with the balance, nothing credited. A second credit for a settled debit -> 1.
  A zero credit settles the bet as lost; `isEndRound` closes the round. A credit with
  `returnReason` 1 or 2 (cancelled bet or round) pays what it says like any credit
  [INFER: Ezugi sends the stake back that way; the money is right, the ledger sees a push].
- Rollback before its debit -> 9 "Debit not found, rollback aborted", and the rollback is
  remembered: the late debit is refused with 1 "Debit after rollback"
  (`late_original="refuse"`). Rollback of a settled debit -> 1, nothing moves
  (`only_open`) [INFER: Ezugi rolls back debits it could not complete, never settled ones].
- Refusals: insufficient funds -> 3; unknown player -> 7; currency not configured or not
  the player's -> 1; betting closed or limits -> 1 [INFER: Ezugi has no closer code]; a
  self-excluded, timed-out or high-risk player -> 8 "User blocked".
- Malformed JSON, wrong types, a wrong `operatorId`, an empty `uid`, `transactionId`,
  `debitTransactionId` or `roundId`, negative, NaN or over-precise amounts -> 1 (an empty
  `debitTransactionId` must never read as "every open bet of the round"). An amount sent
  as a JSON string must be plain decimal notation (`contracts.money.parse_amount`: no
  `1_0`, ` 1`, `+1`, `1e2` or non-ASCII digits).
- Ids follow `contracts.ids` (1-128 characters; no control, invisible formatting or
  surrogate characters): `uid`, `transactionId`, `debitTransactionId`, `roundId` (or a
  number below 10**18), `gameId` and `tableId` (a number or an id), `seatId`; another
  -> 1, nothing moves.
- Replays: Ezugi signs a `timestamp` (ms) into every request and sends no nonce. `/auth`
  is not idempotent (each one mints a session), so a captured signed `/auth` replayed
  would mint a fresh session every time: `/auth` and `/debit` whose `timestamp` is more
  than `max_skew_s` (default 300 s, either way) from our clock, or missing, are refused
  with 1 "Request timestamp outside the allowed window" before anything else is looked
  at [INFER: 300 s absorbs clock drift and Ezugi's prompt retries; the reference names
  no window]. Inside the window a replayed `/auth` still mints a session (Ezugi sends
  no nonce to refuse it by); the window bounds that to minutes after Ezugi signed it.
  Credits and rollbacks are never refused for age [INFER]: Ezugi re-sends them until
  they succeed, and each is idempotent on its transaction id, so a replay moves nothing.
- `balance` is the available balance (cash minus holds), a JSON number in major units.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from decimal import Decimal
from typing import TypeVar

import msgspec

from contracts import bodies
from contracts.dialects import ezugi as wire
from contracts.dialects.ezugi import Code
from contracts.money import MoneyError
from contracts.money import check_amount
from contracts.wallet import Credit
from contracts.wallet import Debit
from contracts.wallet import Refusal
from contracts.wallet import Rollback
from contracts.wallet import WalletReply
from services.edge.adapters.base import DialectAdapter
from services.edge.adapters.base import EdgeContext
from services.edge.adapters.base import EdgeRequest
from services.edge.adapters.base import EdgeResponse
from services.edge.adapters.base import Endpoint
from services.edge.adapters.base import Rejected
from services.edge.adapters.base import Rejection
from services.edge.adapters.base import TokenFault
from services.edge.adapters.base import TokenRefused
from services.edge.adapters.base import debit_session_id
from services.edge.amounts import wire_amount
from services.edge.config import ProviderConfig
from services.edge.ports import Refused
from services.edge.sessions import PROVIDER_IDLE_S
from services.edge.sessions import SessionEnded

_REJECTIONS: dict[Rejection, tuple[int, str]] = {
    Rejection.IP_NOT_ALLOWED: (200, "Caller address not allowed"),
    Rejection.RATE_LIMITED: (503, "Rate limit exceeded, retry later"),
    Rejection.BODY_TOO_LARGE: (200, "Request body too large"),
    Rejection.BAD_SIGNATURE: (200, "Invalid hash"),
    Rejection.MALFORMED: (200, "Malformed request"),
    Rejection.INTERNAL: (503, "Temporary failure, retry"),
    Rejection.SOFT_DECLINE: (503, "Temporarily unavailable, retry"),
}
_REFUSALS: dict[Refusal, Code] = {
    Refusal.INVALID_AMOUNT: Code.GENERAL_ERROR,
    Refusal.UNKNOWN_CURRENCY: Code.GENERAL_ERROR,
    Refusal.CURRENCY_MISMATCH: Code.GENERAL_ERROR,
    Refusal.UNKNOWN_WALLET: Code.USER_NOT_FOUND,
    Refusal.INSUFFICIENT_FUNDS: Code.INSUFFICIENT_FUNDS,
    Refusal.DUPLICATE_CONFLICT: Code.GENERAL_ERROR,
    Refusal.BET_NOT_FOUND: Code.TRANSACTION_NOT_FOUND,
    Refusal.TRANSACTION_NOT_FOUND: Code.TRANSACTION_NOT_FOUND,
    Refusal.BET_ALREADY_SETTLED: Code.GENERAL_ERROR,
    Refusal.BET_REFUNDED: Code.GENERAL_ERROR,
    Refusal.TRANSACTION_ROLLED_BACK: Code.GENERAL_ERROR,
    Refusal.BETTING_CLOSED: Code.GENERAL_ERROR,
    Refusal.ROUND_CLOSED: Code.GENERAL_ERROR,
    Refusal.LIMIT_EXCEEDED: Code.GENERAL_ERROR,
    Refusal.STAKE_OUT_OF_LIMITS: Code.GENERAL_ERROR,
    Refusal.SELF_EXCLUDED: Code.USER_BLOCKED,
    Refusal.RETRY_EXHAUSTED: Code.GENERAL_ERROR,
}
_DESCRIPTIONS: dict[Code, str] = {
    Code.SUCCESS: "OK",
    Code.GENERAL_ERROR: "General error",
    Code.INSUFFICIENT_FUNDS: "Insufficient funds",
    Code.TOKEN_NOT_FOUND: "Token not found",
    Code.USER_NOT_FOUND: "User not found",
    Code.USER_BLOCKED: "User blocked",
    Code.TRANSACTION_NOT_FOUND: "Transaction not found",
    Code.TRANSACTION_TIMED_OUT: "Transaction timed out",
}

_REFUSAL_TEXT: dict[Refusal, str] = {
    Refusal.DUPLICATE_CONFLICT: "Transaction already processed with other data",
    Refusal.BET_NOT_FOUND: "Debit transaction not found",
    Refusal.BET_ALREADY_SETTLED: "Debit already settled",
    Refusal.BET_REFUNDED: "Debit already settled",
    Refusal.BETTING_CLOSED: "Betting is closed for this round",
    Refusal.ROUND_CLOSED: "Round already closed",
    Refusal.LIMIT_EXCEEDED: "Player limit exceeded",
    Refusal.STAKE_OUT_OF_LIMITS: "Bet out of the player's limits",
    Refusal.SELF_EXCLUDED: "User blocked",
    Refusal.CURRENCY_MISMATCH: "Currency is not the player's",
    Refusal.RETRY_EXHAUSTED: "Temporary failure, retry",
}

T = TypeVar("T")
C = TypeVar("C", wire.DebitRequest, wire.CreditRequest, wire.RollbackRequest)
Call = wire.DebitRequest | wire.CreditRequest | wire.RollbackRequest


class _Answer(Exception):
    """Stop here and answer with this errorCode (HTTP 503 when `retry`)."""

    def __init__(
        self,
        code: Code,
        description: str = "",
        balance: Decimal | None = None,
        *,
        retry: bool = False,
    ) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description or _DESCRIPTIONS[code]
        self.balance = balance
        self.retry = retry


def _ms() -> int:
    return int(time.time() * 1000)


def rollback_tx_id(debit_transaction_id: str) -> str:
    """The ledger's id for the rollback of a debit (Ezugi reuses the debit's id)."""
    return f"rollback:{debit_transaction_id}"


class Adapter(DialectAdapter):
    dialect = "ezugi"
    timestamped = True

    def __init__(self, provider: ProviderConfig, context: EdgeContext) -> None:
        super().__init__(provider, context)
        operator = provider.option("operator_id", 0)
        if isinstance(operator, bool) or not isinstance(operator, int) or operator <= 0:
            raise ValueError(
                f"provider {provider.id!r}: Ezugi needs options.operator_id (a positive integer)"
            )
        self.operator_id = operator
        self.session_ttl_s = provider.seconds("session_ttl_s", PROVIDER_IDLE_S)

    def endpoints(self) -> Sequence[Endpoint]:
        return (
            Endpoint("POST", "auth", self.auth),
            Endpoint("POST", "debit", self.debit),
            Endpoint("POST", "credit", self.credit),
            Endpoint("POST", "rollback", self.rollback),
        )

    def reject(self, rejection: Rejection, endpoint: Endpoint | None) -> EdgeResponse:
        status, description = _REJECTIONS[rejection]
        body = wire.TransactionResponse(
            operatorId=self.operator_id,
            errorCode=Code.GENERAL_ERROR,
            errorDescription=description,
            timestamp=_ms(),
        )
        return EdgeResponse(status, wire.encoder.encode(body))

    # -- plumbing -----------------------------------------------------------------------

    def _decode(self, request: EdgeRequest, decoder: msgspec.json.Decoder[T]) -> T:
        if not wire.verify(
            request.body, self.provider.text_secret(), request.header(wire.SIGNATURE_HEADER)
        ):
            raise Rejected(Rejection.BAD_SIGNATURE)
        try:
            return bodies.decode_with(decoder, request.body)
        except msgspec.DecodeError as exc:
            raise Rejected(Rejection.MALFORMED, str(exc)) from exc

    def _check_operator(self, operator_id: int) -> None:
        if operator_id != self.operator_id:
            raise _Answer(Code.GENERAL_ERROR, f"operatorId {operator_id} is not this operator")

    def _currency(self, currency: str) -> str:
        if currency not in self.provider.currencies:
            raise _Answer(Code.GENERAL_ERROR, f"currency {currency!r} is not enabled")
        return currency

    @staticmethod
    def _amount(value: msgspec.Raw, currency: str) -> Decimal:
        try:
            return wire_amount(value, currency)
        except (MoneyError, ArithmeticError) as exc:  # 1e400 overflows quantize
            raise _Answer(Code.GENERAL_ERROR, f"invalid amount: {exc}") from exc

    @staticmethod
    def _refusal(exc: Refused, balance: Decimal | None) -> _Answer:
        retry = exc.code is Refusal.RETRY_EXHAUSTED
        code = _REFUSALS[exc.code]
        text = _REFUSAL_TEXT.get(exc.code, _DESCRIPTIONS[code])
        return _Answer(code, text, balance, retry=retry)

    async def _execute(
        self, command: Debit | Credit | Rollback, answers: Mapping[Refusal, tuple[Code, str]]
    ) -> WalletReply:
        """The ledger's reply to `command`; a refusal is raised as an `_Answer` with the
        balance now: the call's own answer to it in `answers`, else the general one."""
        try:
            return await self.ledger.execute(command)
        except Refused as exc:
            balance = await self.available(command.player, command.currency)
            if exc.code in answers:
                code, description = answers[exc.code]
                raise _Answer(code, description, balance) from exc
            raise self._refusal(exc, balance) from exc

    def _answer(self, call: Call, answer: _Answer) -> EdgeResponse:
        body = wire.TransactionResponse(
            operatorId=self.operator_id,
            errorCode=answer.code,
            errorDescription=answer.description,
            timestamp=_ms(),
            uid=call.uid,
            token=call.token,
            transactionId=call.transactionId,
            roundId=call.roundId,
            balance=self._quantize(answer.balance, call.currency),
            currency=call.currency,
        )
        return EdgeResponse(503 if answer.retry else 200, wire.encoder.encode(body))

    @staticmethod
    def _quantize(amount: Decimal | None, currency: str) -> Decimal | None:
        if amount is None:
            return None
        try:
            return check_amount(amount, currency) if amount >= 0 else amount
        except MoneyError:
            return amount

    async def _success(self, call: Call, reply: WalletReply) -> EdgeResponse:
        if not reply.replayed:
            return self._answer(call, _Answer(Code.SUCCESS, "OK", reply.available))
        # A repeat reports the balance now, not the one of its first answer.
        balance = await self.available(reply.player, reply.currency)
        balance = reply.available if balance is None else balance
        return self._answer(call, _Answer(Code.SUCCESS, "Transaction already processed", balance))

    async def _serve(
        self,
        request: EdgeRequest,
        decoder: msgspec.json.Decoder[C],
        handle: Callable[[C, str], Awaitable[WalletReply]],
        *,
        windowed: bool = False,
    ) -> EdgeResponse:
        """Decode a money call, check its timestamp (when `windowed`), operator and
        currency, and `handle` it in that currency: its reply, or the `_Answer` given on
        the way, in Ezugi's form."""
        call = self._decode(request, decoder)
        try:
            if windowed and not self.fresh(call.timestamp):
                raise _Answer(Code.GENERAL_ERROR, _STALE)
            self._check_operator(call.operatorId)
            return await self._success(call, await handle(call, self._currency(call.currency)))
        except _Answer as answer:
            return self._answer(call, answer)

    # -- endpoints ----------------------------------------------------------------------

    async def auth(self, request: EdgeRequest) -> EdgeResponse:
        call = self._decode(request, wire.auth_request_decoder)

        def fail(code: Code, description: str = "") -> EdgeResponse:
            body = wire.AuthResponse(
                operatorId=self.operator_id,
                errorCode=code,
                errorDescription=description or _DESCRIPTIONS[code],
                timestamp=_ms(),
                playerTokenAtLaunch=call.token,
            )
            return EdgeResponse(200, wire.encoder.encode(body))

        if not self.fresh(call.timestamp):
            return fail(Code.GENERAL_ERROR, _STALE)
        if call.operatorId != self.operator_id:
            return fail(Code.GENERAL_ERROR, f"operatorId {call.operatorId} is not this operator")
        launch = await self.sessions.get(self.provider.id, call.token) if call.token else None
        if launch is None:
            return fail(Code.TOKEN_NOT_FOUND)
        if launch.expired(self.context.clock()):
            return fail(Code.TOKEN_NOT_FOUND, "Token expired")
        try:
            balance = (await self.ledger.balance(launch.player, launch.currency)).available
        except Refused as exc:
            return fail(_REFUSALS[exc.code])
        try:
            session = await self.sessions.issue(
                self.provider.id,
                launch.player,
                launch.currency,
                ttl_s=self.session_ttl_s,
                game=launch.game,
                idle_s=self.session_ttl_s,
                platform_session=launch.platform_session,
            )
        except SessionEnded:  # the platform closed the session as the table opened
            return fail(Code.TOKEN_NOT_FOUND, "Session closed")
        body = wire.AuthResponse(
            operatorId=self.operator_id,
            errorCode=Code.SUCCESS,
            errorDescription="OK",
            timestamp=_ms(),
            uid=launch.player,
            nickName=launch.player,
            token=session.token,
            playerTokenAtLaunch=call.token,
            balance=self._quantize(balance, launch.currency),
            currency=launch.currency,
            language="en",
            VIP="0",
        )
        return EdgeResponse(200, wire.encoder.encode(body))

    async def debit(self, request: EdgeRequest) -> EdgeResponse:
        return await self._serve(request, wire.debit_request_decoder, self._debit, windowed=True)

    async def _debit(self, call: wire.DebitRequest, currency: str) -> WalletReply:
        amount = self._amount(call.debitAmount, currency)
        try:
            session = await self.debit_session(call.token, call.uid, (call.transactionId,))
        except TokenRefused as refused:
            if refused.fault is TokenFault.EXPIRED:
                raise _Answer(Code.TOKEN_NOT_FOUND, "Token expired") from None
            raise _Answer(Code.TOKEN_NOT_FOUND, "Token not found or not this player's") from None
        if session is not None and session.currency != currency:
            raise _Answer(Code.GENERAL_ERROR, f"the player plays in {session.currency}")
        command = Debit(
            provider=self.provider.id,
            tx_id=call.transactionId,
            player=call.uid,
            currency=currency,
            amount=amount,
            round_id=str(call.roundId),
            game=str(call.gameId),
            table=str(call.tableId),
            session_id=debit_session_id(session, call.token),
        )
        return await self._execute(command, _DEBIT_REFUSALS)

    async def credit(self, request: EdgeRequest) -> EdgeResponse:
        return await self._serve(request, wire.credit_request_decoder, self._credit)

    async def _credit(self, call: wire.CreditRequest, currency: str) -> WalletReply:
        command = Credit(
            provider=self.provider.id,
            tx_id=call.transactionId,
            player=call.uid,
            currency=currency,
            amount=self._amount(call.creditAmount, currency),
            round_id=str(call.roundId),
            bet_id=call.debitTransactionId,
            game=str(call.gameId),
            closes_round=call.isEndRound,
        )
        return await self._execute(command, _CREDIT_REFUSALS)

    async def rollback(self, request: EdgeRequest) -> EdgeResponse:
        return await self._serve(request, wire.rollback_request_decoder, self._rollback)

    async def _rollback(self, call: wire.RollbackRequest, currency: str) -> WalletReply:
        command = Rollback(
            provider=self.provider.id,
            tx_id=rollback_tx_id(call.transactionId),
            player=call.uid,
            currency=currency,
            ref_tx_id=call.transactionId,
            round_id=str(call.roundId),
            amount=self._amount(call.rollbackAmount, currency),
            late_original="refuse",
            only_open=True,
        )
        reply = await self._execute(command, _ROLLBACK_REFUSALS)
        if reply.absorbed:
            raise _Answer(Code.TRANSACTION_NOT_FOUND, _NO_DEBIT, reply.available)
        return reply


_ROLLED_BACK = "Debit was rolled back; nothing credited"
_STALE = "Request timestamp outside the allowed window"
_NO_DEBIT = "Debit for this transactionId was not found, rollback aborted"

_DEBIT_REFUSALS: dict[Refusal, tuple[Code, str]] = {
    Refusal.TRANSACTION_ROLLED_BACK: (Code.GENERAL_ERROR, "Debit after rollback"),
}
_CREDIT_REFUSALS: dict[Refusal, tuple[Code, str]] = {
    # A credit whose debit was rolled back (refunded) is answered 0 with the balance,
    # not as a settled debit (1).
    Refusal.TRANSACTION_ROLLED_BACK: (Code.SUCCESS, _ROLLED_BACK),
    Refusal.BET_REFUNDED: (Code.SUCCESS, _ROLLED_BACK),
}
_ROLLBACK_REFUSALS: dict[Refusal, tuple[Code, str]] = {
    Refusal.TRANSACTION_NOT_FOUND: (Code.TRANSACTION_NOT_FOUND, _NO_DEBIT),
}
