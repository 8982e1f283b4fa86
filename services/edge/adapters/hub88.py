"""Hub88 Operator Wallet API at `/wallet/hub88/...` (wire format: `contracts.dialects.hub88`).

Provider config: `secret_env`/`secret_file` holds Hub88's RSA public key (PEM). Options:
`session_ttl_s` is not used here (the platform issues launch tokens with their TTL).

Semantics, per Hub88's documentation unless marked [INFER]:
- The signature is checked over the raw bytes before the body is decoded; a bad or
  missing one is `RS_ERROR_INVALID_SIGNATURE` and nothing else happens.
- `bet` checks the token: unknown (revoked, ended with its platform session) or not this
  user's -> `RS_ERROR_INVALID_TOKEN`, expired -> `RS_ERROR_TOKEN_EXPIRED`, unless its
  `transaction_uuid` is one the ledger answered before: that repeat gets its original
  answer (or `RS_ERROR_DUPLICATE_TRANSACTION` for another payload) whatever the token's
  state now, another user's token excepted. `win` and `rollback` never check
  the token (Hub88: "must not be checked on wins/rollbacks"). `user/balance` needs a token
  known for that user, expired or not [INFER: a balance read moves nothing]. `user/info`
  is `{user, request_uuid}` only (Hub88 sends no token): a player with a wallet in one of the
  provider's currencies is answered (currency of their latest session first), another
  is `RS_ERROR_INVALID_TOKEN` [INFER: Hub88 names no "unknown user" status]; a token,
  if one is sent anyway, must be that user's.
- Same `transaction_uuid`, same payload -> the original answer (status and balance as
  first sent, this request's `request_uuid`); another reference, amount, currency, round,
  user or game (every field Hub88's status table names) -> `RS_ERROR_DUPLICATE_TRANSACTION`.
- `win` for an unknown bet -> `RS_ERROR_TRANSACTION_DOES_NOT_EXIST`; for a rolled-back
  bet -> `RS_ERROR_TRANSACTION_ROLLED_BACK`; a zero win settles the bet as lost.
- `rollback` names no currency: it is in the one of the transaction it undoes (tried in
  the order: its token's, the player's latest session's, the provider's others), not
  merely the player's latest session's, which may be another game's since. A retry is
  answered in the currency of its first answer, whichever is tried first by then.
- `rollback` naming itself (`reference_transaction_uuid` = its `transaction_uuid`) ->
  `RS_ERROR_WRONG_SYNTAX`, nothing moves.
- `rollback` of an unknown transaction -> `RS_OK` with the balance, nothing moves, and the
  rollback is remembered: if the bet arrives later it is refused with
  `RS_ERROR_TRANSACTION_ROLLED_BACK` [INFER: Hub88 has already written that bet off].
- Supplier free bets: a bet with `is_free: true` (its amount 0, or the free bet's nominal
  stake) takes nothing from the player and is remembered as a zero promotion award; a
  win with `is_free: true` is a promotion paid to the player (from the promotions
  account) naming that free bet by `reference_transaction_uuid`: unknown ->
  `RS_ERROR_TRANSACTION_DOES_NOT_EXIST`, rolled back -> `RS_ERROR_TRANSACTION_ROLLED_BACK`,
  paid out already by another win that stands -> `RS_ERROR_DUPLICATE_TRANSACTION` (as a
  second win of a paid bet).
  A rollback of a free win takes it back (and frees the free bet for a corrected win);
  each is once by `transaction_uuid`.
- `round_closed: true` on a bet, win or rollback closes the round in the ledger, once the
  transaction is taken: a later bet in it is refused (`RS_ERROR_INVALID_GAME`), and the
  round reads CLOSED.
- Player protection and limit profiles (`services.ledger.protection`): a self-excluded,
  timed-out or high-risk player -> `RS_ERROR_USER_DISABLED`; a stake outside the
  profile's limits, or past a round, loss or stake limit -> `RS_ERROR_LIMIT_REACHED`.
- A bet after the round's betting window closed -> `RS_ERROR_INVALID_GAME` [INFER];
  Hub88 then rolls the bet back, which is a no-op.
- Edge refusals: IP not allowed -> HTTP 403 `RS_ERROR_INVALID_PARTNER`; rate limited ->
  HTTP 429 `RS_ERROR_UNKNOWN` (Hub88 retries or rolls back); body too large -> HTTP 413
  `RS_ERROR_WRONG_SYNTAX`; invalid JSON -> `RS_ERROR_WRONG_SYNTAX`; wrong field types,
  negative, over-precise or out-of-range amounts -> `RS_ERROR_WRONG_TYPES`; any internal
  failure -> `RS_ERROR_UNKNOWN` (HTTP 200, never a traceback).
- Ids follow `contracts.ids` (1-128 characters; no control, invisible formatting or
  surrogate characters): `user`, `transaction_uuid`, `reference_transaction_uuid`,
  `request_uuid`, `round`, and `game_code` (may be empty); another ->
  `RS_ERROR_WRONG_TYPES` (as any field msgspec refuses), nothing moves.
- Hub88 requests carry no timestamp or nonce; replays of a signed body are harmless
  because every money call is idempotent on `transaction_uuid`.
- `balance` in answers is the player's available balance (cash minus holds), rounded
  down to Hub88's five decimals (a BTC balance has eight).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from decimal import Decimal
from typing import TypeVar

import msgspec

from contracts import bodies
from contracts.dialects import hub88 as wire
from contracts.dialects.hub88 import Status
from contracts.money import MoneyError
from contracts.money import from_minor
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
from services.edge.config import ProviderConfig
from services.edge.ports import Refused
from services.edge.sessions import Session

S = TypeVar("S")

_ENCODER = msgspec.json.Encoder()
_REJECTIONS: dict[Rejection, tuple[int, Status]] = {
    Rejection.IP_NOT_ALLOWED: (403, Status.INVALID_PARTNER),
    Rejection.RATE_LIMITED: (429, Status.UNKNOWN),
    Rejection.BODY_TOO_LARGE: (413, Status.WRONG_SYNTAX),
    Rejection.BAD_SIGNATURE: (200, Status.INVALID_SIGNATURE),
    Rejection.MALFORMED: (200, Status.WRONG_SYNTAX),
    Rejection.INTERNAL: (200, Status.UNKNOWN),
    Rejection.SOFT_DECLINE: (200, Status.UNKNOWN),
}
_REFUSALS: dict[Refusal, Status] = {
    Refusal.INVALID_AMOUNT: Status.WRONG_TYPES,
    Refusal.UNKNOWN_CURRENCY: Status.WRONG_CURRENCY,
    Refusal.CURRENCY_MISMATCH: Status.WRONG_CURRENCY,
    Refusal.UNKNOWN_WALLET: Status.INVALID_TOKEN,
    Refusal.INSUFFICIENT_FUNDS: Status.NOT_ENOUGH_MONEY,
    Refusal.DUPLICATE_CONFLICT: Status.DUPLICATE_TRANSACTION,
    Refusal.BET_NOT_FOUND: Status.TRANSACTION_DOES_NOT_EXIST,
    Refusal.TRANSACTION_NOT_FOUND: Status.TRANSACTION_DOES_NOT_EXIST,
    Refusal.TRANSACTION_ROLLED_BACK: Status.TRANSACTION_ROLLED_BACK,
    Refusal.BET_ALREADY_SETTLED: Status.DUPLICATE_TRANSACTION,
    Refusal.BET_REFUNDED: Status.TRANSACTION_ROLLED_BACK,
    Refusal.BETTING_CLOSED: Status.INVALID_GAME,
    Refusal.ROUND_CLOSED: Status.INVALID_GAME,
    Refusal.LIMIT_EXCEEDED: Status.LIMIT_REACHED,
    Refusal.STAKE_OUT_OF_LIMITS: Status.LIMIT_REACHED,
    Refusal.SELF_EXCLUDED: Status.USER_DISABLED,
    Refusal.RETRY_EXHAUSTED: Status.UNKNOWN,
}
_WIN_REFUSALS: dict[Refusal, Status] = {
    **_REFUSALS,
    Refusal.UNKNOWN_WALLET: _REFUSALS[Refusal.BET_NOT_FOUND],
}
"""A win for a player with no wallet has no bet to pay."""
_NOT_FOUND = {Refusal.TRANSACTION_NOT_FOUND, Refusal.BET_NOT_FOUND, Refusal.UNKNOWN_WALLET}
_OTHER_CURRENCY = {Refusal.CURRENCY_MISMATCH, Refusal.DUPLICATE_CONFLICT}
"""What a rollback tried in one currency hears when the transaction it undoes, or its own
first answer (a retry), is in another: the ledger's record of either names its currency."""


