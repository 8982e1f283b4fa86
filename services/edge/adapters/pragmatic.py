"""Pragmatic Play Seamless Wallet at `/wallet/pragmatic/...` (`contracts.dialects.pragmatic`).

Provider config: `secret_env`/`secret_file` holds the secret key of the `hash`. Options:
`provider_id` (default `PragmaticPlay`): the `providerId` every request must carry.

Semantics, following the public implementations unless marked [INFER]:
- The form is split into fields (all the hash needs), the `hash` checked in constant
  time, and only then are fields read: a bad or missing hash is error 5 and nothing else
  happens. Repeated fields, undecodable bytes, more than 64 fields -> error 7.
- `authenticate` answers the player of a live launch token (error 4 otherwise) and keeps
  the token [INFER: no rotation; Pragmatic sends it back on later calls].
- `bet` checks `token` when one is sent (error 4 if unknown, revoked, expired or another
  player's); the currency is the session's, else the player's last session's. Same
  `reference` again -> the original success with the current balance; with another
  amount or round -> error 7 [INFER]. A `reference` the ledger answered before is such a
  repeat whatever became of its token (another player's excepted): with the session gone,
  its currency is the one of the player's currencies the ledger took it in. Insufficient
  funds -> 1 with the balance; a bet after the round's betting closed, or after its
  refund arrived -> 3 (final). Player protection (`services.ledger.protection`):
  self-excluded, timed out or high-risk -> 6; over the profile's stake range -> 310; over
  a round, loss or stake limit -> 50.
- `result` pays the player's open bets in `roundId` (a zero result settles them lost);
  idempotent on `reference`; a round with no open bet of this player -> 7 [INFER: the
  codes for it disagree between implementations; 7 is final and changes nothing].
- `refund` cancels the bet `reference` if still open; unknown -> error 0, nothing moves,
  and the late bet is then refused with 3; after its result -> 7 [INFER], nothing moves.
  A result or refund (they name no currency) settles in the currency the bet was taken
  in: the player's last session's, else each other currency of the provider in turn (a
  player may open a session in another currency before a round's result comes).
- `endRound` closes the round in the ledger: bets still open lose [INFER: Pragmatic sends
  a result for every win first], in whichever of the provider's currencies they were taken
  (a zero credit in each other currency first: refused, writing nothing, where none is
  open); with nothing open (every result in) it still closes it; repeated -> success,
  nothing written. Balance-free otherwise.
- Requests carry `timestamp` but by default it is not windowed (`max_skew_s` 0) [INFER]:
  Pragmatic re-sends failed calls for reconciliation hours later, and every money call
  is idempotent on `reference`, so a replayed request moves nothing. A provider with
  `max_skew_s` set windows `bet.html` only: a bet whose `timestamp` (ms) is missing or
  further than that from our clock is error 7 and moves nothing; results, refunds and
  endRound must always settle, so they are never refused for age.
- Amounts must be plain decimals (`12.50`): a sign, an exponent, spaces, more decimals
  than the currency has, NaN -> error 7.
- Ids follow `contracts.ids` (1-128 characters; no control, invisible formatting or
  surrogate characters): `userId`, `reference`, `roundId`, `token`, and `gameId` (may be
  empty); another -> error 7, nothing moves.
- Edge refusals: IP not allowed -> HTTP 403 error 5; rate limited -> 429 error 100 (retry);
  body too large -> 413 error 7; internal failure, or a ledger that gave up on a write
  (`RETRY_EXHAUSTED`) -> error 100 (102 on endRound): safe to retry. Unknown fields are
  ignored.
- `bonusWin` (a free-rounds bonus's win), `jackpotWin`, `promoWin` (a campaign's prize)
  and `adjustment` are each a ledger `Award` (cause PROMO, JACKPOT, PROMO, ADJUSTMENT)
  under `<method>:<reference>`, paid as the reference's "separate credits": idempotent on
  `reference` like every money call (a repeat is the original success with today's cash;
  the same reference with another amount -> 7, nothing moves). An `adjustment` amount may
  carry a minus sign: it takes money, never more than is available (1 with the cash).
  The currency is the player's last session's, or the one `promoWin` names (one the
  provider does not list -> 7).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from decimal import Decimal
from typing import TypeVar
from urllib.parse import parse_qsl

import msgspec

from contracts.dialects import pragmatic as wire
from contracts.dialects.pragmatic import DESCRIPTIONS
from contracts.dialects.pragmatic import Error
from contracts.money import MoneyError
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
from services.edge.adapters.base import TokenRefused
from services.edge.adapters.base import debit_session_id
from services.edge.amounts import in_currency
from services.edge.amounts import wire_amount
from services.edge.ports import Refused

S = TypeVar("S")
M = TypeVar("M", Debit, Credit, Rollback)

_ENCODER = msgspec.json.Encoder(decimal_format="number")
_MILLIS = re.compile(r"[0-9]{1,15}")
_REJECTIONS: dict[Rejection, tuple[int, Error]] = {
    Rejection.IP_NOT_ALLOWED: (403, Error.INVALID_HASH),
    Rejection.RATE_LIMITED: (429, Error.INTERNAL_RETRY),
    Rejection.BODY_TOO_LARGE: (413, Error.BAD_PARAMETERS),
    Rejection.BAD_SIGNATURE: (200, Error.INVALID_HASH),
    Rejection.MALFORMED: (200, Error.BAD_PARAMETERS),
    Rejection.INTERNAL: (200, Error.INTERNAL_RETRY),
    Rejection.SOFT_DECLINE: (200, Error.INTERNAL_RETRY),
}
_REFUSALS: dict[Refusal, Error] = {
    Refusal.INVALID_AMOUNT: Error.BAD_PARAMETERS,
    Refusal.UNKNOWN_CURRENCY: Error.BAD_PARAMETERS,
    Refusal.CURRENCY_MISMATCH: Error.BAD_PARAMETERS,
    Refusal.UNKNOWN_WALLET: Error.PLAYER_NOT_FOUND,
    Refusal.INSUFFICIENT_FUNDS: Error.INSUFFICIENT_BALANCE,
    Refusal.DUPLICATE_CONFLICT: Error.BAD_PARAMETERS,
    Refusal.BET_NOT_FOUND: Error.BAD_PARAMETERS,
    Refusal.TRANSACTION_NOT_FOUND: Error.BAD_PARAMETERS,
    Refusal.BET_ALREADY_SETTLED: Error.BAD_PARAMETERS,
    Refusal.BET_REFUNDED: Error.BAD_PARAMETERS,
    Refusal.TRANSACTION_ROLLED_BACK: Error.BET_NOT_ALLOWED,
    Refusal.BETTING_CLOSED: Error.BET_NOT_ALLOWED,
    Refusal.ROUND_CLOSED: Error.BET_NOT_ALLOWED,
    Refusal.LIMIT_EXCEEDED: Error.BET_LIMIT_REACHED,
    Refusal.STAKE_OUT_OF_LIMITS: Error.BET_OUT_OF_LIMITS,
    Refusal.SELF_EXCLUDED: Error.PLAYER_FROZEN,
    Refusal.RETRY_EXHAUSTED: Error.INTERNAL_RETRY,
}

_ELSEWHERE = frozenset(
    {
        Refusal.UNKNOWN_WALLET,
        Refusal.CURRENCY_MISMATCH,
        Refusal.BET_NOT_FOUND,
        Refusal.DUPLICATE_CONFLICT,
    }
)
"""Refusals that may only say a call is in another of the player's currencies: no wallet
in this one, the bet or transaction in another, no open bet of the round in this wallet,
or the reference recorded in another (`_in_their_currency`)."""

_NOTHING_OPEN = frozenset(
    {
        Refusal.BET_NOT_FOUND,
        Refusal.BET_ALREADY_SETTLED,
        Refusal.BET_REFUNDED,
        Refusal.ROUND_CLOSED,
    }
)
"""What an endRound's zero credit may meet where nothing of the round is left to settle."""


