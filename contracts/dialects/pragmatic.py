"""Pragmatic Play Seamless Wallet: the calls Pragmatic Play makes to the operator's wallet.

Pragmatic POSTs form fields (`application/x-www-form-urlencoded`) to `authenticate.html`,
`balance.html`, `bet.html`, `result.html`, `refund.html` and `endRound.html` (plus promo
endpoints). Every request carries `hash`: the lowercase hex MD5 of all other parameters
as `k1=v1&k2=v2...` sorted by key, followed by the operator's secret key. Amounts are
decimal strings in major units. A bet is named by `reference` (a refund repeats the bet's
`reference`), a round by `roundId`.

Answers are JSON with an integer `error` (0 = success) and a `description`; balances
(`cash`, `bonus`) are JSON numbers.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Final
from urllib.parse import urlencode

import msgspec

from contracts import signatures
from contracts.ids import Id
from contracts.ids import OptionalId
from contracts.ids import Text

HASH_FIELD: Final = "hash"
MAX_FIELDS: Final = 64


class Error(enum.IntEnum):
    SUCCESS = 0
    INSUFFICIENT_BALANCE = 1
    PLAYER_NOT_FOUND = 2
    BET_NOT_ALLOWED = 3
    AUTHENTICATION_FAILED = 4
    INVALID_HASH = 5
    PLAYER_FROZEN = 6
    BAD_PARAMETERS = 7
    GAME_NOT_FOUND = 8
    BET_LIMIT_REACHED = 50
    INTERNAL_RETRY = 100
    INTERNAL_NO_RETRY = 101
    INTERNAL_END_ROUND_RETRY = 102
    BET_OUT_OF_LIMITS = 310


DESCRIPTIONS: Final[dict[Error, str]] = {
    Error.SUCCESS: "Success",
    Error.INSUFFICIENT_BALANCE: "Insufficient balance",
    Error.PLAYER_NOT_FOUND: "Player not found or is logged out",
    Error.BET_NOT_ALLOWED: "Bet is not allowed",
    Error.AUTHENTICATION_FAILED: (
        "Player authentication failed due to invalid, not found or expired token"
    ),
    Error.INVALID_HASH: "Invalid hash code",
    Error.PLAYER_FROZEN: "Player is frozen",
    Error.BAD_PARAMETERS: "Bad parameters in the request, please check post parameters",
    Error.GAME_NOT_FOUND: "Game is not found or disabled",
    Error.BET_LIMIT_REACHED: "Bet limit has been reached",
    Error.INTERNAL_RETRY: "Internal server error. Pragmatic Play will retry",
    Error.INTERNAL_NO_RETRY: "Internal server error. No retry",
    Error.INTERNAL_END_ROUND_RETRY: "Internal server error on EndRound. Pragmatic Play will retry",
    Error.BET_OUT_OF_LIMITS: "Bet is out of the player's limits",
}


def payload(params: Mapping[str, str]) -> str:
    """The signed text: every parameter but `hash`, `k=v` joined by `&`, sorted by key."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != HASH_FIELD)


def sign(params: Mapping[str, str], secret: str) -> str:
    return hashlib.md5((payload(params) + secret).encode(), usedforsecurity=False).hexdigest()


def verify(params: Mapping[str, str], secret: str) -> bool:
    given = params.get(HASH_FIELD, "")
    if not given:
        return False
    return signatures.matches(sign(params, secret), given.lower())


def encode_form(params: Mapping[str, str], secret: str) -> bytes:
    """A signed form body, as Pragmatic sends it."""
    signed = dict(params)
    signed[HASH_FIELD] = sign(params, secret)
    return urlencode(signed).encode()


class AuthenticateRequest(msgspec.Struct, frozen=True, kw_only=True):
    """`authenticate.html`: the launch token; the answer names the player and currency."""

    providerId: Text
    token: Id
    gameId: OptionalId = ""
    ipAddress: Text = ""


class _PlayerCall(msgspec.Struct, frozen=True, kw_only=True):
    """What every call after `authenticate.html` carries: the provider and the player."""

    providerId: Text
    userId: Id


class BalanceRequest(_PlayerCall, frozen=True, kw_only=True):
    token: Text = ""


class _RoundCall(_PlayerCall, frozen=True, kw_only=True):
    """A call about the player's part in one round (`roundId`) of a game."""

    gameId: OptionalId
    roundId: Id


class _RoundMoney(_RoundCall, frozen=True, kw_only=True):
    """A bet or a result: `amount` for `reference` in the round."""

    amount: Text
    reference: Id
    timestamp: Text = ""
    roundDetails: Text = ""
    token: Text = ""
    platform: Text = ""
    bonusCode: Text = ""


class BetRequest(_RoundMoney, frozen=True, kw_only=True):
    """`bet.html`: take `amount` for the bet `reference` in round `roundId`."""


class ResultRequest(_RoundMoney, frozen=True, kw_only=True):
    """`result.html`: the player's win for round `roundId` (0 when every bet lost)."""

    promoWinAmount: Text = ""


class _Payment(_PlayerCall, frozen=True, kw_only=True):
    """Money paid (or, an adjustment, taken) outside a bet's result, once per `reference`."""

    amount: Text
    reference: Id
    timestamp: Text = ""


class _GamePayment(_Payment, frozen=True, kw_only=True):
    """A payment won in a game (in round `roundId`, when it says), in the player's session."""

    gameId: OptionalId = ""
    roundId: OptionalId = ""
    token: Text = ""


class BonusWinRequest(_GamePayment, frozen=True, kw_only=True):
    """`bonusWin.html`: what a free-rounds bonus (`bonusCode`) won, paid to the player."""

    bonusCode: Text = ""


class JackpotWinRequest(_GamePayment, frozen=True, kw_only=True):
    """`jackpotWin.html`: a jackpot `jackpotId` won in round `roundId`, paid to the player."""

    jackpotId: Text = ""
    jackpotDetails: Text = ""


class PromoWinRequest(_Payment, frozen=True, kw_only=True):
    """`promoWin.html`: a promotion's prize (tournament, prize drop: `campaignType`,
    `campaignId`), paid to the player."""

    campaignId: Text = ""
    campaignType: Text = ""
    currency: Text = ""


class AdjustmentRequest(_GamePayment, frozen=True, kw_only=True):
    """`adjustment.html`: a correction of the player's balance for round `roundId`;
    `amount` is signed (negative takes money)."""

    validBetAmount: Text = ""


class RefundRequest(_PlayerCall, frozen=True, kw_only=True):
    """`refund.html`: cancel the bet `reference` (the bet's own reference)."""

    reference: Id
    gameId: OptionalId = ""
    roundId: OptionalId = ""
    amount: Text = ""
    timestamp: Text = ""
    roundDetails: Text = ""
    platform: Text = ""
    bonusCode: Text = ""


class EndRoundRequest(_RoundCall, frozen=True, kw_only=True):
    """`endRound.html`: the round is over for this player; no money moves."""

    platform: Text = ""
    bonusCode: Text = ""
    roundDetails: Text = ""


class Response(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    error: int
    description: str
    transactionId: str | None = None
    userId: str | None = None
    token: str | None = None
    currency: str | None = None
    cash: Decimal | None = None
    bonus: Decimal | None = None
    usedPromo: Decimal | None = None
