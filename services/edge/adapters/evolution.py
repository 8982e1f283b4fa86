"""Evolution One Wallet at `/wallet/evolution/...` (wire format: `contracts.dialects.evolution`).

Provider config: `secret_env`/`secret_file` holds the `authToken` Evolution sends in the
query string. Options: `session_ttl_s` (default 1800) for sids issued by `/check`: the idle time
after which an unused sid expires (sliding);
`test_sid = true` mounts `/sid`, which issues a sid for any user (Evolution's test tool
needs it; never enable it in production); a value other than true or false is refused at
start.

Semantics, following Evolution's integration test tool unless marked [INFER]:
- `authToken` is compared (constant time) before the body is decoded; a wrong or missing
  one is `INVALID_TOKEN_ID`.
- `/check` takes the launch sid and answers a new one; the old sid stops working
  (`INVALID_SID` afterwards). A sid of another user -> `INVALID_PARAMETER`.
- `/balance` and `/debit` need a live sid of that user: a live sid of another user ->
  `INVALID_PARAMETER`, any other (expired, rotated by `/check`, ended with its platform
  session, unknown) -> `INVALID_SID`; and the session's currency (`INVALID_PARAMETER`
  otherwise). A debit whose `transaction.id` the ledger answered before is a repeat
  whatever became of its sid (`BET_ALREADY_EXIST`, nothing moves), unless the sid is
  another user's. `/credit` and `/cancel` skip the sid: a bet must always be settleable.
- Debit: `transaction.id` is the ledger transaction, `refId` the bet, `game.id` the
  round. A repeated debit, same payload or not -> `BET_ALREADY_EXIST`, nothing moves.
- Credit: settles the bet `refId` (zero credits settle it lost). Repeated, or for a
  bet already settled or cancelled -> `BET_ALREADY_SETTLED`; for a bet never debited ->
  `BET_DOES_NOT_EXIST`. A credit or cancel for a `userId` with no wallet here ->
  `INVALID_PARAMETER`, nothing moves and nothing is remembered, whatever transaction id
  it names (the tool's CHECK_USING_INVALID_USER_ID).
- Cancel: the cancel repeats its debit's `transaction.id`, so it undoes that debit; one
  under an id never debited cancels the player's bet `refId` instead, if there is one
  (the tool's DEBIT_CANCEL_BET_ALREADY_SETTLED_UNEXPECTED: a second cancel under a new
  id -> `BET_ALREADY_SETTLED`).
  Before any debit -> `BET_DOES_NOT_EXIST`, and the late debit is then refused with
  `FINAL_ERROR_ACTION_FAILED`; after a credit, or repeated -> `BET_ALREADY_SETTLED`, nothing
  moves.
- Player protection and limit profiles (`services.ledger.protection`): a self-excluded,
  timed-out or high-risk player -> `ACCOUNT_LOCKED`; a stake outside the profile's
  limits, or past a round, loss or stake limit -> `CASINO_LIMIT_EXCEEDED_STAKE`.
- A bet refused because the round's betting window closed -> `FINAL_ERROR_ACTION_FAILED`
  [INFER: Evolution must not retry it].
- Amounts: JSON numbers with at most 6 decimals and no more than the currency allows;
  negative, non-numeric or over-precise -> `INVALID_PARAMETER`, nothing moves. An amount
  sent as a JSON string must be plain decimal notation (`contracts.money.parse_amount`:
  no `1_0`, ` 1`, `+1`, `1e2` or non-ASCII digits).
- Ids follow `contracts.ids` (1-128 characters; no control, invisible formatting or
  surrogate characters): `transaction.id`, `transaction.refId`, `game.id` and `userId`
  must be ids, `game.type` and the table id may be empty; another -> `INVALID_PARAMETER`,
  nothing moves.
- Answers are HTTP 200 with `balance` (available cash) and `bonus` 0 [INFER: no bonus
  wallet]; edge refusals: IP not allowed -> 403 `INVALID_TOKEN_ID`, rate limited -> 429
  `TEMPORARY_ERROR`, body too large -> 413 `INVALID_PARAMETER`, malformed JSON ->
  `INVALID_PARAMETER`, internal failure -> `UNKNOWN_ERROR`.
- `promo_payout`: pays `promoTransaction.amount` to the player as a ledger `Award`
  under `promoTransaction.id` (cause JACKPOT for `JackpotWin`, PROMO for every other
  type, unknown ones included), in the round `game.id` when a game is named. No sid is
  checked (a free round's payout may come after the session). A repeat, same payload ->
  `BET_ALREADY_SETTLED` with today's balance (the tool accepts it, or `OK`); another
  payload under the same id -> `BET_ALREADY_SETTLED`, nothing moves; an unknown player
  or currency, a negative or over-precise amount -> `INVALID_PARAMETER`.
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from decimal import Decimal
from typing import TypeVar

import msgspec

from contracts import bodies
from contracts.dialects import evolution as wire
from contracts.dialects.evolution import Status
from contracts.money import MoneyError
from contracts.wallet import Award
from contracts.wallet import AwardCause
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
from services.edge.amounts import in_currency
from services.edge.amounts import wire_amount
from services.edge.config import ProviderConfig
from services.edge.ports import Refused
from services.edge.security import same_secret
from services.edge.sessions import PROVIDER_IDLE_S
from services.edge.sessions import Session
from services.edge.sessions import SessionEnded
from services.edge.sessions import recorded_session
from services.edge.sessions import rotate
from services.edge.sessions import session_ref

S = TypeVar("S")
M = TypeVar("M", Debit, Credit)
C = TypeVar("C", wire.BalanceRequest, wire.TransactionRequest, wire.PromoPayoutRequest)

_ENCODER = msgspec.json.Encoder(decimal_format="number")
_REJECTIONS: dict[Rejection, tuple[int, Status]] = {
    Rejection.IP_NOT_ALLOWED: (403, Status.INVALID_TOKEN_ID),
    Rejection.RATE_LIMITED: (429, Status.TEMPORARY_ERROR),
    Rejection.BODY_TOO_LARGE: (413, Status.INVALID_PARAMETER),
    Rejection.BAD_SIGNATURE: (200, Status.INVALID_TOKEN_ID),
    Rejection.MALFORMED: (200, Status.INVALID_PARAMETER),
    Rejection.INTERNAL: (200, Status.UNKNOWN_ERROR),
    Rejection.SOFT_DECLINE: (200, Status.TEMPORARY_ERROR),
}
_COMMON: dict[Refusal, Status] = {
    Refusal.INVALID_AMOUNT: Status.INVALID_PARAMETER,
    Refusal.UNKNOWN_CURRENCY: Status.INVALID_PARAMETER,
    Refusal.CURRENCY_MISMATCH: Status.INVALID_PARAMETER,
    Refusal.UNKNOWN_WALLET: Status.INVALID_PARAMETER,
    Refusal.INSUFFICIENT_FUNDS: Status.INSUFFICIENT_FUNDS,
    Refusal.BET_NOT_FOUND: Status.BET_DOES_NOT_EXIST,
    Refusal.TRANSACTION_NOT_FOUND: Status.BET_DOES_NOT_EXIST,
    Refusal.BET_ALREADY_SETTLED: Status.BET_ALREADY_SETTLED,
    Refusal.BET_REFUNDED: Status.BET_ALREADY_SETTLED,
    Refusal.BETTING_CLOSED: Status.FINAL_ERROR_ACTION_FAILED,
    Refusal.ROUND_CLOSED: Status.FINAL_ERROR_ACTION_FAILED,
    Refusal.LIMIT_EXCEEDED: Status.CASINO_LIMIT_EXCEEDED_STAKE,
    Refusal.STAKE_OUT_OF_LIMITS: Status.CASINO_LIMIT_EXCEEDED_STAKE,
    Refusal.SELF_EXCLUDED: Status.ACCOUNT_LOCKED,
    Refusal.RETRY_EXHAUSTED: Status.TEMPORARY_ERROR,
}
_SETTLING: dict[Refusal, Status] = {
    **_COMMON,
    Refusal.DUPLICATE_CONFLICT: Status.BET_ALREADY_SETTLED,
    Refusal.TRANSACTION_ROLLED_BACK: Status.BET_ALREADY_SETTLED,
}
"""A credit and a cancel both settle a bet, and a promo payout is paid once like them: all
are refused alike."""
_BY_KIND: dict[str, dict[Refusal, Status]] = {
    "debit": {
        **_COMMON,
        Refusal.DUPLICATE_CONFLICT: Status.BET_ALREADY_EXIST,
        Refusal.TRANSACTION_ROLLED_BACK: Status.FINAL_ERROR_ACTION_FAILED,
    },
    "credit": _SETTLING,
    "cancel": _SETTLING,
    "promo": _SETTLING,
}
_REPLAYED = {
    "debit": Status.BET_ALREADY_EXIST,
    "credit": Status.BET_ALREADY_SETTLED,
    "promo": Status.BET_ALREADY_SETTLED,
}
_JACKPOT_TYPES = frozenset({"JackpotWin"})


class _Answer(Exception):
    def __init__(self, status: Status) -> None:
        super().__init__(status)
        self.status = status


class _Echo(msgspec.Struct, frozen=True):
    uuid: str = ""


class Adapter(DialectAdapter):
    dialect = "evolution"

    def __init__(self, provider: ProviderConfig, context: EdgeContext) -> None:
        super().__init__(provider, context)
        self.ttl = provider.seconds("session_ttl_s", PROVIDER_IDLE_S)
        """The idle time of the sids `/check` issues: `options.session_ttl_s`."""
        self.test_sid = provider.flag("test_sid")
        """Whether `/sid` is served (`options.test_sid`; test environments only)."""

    def endpoints(self) -> Sequence[Endpoint]:
        endpoints = [
            Endpoint("POST", "check", self.check),
            Endpoint("POST", "balance", self.balance),
            Endpoint("POST", "debit", self.debit),
            Endpoint("POST", "credit", self.credit),
            Endpoint("POST", "cancel", self.cancel),
            Endpoint("POST", "promo_payout", self.promo_payout),
        ]
        if self.test_sid:
            endpoints.append(Endpoint("POST", "sid", self.sid))
        return endpoints

    def reject(self, rejection: Rejection, endpoint: Endpoint | None) -> EdgeResponse:
        status, code = _REJECTIONS[rejection]
        return EdgeResponse(status, _ENCODER.encode(wire.Response(status=code)))

    # -- plumbing -------------------------------------------------------------------------

    def _decode(self, request: EdgeRequest, cls: type[S]) -> S:
        token = request.query.get(wire.AUTH_QUERY, "")
        if not same_secret(token, self.provider.text_secret()):
            raise Rejected(Rejection.BAD_SIGNATURE)
        try:
            return bodies.decode(request.body, cls)
        except msgspec.DecodeError as exc:
            echo = _echo_uuid(request.body)
            raise _Failed(self._send(Status.INVALID_PARAMETER, echo, None)) from exc

    async def _serve(
        self, request: EdgeRequest, cls: type[C], handle: Callable[[C], Awaitable[EdgeResponse]]
    ) -> EdgeResponse:
        """Decode the call and `handle` it; a check it fails is answered with its status."""
        try:
            call = self._decode(request, cls)
        except _Failed as failed:
            return failed.response
        try:
            return await handle(call)
        except _Answer as answer:
            return self._send(answer.status, call.uuid, None)

    def _send(self, status: Status, uuid: str, balance: Decimal | None) -> EdgeResponse:
        body = wire.Response(
            status=status,
            balance=balance,
            bonus=Decimal(0) if balance is not None else None,
            uuid=uuid,
        )
        return EdgeResponse(200, _ENCODER.encode(body))

    async def _live_session(self, sid: str, user: str) -> Session:
        """`sid`'s session, live and `user`'s."""
        session = await self._sid_session(sid, user, ())
        if session is None:  # only a repeated debit goes without one
            raise _Answer(Status.INVALID_SID)
        return session

    async def _sid_session(self, sid: str, user: str, tx_ids: Sequence[str]) -> Session | None:
        """`debit_session`, its refusals in Evolution's words: another user's sid is refused
        before the ledger is asked anything (`INVALID_PARAMETER` while it lives,
        `INVALID_SID` once expired); any other dead sid is `INVALID_SID`."""
        try:
            return await self.debit_session(sid, user, tx_ids)
        except TokenRefused as refused:
            not_theirs = refused.fault is TokenFault.NOT_THEIRS
            raise _Answer(Status.INVALID_PARAMETER if not_theirs else Status.INVALID_SID) from None

    async def _current(self, player: str, currency: str) -> Decimal | None:
        available = await self.available(player, currency)
        return None if available is None else in_currency(available, currency)

    def _amount(self, call: wire.TransactionRequest) -> Decimal:
        if call.currency not in self.provider.currencies:
            raise _Answer(Status.INVALID_PARAMETER)
        try:
            return wire_amount(call.transaction.amount, call.currency, max_places=wire.MAX_PLACES)
        except MoneyError:
            raise _Answer(Status.INVALID_PARAMETER) from None

    def _move(self, move: type[M], call: wire.TransactionRequest, amount: Decimal) -> M:
        """The ledger's stake (`Debit`) or win (`Credit`) of `amount` for the bet `refId`."""
        return move(
            provider=self.provider.id,
            tx_id=call.transaction.id,
            player=call.userId,
            currency=call.currency,
            amount=amount,
            round_id=call.game.id,
            bet_id=call.transaction.refId,
            game=call.game.type,
        )

    async def _execute(
        self,
        kind: str,
        call: wire.TransactionRequest | wire.PromoPayoutRequest,
        command: Debit | Credit | Rollback | Award,
    ) -> EdgeResponse:
        try:
            reply = await self.ledger.execute(command)
        except Refused as exc:
            status = _BY_KIND[kind].get(exc.code, Status.UNKNOWN_ERROR)
            balance = await self._current(call.userId, call.currency)
            if balance is None and status is Status.BET_DOES_NOT_EXIST:
                # No wallet: not a bet unknown to a player, but a user unknown to the casino
                # (a cancel naming another player's debit).
                status = Status.INVALID_PARAMETER
            return self._send(status, call.uuid, balance)
        return await self._render(kind, call, reply)

    async def _render(
        self, kind: str, call: wire.TransactionRequest | wire.PromoPayoutRequest, reply: WalletReply
    ) -> EdgeResponse:
        balance = in_currency(reply.available, call.currency)
        if reply.replayed:
            # A replay carries the balance of its first answer; Evolution checks every
            # answer's balance against its own running total, so send today's.
            # `is None`, not `or`: a balance of 0.00 is falsy and is still today's.
            current = await self._current(call.userId, call.currency)
            balance = balance if current is None else current
        if kind == "cancel" and reply.absorbed:
            return self._send(Status.BET_DOES_NOT_EXIST, call.uuid, balance)
        if reply.replayed:
            return self._send(_REPLAYED.get(kind, Status.BET_ALREADY_SETTLED), call.uuid, balance)
        return self._send(Status.OK, call.uuid, balance)

    # -- endpoints ------------------------------------------------------------------------

    async def sid(self, request: EdgeRequest) -> EdgeResponse:
        try:
            call = self._decode(request, wire.SidRequest)
        except _Failed as failed:
            return failed.response
        currency = await self.sessions.currency_of(self.provider.id, call.userId)
        currency = currency or self.provider.currencies[0]
        session = await self.sessions.issue(
            self.provider.id, call.userId, currency, ttl_s=self.ttl, idle_s=self.ttl
        )
        body = wire.CheckResponse(status=Status.OK, sid=session.token, uuid=call.uuid)
        return EdgeResponse(200, _ENCODER.encode(body))

    async def check(self, request: EdgeRequest) -> EdgeResponse:
        try:
            call = self._decode(request, wire.CheckRequest)
            session = await self._live_session(call.sid, call.userId)
        except _Failed as failed:
            return failed.response
        except _Answer as answer:
            body = wire.CheckResponse(status=answer.status, uuid=call.uuid)
            return EdgeResponse(200, _ENCODER.encode(body))
        try:
            # The new sid idles for `session_ttl_s`, not for the launch token's idle time
            # (`rotate` keeps the old session's).
            fresh = await rotate(
                self.sessions, msgspec.structs.replace(session, idle_s=self.ttl), ttl_s=self.ttl
            )
        except SessionEnded:  # the platform closed the session as the sid rotated
            body = wire.CheckResponse(status=Status.INVALID_SID, uuid=call.uuid)
        else:
            body = wire.CheckResponse(status=Status.OK, sid=fresh.token, uuid=call.uuid)
        return EdgeResponse(200, _ENCODER.encode(body))

    async def balance(self, request: EdgeRequest) -> EdgeResponse:
        return await self._serve(request, wire.BalanceRequest, self._balance)

    async def _balance(self, call: wire.BalanceRequest) -> EdgeResponse:
        session = await self._live_session(call.sid, call.userId)
        if call.currency != session.currency:
            raise _Answer(Status.INVALID_PARAMETER)
        try:
            balance = await self.ledger.balance(call.userId, call.currency)
        except Refused as exc:
            return self._send(_COMMON.get(exc.code, Status.UNKNOWN_ERROR), call.uuid, None)
        return self._send(Status.OK, call.uuid, in_currency(balance.available, call.currency))

    async def debit(self, request: EdgeRequest) -> EdgeResponse:
        return await self._serve(request, wire.TransactionRequest, self._debit)

    async def _debit(self, call: wire.TransactionRequest) -> EdgeResponse:
        amount = self._amount(call)
        session = await self._sid_session(call.sid, call.userId, (call.transaction.id,))
        if session is not None and call.currency != session.currency:
            raise _Answer(Status.INVALID_PARAMETER)
        if amount <= 0:
            return self._send(Status.INVALID_PARAMETER, call.uuid, None)
        table = call.game.details.table if call.game.details else None
        command = msgspec.structs.replace(
            self._move(Debit, call, amount),
            table=table.id if table else "",
            session_id=debit_session_id(session, call.sid),
        )
        return await self._execute("debit", call, command)

    async def credit(self, request: EdgeRequest) -> EdgeResponse:
        return await self._serve(request, wire.TransactionRequest, self._credit)

    async def _credit(self, call: wire.TransactionRequest) -> EdgeResponse:
        return await self._execute("credit", call, self._move(Credit, call, self._amount(call)))

    async def cancel(self, request: EdgeRequest) -> EdgeResponse:
        return await self._serve(request, wire.TransactionRequest, self._cancel)

    async def _cancel(self, call: wire.TransactionRequest) -> EdgeResponse:
        self._amount(call)
        if await self._current(call.userId, call.currency) is None:
            # A user with no wallet here has no debit to cancel, now or later: asked of
            # the ledger, a cancel under a fresh id would leave a tombstone for nobody.
            raise _Answer(Status.INVALID_PARAMETER)
        command = Rollback(
            provider=self.provider.id,
            tx_id=f"cancel:{call.transaction.id}",
            player=call.userId,
            currency=call.currency,
            ref_tx_id=call.transaction.id,
            ref_bet_id=call.transaction.refId,
            round_id=call.game.id,
            late_original="refuse",
            only_open=True,
        )
        return await self._execute("cancel", call, command)

    async def promo_payout(self, request: EdgeRequest) -> EdgeResponse:
        return await self._serve(request, wire.PromoPayoutRequest, self._promo_payout)

    async def _promo_payout(self, call: wire.PromoPayoutRequest) -> EdgeResponse:
        if call.currency not in self.provider.currencies:
            raise _Answer(Status.INVALID_PARAMETER)
        promo = call.promoTransaction
        try:
            amount = wire_amount(promo.amount, call.currency, max_places=wire.MAX_PLACES)
        except MoneyError:
            raise _Answer(Status.INVALID_PARAMETER) from None
        jackpot = promo.type in _JACKPOT_TYPES
        session_id = ""
        if call.sid:
            # Not a check (a payout may come after the sid rotated or expired): the session
            # the sid was issued under, while the store still knows it.
            known = await self.session_of(call.sid, call.userId)
            if known is None:
                session_id = session_ref(call.sid)
            else:
                session_id = recorded_session(known, call.sid)
        command = Award(
            provider=self.provider.id,
            tx_id=promo.id,
            player=call.userId,
            currency=call.currency,
            amount=amount,
            cause=AwardCause.JACKPOT if jackpot else AwardCause.PROMO,
            round_id=call.game.id if call.game else "",
            game=call.game.type if call.game else "",
            reference=":".join(
                part
                for part in (promo.type, promo.voucherId, promo.bonusConfigId, promo.rewardId)
                if part
            ),
            session_id=session_id,
        )
        return await self._execute("promo", call, command)


class _Failed(Exception):
    """The body could not be decoded; `response` is the dialect's answer."""

    def __init__(self, response: EdgeResponse) -> None:
        super().__init__("undecodable body")
        self.response = response


def _echo_uuid(body: bytes) -> str:
    try:
        return bodies.decode(body, _Echo).uuid
    except msgspec.DecodeError:
        return ""