class _Answer(Exception):
    def __init__(self, error: Error, cash: Decimal | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.cash = cash


def _response(error: Error, **fields: object) -> EdgeResponse:
    body = msgspec.structs.replace(
        wire.Response(error=int(error), description=DESCRIPTIONS[error]), **fields
    )
    return EdgeResponse(200, _ENCODER.encode(body))


class Adapter(DialectAdapter):
    dialect = "pragmatic"
    timestamped = True

    def endpoints(self) -> Sequence[Endpoint]:
        return (
            Endpoint("POST", "authenticate.html", self.authenticate),
            Endpoint("POST", "balance.html", self.balance),
            Endpoint("POST", "bet.html", self.bet),
            Endpoint("POST", "result.html", self.result),
            Endpoint("POST", "refund.html", self.refund),
            Endpoint("POST", "endRound.html", self.end_round, name="endRound"),
            Endpoint("POST", "bonusWin.html", self.bonus_win),
            Endpoint("POST", "jackpotWin.html", self.jackpot_win),
            Endpoint("POST", "promoWin.html", self.promo_win),
            Endpoint("POST", "adjustment.html", self.adjustment),
        )

    def reject(self, rejection: Rejection, endpoint: Endpoint | None) -> EdgeResponse:
        status, error = _REJECTIONS[rejection]
        if error is Error.INTERNAL_RETRY and endpoint is not None and endpoint.name == "endRound":
            error = Error.INTERNAL_END_ROUND_RETRY
        return EdgeResponse(
            status,
            _ENCODER.encode(wire.Response(error=int(error), description=DESCRIPTIONS[error])),
        )

    # -- plumbing -------------------------------------------------------------------------

    def _fields(self, request: EdgeRequest) -> dict[str, str]:
        try:
            pairs = parse_qsl(
                request.body.decode("utf-8"),
                keep_blank_values=True,
                strict_parsing=bool(request.body),
                max_num_fields=wire.MAX_FIELDS,
                errors="strict",
            )
        except (UnicodeDecodeError, ValueError) as exc:
            raise Rejected(Rejection.MALFORMED, str(exc)) from exc
        fields = dict(pairs)
        if len(fields) != len(pairs):
            raise Rejected(Rejection.MALFORMED, "a field is repeated")
        return fields

    def _decode(self, request: EdgeRequest, cls: type[S]) -> S:
        fields = self._fields(request)
        if not wire.verify(fields, self.provider.text_secret()):
            raise Rejected(Rejection.BAD_SIGNATURE)
        try:
            call = msgspec.convert(fields, type=cls)
        except msgspec.ValidationError as exc:
            raise Rejected(Rejection.MALFORMED, str(exc)) from exc
        expected = str(self.provider.option("provider_id", "PragmaticPlay"))
        if getattr(call, "providerId", "") != expected:
            raise _Answer(Error.BAD_PARAMETERS)
        return call

    def _amount(self, text: str, currency: str) -> Decimal:
        try:
            return wire_amount(text, currency)
        except (MoneyError, ArithmeticError):
            raise _Answer(Error.BAD_PARAMETERS) from None

    async def _currency(self, user: str) -> str:
        """The currency of the player's last session (the provider's only one if none)."""
        currency = await self.sessions.currency_of(self.provider.id, user)
        if currency is None and len(self.provider.currencies) == 1:
            currency = self.provider.currencies[0]
        if currency is None or currency not in self.provider.currencies:
            raise _Answer(Error.PLAYER_NOT_FOUND)
        return currency

    async def _cash(self, user: str, currency: str) -> Decimal | None:
        available = await self.available(user, currency)
        return None if available is None else in_currency(available, currency)

    async def _execute(
        self, command: Debit | Credit | Rollback | Award
    ) -> tuple[WalletReply | None, Refused | None]:
        try:
            return await self.ledger.execute(command), None
        except Refused as exc:
            return None, exc

    async def _in_their_currency(
        self, user: str, command: Callable[[str], M]
    ) -> tuple[WalletReply | None, Refused | None, str]:
        """Execute `command(currency)` in the player's last session's currency, then in
        each other currency of the provider while the ledger's refusal may mean the call
        belongs to another (`_ELSEWHERE`): Pragmatic's calls name no currency, and a
        player who bet in one currency may have opened a session in another since, before
        the bet's result, refund or repeat came. The reply and its currency, or the
        refusal of the currency the call was found in (the first one's when none). A
        currency whose exponent `command` refuses the amount in (`_Answer`) is skipped;
        skipped in all -> error 7. A refusal writes nothing, so the tries move nothing."""
        latest = await self.sessions.currency_of(self.provider.id, user)
        currencies = [c for c in self.provider.currencies if c != latest]
        if latest in self.provider.currencies:
            currencies.insert(0, latest)
        first: tuple[Refused, str] | None = None
        for currency in currencies:
            try:
                move = command(currency)
            except _Answer:
                continue  # not an amount of this currency: not the call's
            reply, refused = await self._execute(move)
            if reply is not None:
                return reply, None, currency
            assert refused is not None
            if refused.code not in _ELSEWHERE:
                return None, refused, currency
            first = first or (refused, currency)
        if first is None:
            raise _Answer(Error.BAD_PARAMETERS)
        return None, first[0], first[1]

    async def _move(
        self, command: Debit | Credit | Award, currency: str, **extra: object
    ) -> EdgeResponse:
        """Execute a money command: the dialect's refusal, or success with today's cash."""
        reply, refused = await self._execute(command)
        if reply is None:
            assert refused is not None
            return await self._refused(refused, command.player, currency)
        return await self._money_answer(reply, currency, **extra)

    async def _money_answer(
        self, reply: WalletReply, currency: str, **extra: object
    ) -> EdgeResponse:
        cash = in_currency(reply.available, currency)
        if reply.replayed:
            # `is None`, not `or`: a cash balance of 0.00 is falsy and is still today's.
            current = await self._cash(reply.player, currency)
            cash = cash if current is None else current
        return _response(
            Error.SUCCESS,
            transactionId=reply.tx_ref,
            currency=currency,
            cash=cash,
            bonus=Decimal(0),
            **extra,
        )

    async def _refused(self, exc: Refused, user: str, currency: str) -> EdgeResponse:
        error = _REFUSALS[exc.code]
        cash = await self._cash(user, currency) if error is Error.INSUFFICIENT_BALANCE else None
        return _response(error, cash=cash, bonus=Decimal(0) if cash is not None else None)

    async def _serve(
        self, request: EdgeRequest, cls: type[S], handle: Callable[[S], Awaitable[EdgeResponse]]
    ) -> EdgeResponse:
        """Decode the call and `handle` it; a check it fails is answered with its error."""
        try:
            return await handle(self._decode(request, cls))
        except _Answer as answer:
            return _response(answer.error)

    # -- endpoints ------------------------------------------------------------------------

    async def authenticate(self, request: EdgeRequest) -> EdgeResponse:
        return await self._serve(request, wire.AuthenticateRequest, self._authenticate)

    async def _authenticate(self, call: wire.AuthenticateRequest) -> EdgeResponse:
        session = await self.sessions.get(self.provider.id, call.token)
        if session is None or session.expired(self.context.clock()):
            return _response(Error.AUTHENTICATION_FAILED)
        return _response(
            Error.SUCCESS,
            userId=session.player,
            token=session.token,
            currency=session.currency,
            cash=await self._cash(session.player, session.currency) or Decimal(0),
            bonus=Decimal(0),
        )

    async def balance(self, request: EdgeRequest) -> EdgeResponse:
        return await self._serve(request, wire.BalanceRequest, self._balance)

    async def _balance(self, call: wire.BalanceRequest) -> EdgeResponse:
        currency = await self._currency(call.userId)
        cash = await self._cash(call.userId, currency)
        if cash is None:
            return _response(Error.PLAYER_NOT_FOUND)
        return _response(Error.SUCCESS, currency=currency, cash=cash, bonus=Decimal(0))

    async def bet(self, request: EdgeRequest) -> EdgeResponse:
        return await self._serve(request, wire.BetRequest, self._bet)

    async def _bet(self, call: wire.BetRequest) -> EdgeResponse:
        stamp = int(call.timestamp) if _MILLIS.fullmatch(call.timestamp) else 0
        if self.provider.max_skew_s > 0 and not self.fresh(stamp):
            raise _Answer(Error.BAD_PARAMETERS)
        if not call.token:
            currency = await self._currency(call.userId)
            return await self._stake(call, currency, self._bet_amount(call, currency), "")
        try:
            session = await self.debit_session(call.token, call.userId, (call.reference,))
        except TokenRefused:
            raise _Answer(Error.AUTHENTICATION_FAILED) from None
        session_id = debit_session_id(session, call.token)
        if session is not None:
            amount = self._bet_amount(call, session.currency)
            return await self._stake(call, session.currency, amount, session_id)
        return await self._repeat_bet(call, session_id)

    def _bet_amount(self, call: wire.BetRequest, currency: str) -> Decimal:
        amount = self._amount(call.amount, currency)
        if amount <= 0:
            raise _Answer(Error.BAD_PARAMETERS)
        return amount

    def _stake_of(
        self, call: wire.BetRequest, currency: str, amount: Decimal, session_id: str
    ) -> Debit:
        return Debit(
            provider=self.provider.id,
            tx_id=call.reference,
            player=call.userId,
            currency=currency,
            amount=amount,
            round_id=call.roundId,
            bet_id=call.reference,
            game=call.gameId,
            session_id=session_id,
        )

    async def _stake(
        self, call: wire.BetRequest, currency: str, amount: Decimal, session_id: str
    ) -> EdgeResponse:
        command = self._stake_of(call, currency, amount, session_id)
        return await self._move(command, currency, usedPromo=Decimal(0))

    async def _repeat_bet(self, call: wire.BetRequest, session_id: str) -> EdgeResponse:
        """A bet the ledger answered before, repeated on a token the store no longer knows:
        its currency was that token's session's, which the player's last session may no
        longer be. The ledger replays it in the original's currency and refuses it, moving
        nothing, in any other; a payload the ledger replays in none gets the refusal in the
        likeliest currency (error 7 for another amount or round)."""
        reply, refused, currency = await self._in_their_currency(
            call.userId,
            lambda currency: self._stake_of(
                call, currency, self._bet_amount(call, currency), session_id
            ),
        )
        if reply is None:
            assert refused is not None
            return await self._refused(refused, call.userId, currency)
        return await self._money_answer(reply, currency, usedPromo=Decimal(0))

    async def result(self, request: EdgeRequest) -> EdgeResponse:
        return await self._serve(request, wire.ResultRequest, self._result)

    async def _result(self, call: wire.ResultRequest) -> EdgeResponse:
        reply, refused, currency = await self._in_their_currency(
            call.userId,
            lambda currency: Credit(
                provider=self.provider.id,
                tx_id=f"result:{call.reference}",
                player=call.userId,
                currency=currency,
                amount=self._amount(call.amount, currency),
                round_id=call.roundId,
                game=call.gameId,
            ),
        )
        if reply is None:
            assert refused is not None
            return await self._refused(refused, call.userId, currency)
        return await self._money_answer(reply, currency)

    async def refund(self, request: EdgeRequest) -> EdgeResponse:
        return await self._serve(request, wire.RefundRequest, self._refund)

    async def _refund(self, call: wire.RefundRequest) -> EdgeResponse:
        reply, refused, currency = await self._in_their_currency(
            call.userId,
            lambda currency: Rollback(
                provider=self.provider.id,
                tx_id=f"refund:{call.reference}",
                player=call.userId,
                currency=currency,
                ref_tx_id=call.reference,
                round_id=call.roundId,
                late_original="refuse",
                only_open=True,
            ),
        )
        if reply is None:
            assert refused is not None
            if refused.code in (Refusal.TRANSACTION_NOT_FOUND, Refusal.UNKNOWN_WALLET):
                return _response(Error.SUCCESS, transactionId="0")
            return await self._refused(refused, call.userId, currency)
        if reply.absorbed:
            return _response(Error.SUCCESS, transactionId="0")
        return _response(Error.SUCCESS, transactionId=reply.tx_ref)

    async def end_round(self, request: EdgeRequest) -> EdgeResponse:
        return await self._serve(request, wire.EndRoundRequest, self._end_round)

    async def _end_round(self, call: wire.EndRoundRequest) -> EdgeResponse:
        currency = await self._currency(call.userId)
        for other in self.provider.currencies:
            refused_elsewhere = await self._lost_in(other, call) if other != currency else None
            if refused_elsewhere is not None:
                return refused_elsewhere
        closing = self._ending(call, currency, f"endRound:{call.roundId}:{call.userId}", True)
        reply, refused = await self._execute(closing)
        if refused is not None and refused.code not in _NOTHING_OPEN:
            if refused.code is Refusal.RETRY_EXHAUSTED:
                return _response(Error.INTERNAL_END_ROUND_RETRY)  # endRound's own "retry"
            return await self._refused(refused, call.userId, currency)
        cash = in_currency(reply.available, currency) if reply else None
        if cash is None or (reply is not None and reply.replayed):
            cash = await self._cash(call.userId, currency)
        return _response(Error.SUCCESS, cash=cash or Decimal(0), bonus=Decimal(0))

    def _ending(
        self, call: wire.EndRoundRequest, currency: str, tx_id: str, closes: bool = False
    ) -> Credit:
        """endRound's zero credit in `currency`: it settles the bets left open as lost (and,
        `closes`, closes the round)."""
        return Credit(
            provider=self.provider.id,
            tx_id=tx_id,
            player=call.userId,
            currency=currency,
            amount=Decimal(0),
            round_id=call.roundId,
            game=call.gameId,
            closes_round=closes,
        )

    async def _lost_in(self, currency: str, call: wire.EndRoundRequest) -> EdgeResponse | None:
        """Settle as lost what is left open of the round in `currency`, not the latest
        session's: the call names none, and the player may have switched since betting.
        A zero credit: refused, writing nothing, where nothing is open. None to go on."""
        _, refused = await self._execute(
            self._ending(call, currency, f"endRound/{currency}:{call.roundId}:{call.userId}")
        )
        if refused is None or refused.code in {*_NOTHING_OPEN, Refusal.UNKNOWN_WALLET}:
            return None
        if refused.code is Refusal.RETRY_EXHAUSTED:
            return _response(Error.INTERNAL_END_ROUND_RETRY)
        return await self._refused(refused, call.userId, currency)

    async def _award(
        self,
        call: wire.BonusWinRequest
        | wire.JackpotWinRequest
        | wire.PromoWinRequest
        | wire.AdjustmentRequest,
        method: str,
        cause: AwardCause,
        *,
        round_id: str = "",
        game: str = "",
        reference: str = "",
        currency: str = "",
    ) -> EdgeResponse:
        """Pay (or, an adjustment, take) `call.amount` as an award under `method:reference`."""
        if currency and currency not in self.provider.currencies:
            raise _Answer(Error.BAD_PARAMETERS)
        # A currency the call names is the prize's, whatever the player's last session is in.
        known = currency or await self._currency(call.userId)
        negative = cause is AwardCause.ADJUSTMENT and call.amount.startswith("-")
        amount = self._amount(call.amount[1:] if negative else call.amount, known)
        return await self._move(
            Award(
                provider=self.provider.id,
                tx_id=f"{method}:{call.reference}",
                player=call.userId,
                currency=known,
                amount=-amount if negative else amount,
                cause=cause,
                round_id=round_id,
                game=game,
                reference=reference,
            ),
            known,
        )

    async def bonus_win(self, request: EdgeRequest) -> EdgeResponse:
        return await self._serve(request, wire.BonusWinRequest, self._bonus_win)

    async def _bonus_win(self, call: wire.BonusWinRequest) -> EdgeResponse:
        return await self._award(
            call,
            "bonusWin",
            AwardCause.PROMO,
            round_id=call.roundId,
            game=call.gameId,
            reference=call.bonusCode,
        )

    async def jackpot_win(self, request: EdgeRequest) -> EdgeResponse:
        return await self._serve(request, wire.JackpotWinRequest, self._jackpot_win)

    async def _jackpot_win(self, call: wire.JackpotWinRequest) -> EdgeResponse:
        return await self._award(
            call,
            "jackpotWin",
            AwardCause.JACKPOT,
            round_id=call.roundId,
            game=call.gameId,
            reference=call.jackpotId,
        )

    async def promo_win(self, request: EdgeRequest) -> EdgeResponse:
        return await self._serve(request, wire.PromoWinRequest, self._promo_win)

    async def _promo_win(self, call: wire.PromoWinRequest) -> EdgeResponse:
        campaign = ":".join(part for part in (call.campaignType, call.campaignId) if part)
        return await self._award(
            call, "promoWin", AwardCause.PROMO, reference=campaign, currency=call.currency
        )

    async def adjustment(self, request: EdgeRequest) -> EdgeResponse:
        return await self._serve(request, wire.AdjustmentRequest, self._adjustment)

    async def _adjustment(self, call: wire.AdjustmentRequest) -> EdgeResponse:
        return await self._award(
            call, "adjustment", AwardCause.ADJUSTMENT, round_id=call.roundId, game=call.gameId
        )
