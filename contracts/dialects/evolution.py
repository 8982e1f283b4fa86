"""Evolution One Wallet: the calls Evolution makes to the operator's wallet.

Evolution POSTs JSON to `/check`, `/balance`, `/debit`, `/credit`, `/cancel` and
`/promo_payout` (and `/sid` on test environments), with the operator's shared secret as
`authToken` in the query string. Amounts are JSON numbers in major units with up to 6
decimals. A player's session is a `sid`: `/check` validates the launch sid and answers a
new one, used for every later call. `transaction.id` names one wallet call,
`transaction.refId` the bet it belongs to (a cancel repeats its debit's `id` and `refId`),
`game.id` the round.

Every answer is HTTP 200 with a `status` (`OK` or one of the codes below), the echoed
`uuid`, and `balance` / `bonus` as JSON numbers (null when unknown).
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Annotated
from typing import Final

import msgspec

from contracts import ids
from contracts.ids import Id
from contracts.ids import OptionalId

AUTH_QUERY: Final = "authToken"
MAX_PLACES: Final = 6

Text = Annotated[str, msgspec.Meta(max_length=256, pattern=ids.TEXT_PATTERN)]


class Status(enum.StrEnum):
    OK = "OK"
    TEMPORARY_ERROR = "TEMPORARY_ERROR"
    INVALID_TOKEN_ID = "INVALID_TOKEN_ID"
    INVALID_SID = "INVALID_SID"
    ACCOUNT_LOCKED = "ACCOUNT_LOCKED"
    FATAL_ERROR_CLOSE_USER_SESSION = "FATAL_ERROR_CLOSE_USER_SESSION"
    UNKNOWN_ERROR = "UNKNOWN_ERROR"
    INVALID_PARAMETER = "INVALID_PARAMETER"
    BET_ALREADY_SETTLED = "BET_ALREADY_SETTLED"
    BET_DOES_NOT_EXIST = "BET_DOES_NOT_EXIST"
    BET_ALREADY_EXIST = "BET_ALREADY_EXIST"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    FINAL_ERROR_ACTION_FAILED = "FINAL_ERROR_ACTION_FAILED"
    CASINO_LIMIT_EXCEEDED_STAKE = "CASINO_LIMIT_EXCEEDED_STAKE"


class Channel(msgspec.Struct, frozen=True, kw_only=True):
    """`P` desktop, `M` mobile."""

    type: Text = ""


class Table(msgspec.Struct, frozen=True, kw_only=True):
    id: OptionalId = ""
    vid: Text | None = None


class GameDetails(msgspec.Struct, frozen=True, kw_only=True):
    table: Table | None = None


class TableGame(msgspec.Struct, frozen=True, kw_only=True):
    """The game a balance call comes from: `type` the game, `details` its table; `id` is
    null (or absent) between rounds."""

    id: OptionalId | None = None
    type: OptionalId = ""
    details: GameDetails | None = None


class Game(TableGame, frozen=True, kw_only=True):
    """A game round: `id` is the round id, `type` the game (`blackjack`, `roulette`...)."""

    id: Id


class Transaction(msgspec.Struct, frozen=True, kw_only=True):
    id: Id
    refId: Id
    amount: msgspec.Raw
    """A JSON number in major units, as sent; read by `services.edge.amounts.wire_amount`."""


class _Call(msgspec.Struct, frozen=True, kw_only=True):
    """What every call carries: the player and the request's `uuid`, echoed in the answer."""

    userId: Id
    uuid: Text = ""


class _SessionCall(_Call, frozen=True, kw_only=True):
    """A call about the player's session, from the channel the player plays on."""

    channel: Channel | None = None


class SidRequest(_SessionCall, frozen=True, kw_only=True):
    """`/sid` (test environments only): a session for a player, without a launch."""

    sid: Text | None = None


class CheckRequest(_SessionCall, frozen=True, kw_only=True):
    """`/check`: validate the launch `sid`; the answer carries the sid to use from now on."""

    sid: Text


class _WalletCall(_Call, frozen=True, kw_only=True):
    """A call on the player's wallet in `currency`, in the session `sid`."""

    sid: Text = ""
    currency: Text


class BalanceRequest(_WalletCall, frozen=True, kw_only=True):
    sid: Text
    game: TableGame | None = None


class TransactionRequest(_WalletCall, frozen=True, kw_only=True):
    """`/debit`, `/credit` and `/cancel`: one wallet call for one bet (`transaction.refId`)."""

    game: Game
    transaction: Transaction


class Jackpot(msgspec.Struct, frozen=True, kw_only=True):
    id: Text = ""
    winAmount: Decimal | None = None


class PromoTransaction(msgspec.Struct, frozen=True, kw_only=True):
    """A promotion's payout. `type` names it (`FreeRoundPlayableSpent`, `RtrMonetaryReward`,
    `JackpotWin`, `RewardGamePlayableSpent`, `RewardGameWinCapReached`,
    `RewardGameMinBetLimitReached`, and types added later, which must be accepted too);
    the type's own fields (voucher, reward, jackpots) are kept for the record."""

    id: Id
    amount: msgspec.Raw
    """A JSON number in major units, as sent; read by `services.edge.amounts.wire_amount`."""
    type: Text = ""
    voucherId: Text = ""
    bonusConfigId: Text = ""
    rewardId: Text = ""
    jackpots: list[Jackpot] | None = None


class PromoPayoutRequest(_WalletCall, frozen=True, kw_only=True):
    """`/promo_payout`: pay the player a promotion (free rounds, rewards, jackpots), once
    per `promoTransaction.id`."""

    promoTransaction: PromoTransaction
    game: Game | None = None


class Response(msgspec.Struct, frozen=True, kw_only=True):
    status: Status
    balance: Decimal | None = None
    bonus: Decimal | None = None
    uuid: str = ""


class CheckResponse(msgspec.Struct, frozen=True, kw_only=True):
    status: Status
    sid: str | None = None
    uuid: str = ""