class _Echo(msgspec.Struct, frozen=True):
    """What can still be echoed from a body whose fields have the wrong types."""

    request_uuid: str = ""
    user: str = ""


def _echo(body: bytes) -> _Echo:
    try:
        return bodies.decode(body, _Echo)
    except msgspec.DecodeError:
        return _Echo()


class _Answer(Exception):
    """Stop here and send this status (with the balance when one is known)."""

    def __init__(self, status: Status, balance: int | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.balance = balance


class Adapter(DialectAdapter):
    dialect = "hub88"

    def __init__(self, provider: ProviderConfig, context: EdgeContext) -> None:
        super().__init__(provider, context)
        try:
            self._key = wire.load_public_key(provider.secret)
        except ValueError as exc:
            raise ValueError(f"provider {provider.id!r}: {exc}") from None

    def endpoints(self) -> Sequence[Endpoint]:
        return (
            Endpoint("POST", "user/info", self.user_info),
            Endpoint("POST", "user/balance", self.user_balance),
            Endpoint("POST", "transaction/bet", self.bet),
            Endpoint("POST", "transaction/win", self.win),
            Endpoint("POST", "transaction/rollback", self.rollback),
        )

    def reject(self, rejection: Rejection, endpoint: Endpoint | None) -> EdgeResponse:
        status, code = _REJECTIONS[rejection]
        return EdgeResponse(status, _ENCODER.encode(wire.Response(status=code)))

    # -- request plumbing ---------------------------------------------------------------

    def _decode(self, request: EdgeRequest, cls: type[S]) -> S:
        if not wire.verify(request.body, self._key, request.header(wire.SIGNATURE_HEADER)):
            raise Rejected(Rejection.BAD_SIGNATURE)
        try:
            return bodies.decode(request.body, cls)
        except msgspec.ValidationError as exc:
            raise _Answer(Status.WRONG_TYPES) from exc
        except msgspec.DecodeError as exc:
            raise Rejected(Rejection.MALFORMED, str(exc)) from exc

    def _call(self, request: EdgeRequest, cls: type[S]) -> S | EdgeResponse:
        """The decoded call, or the answer to a body whose fields have the wrong types
        (echoing what can still be read of it)."""
        try:
            return self._decode(request, cls)
        except _Answer as answer:
            echo = _echo(request.body)
            return self._send(answer.status, echo.request_uuid, echo.user, "", None)

    def _amount(self, units: int, currency: str) -> Decimal:
        try:
            return from_minor(units, currency, wire.SCALE)
        except MoneyError as exc:
            raise _Answer(Status.WRONG_TYPES) from exc

    def _currency(self, currency: str) -> str:
        if currency not in self.provider.currencies:
            raise _Answer(Status.WRONG_CURRENCY)
        return currency

    async def _balance_units(self, player: str, currency: str) -> int | None:
        available = await self.available(player, currency)
        return None if available is None else wire.balance_units(available)

    async def _session(self, user: str, token: str) -> Session:
        """The token's session, expired or not, after checking it belongs to `user`."""
        session = await self.session_of(token, user)
        if session is None:
            raise _Answer(Status.INVALID_TOKEN)
        return session

    async def _user_currency(self, user: str) -> str:
        """The currency of a player Hub88 names without a token (`/user/info` sends only
        `user`): the one of their latest session, else the first of the provider's
        currencies they have a wallet in; a player with none is unknown."""
        known = await self.sessions.currency_of(self.provider.id, user)
        candidates = [known] if known in self.provider.currencies else []
        candidates += [c for c in self.provider.currencies if c != known]
        for currency in candidates:
            if await self._balance_units(user, currency) is not None:
                return currency
        raise _Answer(Status.INVALID_TOKEN)

    def _ok(self, request_uuid: str, user: str, currency: str, reply: WalletReply) -> EdgeResponse:
        units = wire.balance_units(reply.available)
        return self._send(Status.OK, request_uuid, user, currency, units)

    def _send(
        self, status: Status, request_uuid: str, user: str, currency: str, balance: int | None
    ) -> EdgeResponse:
        body = wire.Response(
            status=status,
            request_uuid=request_uuid,
            user=user or None,
            currency=currency or None,
            balance=balance,
        )
        return EdgeResponse(200, _ENCODER.encode(body))

    async def _refused(
        self,
        exc: Refused,
        request_uuid: str,
        user: str,
        currency: str,
        refusals: Mapping[Refusal, Status] = _REFUSALS,
    ) -> EdgeResponse:
        status = refusals[exc.code]
        balance = None
        if status is Status.NOT_ENOUGH_MONEY:
            balance = await self._balance_units(user, currency)
        return self._send(status, request_uuid, user, currency, balance)

    def _money(self, call: wire.BetRequest | wire.WinRequest) -> tuple[str, Decimal]:
        """The currency and amount of a bet or a win, once both are checked."""
        currency = self._currency(call.currency)
        return currency, self._amount(call.amount, currency)

    async def _execute(
        self,
        call: wire.BetRequest | wire.WinRequest,
        command: Debit | Credit | Award,
        refusals: Mapping[Refusal, Status] = _REFUSALS,
    ) -> EdgeResponse:
        """Send a bet's or a win's command: the balance after it, or the call's refusal."""
        try:
            reply = await self.ledger.execute(command)
        except Refused as exc:
            return await self._refused(
                exc, call.request_uuid, call.user, command.currency, refusals
            )
        return self._ok(call.request_uuid, call.user, command.currency, reply)

    # -- endpoints ----------------------------------------------------------------------

    async def user_info(self, request: EdgeRequest) -> EdgeResponse:
        call = self._call(request, wire.UserInfoRequest)
        if isinstance(call, EdgeResponse):
            return call
        try:
            if call.token:
                currency = (await self._session(call.user, call.token)).currency
            else:
                currency = await self._user_currency(call.user)
        except _Answer as answer:
            return self._send(answer.status, call.request_uuid, call.user, "", None)
        body = wire.UserInfoResponse(
            status=Status.OK, request_uuid=call.request_uuid, user=call.user, currency=currency
        )
        return EdgeResponse(200, _ENCODER.encode(body))

    async def user_balance(self, request: EdgeRequest) -> EdgeResponse:
        call = self._call(request, wire.BalanceRequest)
        if isinstance(call, EdgeResponse):
            return call
        try:
            currency = (await self._session(call.user, call.token)).currency
            if call.currency and call.currency != currency:
                raise _Answer(Status.WRONG_CURRENCY)
        except _Answer as answer:
            return self._send(answer.status, call.request_uuid, call.user, call.currency, None)
        try:
            balance = await self.ledger.balance(call.user, currency)
        except Refused as exc:
            return await self._refused(exc, call.request_uuid, call.user, currency)
        units = wire.balance_units(balance.available)
        return self._send(Status.OK, call.request_uuid, call.user, currency, units)

    async def bet(self, request: EdgeRequest) -> EdgeResponse:
        call = self._call(request, wire.BetRequest)
        if isinstance(call, EdgeResponse):
            return call
        try:
            currency, amount = self._money(call)
            live = await self.debit_session(call.token, call.user, (call.transaction_uuid,))
            if live is not None and live.currency != currency:
                raise _Answer(Status.WRONG_CURRENCY)
        except _Answer as answer:
            return self._send(answer.status, call.request_uuid, call.user, call.currency, None)
        except TokenRefused as refused:
            expired = refused.fault is TokenFault.EXPIRED
            status = Status.TOKEN_EXPIRED if expired else Status.INVALID_TOKEN
            return self._send(status, call.request_uuid, call.user, call.currency, None)
        session_id = debit_session_id(live, call.token)
        command: Debit | Award = Debit(
            provider=self.provider.id,
            tx_id=call.transaction_uuid,
            player=call.user,
            currency=currency,
            amount=amount,
            round_id=call.round,
            game=call.game_code,
            session_id=session_id,
            closes_round=bool(call.round_closed),
        )
        if call.is_free:
            # A free bet takes nothing from the player: it is remembered (an award of 0)
            # so its win can name it; its nominal stake is kept with the reward.
            command = Award(
                provider=self.provider.id,
                tx_id=call.transaction_uuid,
                player=call.user,
                currency=currency,
                amount=Decimal(0),
                cause=AwardCause.PROMO,
                round_id=call.round,
                game=call.game_code,
                reference=f"{call.reward_uuid or ''}|free bet of {call.amount}",
                session_id=session_id,
                closes_round=bool(call.round_closed),
            )
        return await self._execute(call, command)

    async def win(self, request: EdgeRequest) -> EdgeResponse:
        call = self._call(request, wire.WinRequest)
        if isinstance(call, EdgeResponse):
            return call
        try:
            currency, amount = self._money(call)
        except _Answer as answer:
            return self._send(answer.status, call.request_uuid, call.user, call.currency, None)
        command: Credit | Award = Credit(
            provider=self.provider.id,
            tx_id=call.transaction_uuid,
            player=call.user,
            currency=currency,
            amount=amount,
            round_id=call.round,
            bet_id=call.reference_transaction_uuid,
            game=call.game_code,
            closes_round=bool(call.round_closed),
        )
        if call.is_free:
            # A free bet's win is a promotion paid to the player, naming its free bet.
            command = Award(
                provider=self.provider.id,
                tx_id=call.transaction_uuid,
                player=call.user,
                currency=currency,
                amount=amount,
                cause=AwardCause.PROMO,
                round_id=call.round,
                game=call.game_code,
                reference=call.reward_uuid or "",
                ref_tx_id=call.reference_transaction_uuid,
                closes_round=bool(call.round_closed),
            )
        return await self._execute(call, command, refusals=_WIN_REFUSALS)

    async def rollback(self, request: EdgeRequest) -> EdgeResponse:
        call = self._call(request, wire.RollbackRequest)
        if isinstance(call, EdgeResponse):
            return call
        if call.transaction_uuid == call.reference_transaction_uuid:
            # It cannot undo itself; the ledger would take it for its own target.
            return self._send(Status.WRONG_SYNTAX, call.request_uuid, call.user, "", None)
        currencies = await self._rollback_currencies(call)
        if not currencies:
            return self._send(Status.WRONG_CURRENCY, call.request_uuid, call.user, "", None)
        for currency in currencies:
            command = Rollback(
                provider=self.provider.id,
                tx_id=call.transaction_uuid,
                player=call.user,
                currency=currency,
                ref_tx_id=call.reference_transaction_uuid,
                round_id=call.round,
                game=call.game_code,
                late_original="refuse",
                closes_round=bool(call.round_closed),
            )
            try:
                reply = await self.ledger.execute(command)
            except Refused as exc:
                if exc.code in _OTHER_CURRENCY and currency != currencies[-1]:
                    continue  # the transaction it undoes, or its first answer, is in another
                if exc.code in _NOT_FOUND:
                    units = await self._balance_units(call.user, currency)
                    return self._send(Status.OK, call.request_uuid, call.user, currency, units or 0)
                return await self._refused(exc, call.request_uuid, call.user, currency)
            return self._ok(call.request_uuid, call.user, currency, reply)
        raise AssertionError("unreachable: the last currency answers")

    async def _rollback_currencies(self, call: wire.RollbackRequest) -> list[str]:
        """The currencies a rollback may be in, likeliest first: the one it names, else
        (Hub88 names none) its token's, the player's latest session's, then the
        provider's others; the transaction it undoes was in one of them, whatever
        session the player has opened since."""
        if call.currency:
            return [call.currency] if call.currency in self.provider.currencies else []
        session = await self.session_of(call.token, call.user)
        latest = await self.sessions.currency_of(self.provider.id, call.user)
        known = [c for c in (session and session.currency, latest) if c]
        return [
            c
            for c in dict.fromkeys([*known, *self.provider.currencies])
            if c in self.provider.currencies
        ]
