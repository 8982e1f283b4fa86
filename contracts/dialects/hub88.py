"""Hub88 Operator Wallet API: the calls Hub88 makes to the operator's wallet.

Hub88 POSTs JSON to `/user/info`, `/user/balance`, `/transaction/bet`, `/transaction/win`
and `/transaction/rollback`. Every body is signed: `X-Hub88-Signature` is the Base64 of an
RSA PKCS#1 v1.5 SHA-256 signature of the raw body under Hub88's private key; the operator
verifies it with Hub88's public key. Amounts and balances are integers: the major-unit
amount times 100 000 (3.56 USD is 356000). Every answer is HTTP 200 with a `status`
(`RS_OK` or one of the `RS_ERROR_*` codes below), the echoed `request_uuid`, and the
player's `balance` in the same integer form.

A transaction is named by `transaction_uuid`; a win or rollback names the bet it refers
to by `reference_transaction_uuid`. `round_closed` marks the last transaction of a round.
"""

from __future__ import annotations

import base64
import binascii
import enum
from decimal import ROUND_FLOOR
from decimal import Decimal
from typing import Annotated
from typing import Final

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from contracts import ids
from contracts.ids import Id
from contracts.ids import LongText
from contracts.ids import OptionalId

SIGNATURE_HEADER: Final = "X-Hub88-Signature"
SCALE: Final = 5
"""Hub88 amounts are major units x 10**5."""
MAX_UNITS: Final = 10**18
"""Largest amount the bridge takes (10 trillion major units); above is malformed."""

Units = Annotated[int, msgspec.Meta(ge=0, le=MAX_UNITS)]
OptionalText = Annotated[str, msgspec.Meta(max_length=256, pattern=ids.TEXT_PATTERN)]
Currency = Annotated[str, msgspec.Meta(min_length=3, max_length=5)]


def balance_units(balance: Decimal) -> int:
    """A balance in Hub88's integer form, rounded down: in a currency finer than Hub88's
    five decimals (BTC has eight) the player is never shown more than they can stake."""
    return int(balance.scaleb(SCALE).to_integral_value(rounding=ROUND_FLOOR))


class Status(enum.StrEnum):
    OK = "RS_OK"
    UNKNOWN = "RS_ERROR_UNKNOWN"
    INVALID_PARTNER = "RS_ERROR_INVALID_PARTNER"
    INVALID_TOKEN = "RS_ERROR_INVALID_TOKEN"
    INVALID_GAME = "RS_ERROR_INVALID_GAME"
    WRONG_CURRENCY = "RS_ERROR_WRONG_CURRENCY"
    NOT_ENOUGH_MONEY = "RS_ERROR_NOT_ENOUGH_MONEY"
    USER_DISABLED = "RS_ERROR_USER_DISABLED"
    INVALID_SIGNATURE = "RS_ERROR_INVALID_SIGNATURE"
    TOKEN_EXPIRED = "RS_ERROR_TOKEN_EXPIRED"
    WRONG_SYNTAX = "RS_ERROR_WRONG_SYNTAX"
    WRONG_TYPES = "RS_ERROR_WRONG_TYPES"
    DUPLICATE_TRANSACTION = "RS_ERROR_DUPLICATE_TRANSACTION"
    TRANSACTION_DOES_NOT_EXIST = "RS_ERROR_TRANSACTION_DOES_NOT_EXIST"
    TRANSACTION_ROLLED_BACK = "RS_ERROR_TRANSACTION_ROLLED_BACK"
    LIMIT_REACHED = "RS_ERROR_LIMIT_REACHED"


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    """Hub88's public key from PEM; anything but an RSA key is refused."""
    key = load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the Hub88 verification key must be an RSA public key (PEM)")
    return key


def sign(body: bytes, private_key: rsa.RSAPrivateKey) -> str:
    """The `X-Hub88-Signature` value for a raw body (what Hub88, or our simulator, sends)."""
    signature = private_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify(body: bytes, public_key: rsa.RSAPublicKey, signature: str | None) -> bool:
    """True when `signature` (Base64) is Hub88's signature of exactly `body`."""
    if not signature or len(signature) > 2048:
        return False
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
        public_key.verify(raw, body, padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


class _Call(msgspec.Struct, frozen=True, kw_only=True):
    """What every call carries: the player, a `request_uuid` the answer echoes, the session
    `token` and the game."""

    user: Id
    request_uuid: Id
    token: OptionalText = ""
    game_code: OptionalId = ""


class UserInfoRequest(_Call, frozen=True, kw_only=True):
    """`/user/info`: who is this player (asked when a game launches)."""


class BalanceRequest(_Call, frozen=True, kw_only=True):
    """`/user/balance`: the player's balance in the session's currency."""

    currency: OptionalText = ""
    supplier_user: OptionalId | None = None


class _Transaction(_Call, frozen=True, kw_only=True):
    """A call that moves money or undoes a move, named by `transaction_uuid` forever."""

    transaction_uuid: Id
    round_closed: bool | None = None
    supplier_transaction_id: OptionalText | None = None


class _Money(_Transaction, frozen=True, kw_only=True):
    """A bet or a win: `amount` in `currency` for `round` of `game_code`."""

    game_code: OptionalId
    round: Id
    currency: Currency
    amount: Units
    supplier_user: OptionalId | None = None
    reward_uuid: OptionalText | None = None
    is_free: bool | None = None
    is_aggregated: bool | None = None
    bet: LongText | None = None


class BetRequest(_Money, frozen=True, kw_only=True):
    """`/transaction/bet`: take `amount` from the player for a bet in `round`."""

    token: OptionalText


class WinRequest(_Money, frozen=True, kw_only=True):
    """`/transaction/win`: pay `amount` (0 for a lost bet) for the bet it references."""

    reference_transaction_uuid: Id


class RollbackRequest(_Transaction, frozen=True, kw_only=True):
    """`/transaction/rollback`: undo whatever the referenced transaction did. No amount."""

    reference_transaction_uuid: Id
    round: OptionalId = ""
    currency: OptionalText = ""


class _Answer(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    status: Status
    request_uuid: str = ""
    user: str | None = None


class Response(_Answer, frozen=True, kw_only=True, omit_defaults=True):
    """Every answer: `status`, the echoed `request_uuid`, and the balance when known."""

    currency: str | None = None
    balance: int | None = None


class UserInfoResponse(_Answer, frozen=True, kw_only=True, omit_defaults=True):
    country: str | None = None
    jurisdiction: str | None = None
    sub_partner_id: str | None = None
    currency: str | None = None
