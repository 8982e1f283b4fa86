"""SoftSwiss / BGaming casino protocol: the wallet calls an aggregator sends to the casino.

The provider POSTs JSON to `/play` (bets and wins in an `actions` array; no `actions` means
"what is the balance"), `/rollback` (rollback actions naming an `original_action_id`) and
`/freespins` (a freespins issue's status, with its total win once played).
Every body is signed: `X-REQUEST-SIGN` is the lowercase hex HMAC-SHA256 of the raw body
under the casino's auth token. Amounts and balances are integers in the currency's minor
unit (cents for EUR, whole yen for JPY).

Errors are a non-200 HTTP status with `{"code", "message"}`, plus `balance` when the player
is known: 403 for a bad signature, 400 for a malformed request, 412 for business refusals
(100 not enough funds, 101 player invalid, 154 currency not allowed, ...).
"""

from __future__ import annotations

import enum
from typing import Annotated
from typing import Final

import msgspec

from contracts import signatures
from contracts.ids import Id
from contracts.ids import OptionalId

SIGNATURE_HEADER: Final = "X-REQUEST-SIGN"

MAX_UNITS: Final = 10**15
"""Largest amount in minor units the bridge takes (10 trillion EUR); anything above is malformed."""

Units = Annotated[int, msgspec.Meta(ge=0, le=MAX_UNITS)]


sign: Final = signatures.sign_hex
"""The `X-REQUEST-SIGN` value for a raw body: hex HMAC-SHA256 under the auth token."""
verify: Final = signatures.verify_hex
"""Constant-time check of `X-REQUEST-SIGN`; a missing header never verifies."""


class BetAction(msgspec.Struct, frozen=True, kw_only=True, tag_field="action", tag="bet"):
    """Take `amount` from the player for this round."""

    action_id: Id
    amount: Units
    jackpot_contribution: Units | None = None


class WinAction(msgspec.Struct, frozen=True, kw_only=True, tag_field="action", tag="win"):
    """Pay `amount` to the player for this round; 0 reports a lost round."""

    action_id: Id
    amount: Units
    jackpot_win: Units | None = None


class RollbackAction(msgspec.Struct, frozen=True, kw_only=True, tag_field="action", tag="rollback"):
    """Undo the bet or win `original_action_id`, whatever it moved. It may arrive first."""

    action_id: Id
    original_action_id: Id


PlayAction = BetAction | WinAction


class _RoundCall(msgspec.Struct, frozen=True, kw_only=True):
    """A call about the player's round `game_id`."""

    user_id: Id
    currency: OptionalId
    game: OptionalId = ""
    game_id: OptionalId = ""
    finished: bool = False
    session_id: OptionalId = ""


class PlayRequest(_RoundCall, frozen=True, kw_only=True):
    """`/play`: the actions of one round (`game_id`), in order; none means a balance query.

    `finished` is true on the request that closes the round.
    """

    actions: list[PlayAction] | None = None


class RollbackRequest(_RoundCall, frozen=True, kw_only=True):
    """`/rollback`: rollback actions for round `game_id`."""

    actions: list[RollbackAction]


class FreespinsRequest(msgspec.Struct, frozen=True, kw_only=True):
    """`/freespins`: a freespins issue changed status; `played` carries what it won in all
    (`total_amount`, minor units), which the casino pays the player."""

    issue_id: Id
    status: OptionalId
    total_amount: Units | None = None
    user_id: OptionalId = ""
    currency: OptionalId = ""
    game: OptionalId = ""


class Transaction(msgspec.Struct, frozen=True, kw_only=True):
    """The casino's record of one action: `tx_id` is empty for a pre-rollback."""

    action_id: str
    tx_id: str
    processed_at: str


class PlayResponse(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A 200 answer: the balance after all actions, and one transaction per action."""

    balance: int
    game_id: str = ""
    transactions: list[Transaction] | None = None


class ErrorResponse(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    code: int
    message: str
    balance: int | None = None


class Code(enum.IntEnum):
    NOT_ENOUGH_FUNDS = 100
    PLAYER_INVALID = 101
    BET_LIMIT = 105
    MAX_BET_EXCEEDED = 106
    GAME_FORBIDDEN = 107
    PLAYER_DISABLED = 110
    CURRENCY_NOT_ALLOWED = 154
    FORBIDDEN_TO_CHANGE = 155
    BAD_REQUEST = 400
    FORBIDDEN = 403
    NOT_FOUND = 404
    GAME_NOT_AVAILABLE = 405
    FREESPINS_NOT_AVAILABLE = 406
    INVALID_FREESPINS_ISSUE = 610
    UNKNOWN = 500
    UNAVAILABLE = 503
    TIMEOUT = 504


HTTP_STATUS: Final[dict[Code, int]] = {
    Code.BAD_REQUEST: 400,
    Code.FORBIDDEN: 403,
    Code.NOT_FOUND: 404,
    Code.UNKNOWN: 503,
    Code.UNAVAILABLE: 503,
    Code.TIMEOUT: 504,
}
"""HTTP status per code; every business refusal not listed here is answered with 412.

The bridge never answers 500: an unexpected failure is code 500 at HTTP 503, so the
provider retries instead of giving up on the transaction."""


def http_status(code: Code) -> int:
    return HTTP_STATUS.get(code, 412)


play_request_decoder: Final = msgspec.json.Decoder(PlayRequest)
rollback_request_decoder: Final = msgspec.json.Decoder(RollbackRequest)
freespins_request_decoder: Final = msgspec.json.Decoder(FreespinsRequest)
play_response_decoder: Final = msgspec.json.Decoder(PlayResponse)
error_response_decoder: Final = msgspec.json.Decoder(ErrorResponse)
encoder: Final = msgspec.json.Encoder()
