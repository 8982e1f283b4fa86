"""Ezugi seamless wallet: the calls Ezugi's live tables send to the operator.

Ezugi POSTs JSON to `/auth`, `/debit`, `/credit` and `/rollback`. The `hash` header is the
base64 HMAC-SHA256 of the raw body under the operator's secret key, and `operatorId` in
the body must be the operator's. Amounts and balances are JSON numbers in major units
(`12.5` EUR). Every answer is HTTP 200 with `errorCode` (0 = success) and
`errorDescription`.

A debit is named by its `transactionId`; its credit points at it with `debitTransactionId`
and its rollback repeats the debit's `transactionId`. `roundId` groups the debits of one
round (seats, side bets); `isEndRound` on a credit closes it.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Annotated
from typing import Final

import msgspec

from contracts import signatures
from contracts.ids import Id
from contracts.ids import OptionalId
from contracts.ids import Text

SIGNATURE_HEADER: Final = "hash"

Amount = msgspec.Raw
"""A JSON number in major units, as sent; read by `services.edge.amounts.wire_amount`."""
Number = Annotated[int, msgspec.Meta(ge=0, lt=10**18)]
"""A numeric id (Ezugi sends round, game and table ids as numbers): at most 18 digits."""
RoundId = Number | Id
"""Ids are never empty (`contracts.ids`): an empty `debitTransactionId` would name no
debit, and the ledger reads an empty bet id as "every open bet of the round"."""
Name = Number | OptionalId
"""A game or table: a number or an id."""


sign: Final = signatures.sign_base64
"""The `hash` header for a raw body: base64 HMAC-SHA256 under the operator's secret."""
verify: Final = signatures.verify_base64
"""Constant-time check of the `hash` header; a missing header never verifies."""


class _Call(msgspec.Struct, frozen=True, kw_only=True):
    """What every call carries: the operator it is for and the player's session token."""

    operatorId: int
    token: Text = ""
    platformId: int = 0
    timestamp: int = 0


class AuthRequest(_Call, frozen=True, kw_only=True):
    """The player opened a table: exchange the launch token for a session token."""

    token: Text


class _Transaction(_Call, frozen=True, kw_only=True):
    """A call that moves money for the player `uid`, named by `transactionId` forever."""

    uid: Id
    transactionId: Id
    roundId: RoundId
    currency: OptionalId
    gameId: Name = 0
    tableId: Name = 0
    serverId: int = 0
    seatId: OptionalId = ""
    betTypeID: int = 0


class DebitRequest(_Transaction, frozen=True, kw_only=True):
    """Take `debitAmount` for one bet (`betTypeID`: 101 table bet, 104 insurance, ...)."""

    token: Text
    debitAmount: Amount


class CreditRequest(_Transaction, frozen=True, kw_only=True):
    """Pay `creditAmount` (0 for a lost bet) for the debit `debitTransactionId`.

    `returnReason`: 0 bet result, 1 cancelled bet, 2 cancelled round, 7 manual credit.
    """

    debitTransactionId: Id
    creditAmount: Amount
    returnReason: int = 0
    isEndRound: bool = False
    creditIndex: OptionalId = ""
    gameDataString: Text = ""


class RollbackRequest(_Transaction, frozen=True, kw_only=True):
    """Give back the debit `transactionId` (`rollbackAmount` is its amount)."""

    rollbackAmount: Amount


class _Answer(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    operatorId: int
    errorCode: int
    errorDescription: str
    timestamp: int
    uid: str = ""


class AuthResponse(_Answer, frozen=True, kw_only=True, omit_defaults=True):
    nickName: str = ""
    token: Text = ""
    playerTokenAtLaunch: str = ""
    balance: Decimal | None = None
    currency: str = ""
    language: str = ""
    clientIP: str = ""
    VIP: str = ""


class TransactionResponse(_Answer, frozen=True, kw_only=True, omit_defaults=True):
    token: Text = ""
    transactionId: str = ""
    roundId: int | str = ""
    balance: Decimal | None = None
    currency: str = ""


class Code(enum.IntEnum):
    SUCCESS = 0
    GENERAL_ERROR = 1
    INSUFFICIENT_FUNDS = 3
    TOKEN_NOT_FOUND = 6
    USER_NOT_FOUND = 7
    USER_BLOCKED = 8
    TRANSACTION_NOT_FOUND = 9
    TRANSACTION_TIMED_OUT = 10


auth_request_decoder: Final = msgspec.json.Decoder(AuthRequest)
debit_request_decoder: Final = msgspec.json.Decoder(DebitRequest)
credit_request_decoder: Final = msgspec.json.Decoder(CreditRequest)
rollback_request_decoder: Final = msgspec.json.Decoder(RollbackRequest)
auth_response_decoder: Final = msgspec.json.Decoder(AuthResponse)
transaction_response_decoder: Final = msgspec.json.Decoder(TransactionResponse)
encoder: Final = msgspec.json.Encoder(decimal_format="number")
"""Amounts go out as JSON numbers (`12.50`), exact: never through a float."""
