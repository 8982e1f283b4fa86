"""What a wallet command answers, and what a repeat of it must carry unchanged.

A transaction's reply is stored with its record (`TxRecord.reply`) and answered again to
every repeat (I3); the fingerprint says which repeats are the same transaction.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any
from typing import assert_never

import msgspec

from contracts import money
from contracts.wallet import AnyWalletCommand
from contracts.wallet import Award
from contracts.wallet import Balance
from contracts.wallet import Credit
from contracts.wallet import Debit
from contracts.wallet import Rollback
from services.ledger.domain import Wallet
from services.ledger.domain import tx_record_id


def record_ref(provider: str, tx_id: str) -> str:
    return "trn_" + tx_record_id(provider, tx_id).hex


def fingerprint_of(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _normal(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return ""
    try:
        return str(money.check_amount(amount, currency))
    except money.MoneyError:
        return str(amount)


FINGERPRINT_VERSION = "2:"
"""Prefix of the fingerprints that also cover the game (and a rollback's round): Hub88
refuses a repeated transaction id with "a different reference transactionID, amount,
currency, round, user or game". Records written before it keep their first fingerprint."""


def identity(cmd: AnyWalletCommand) -> tuple[str, str]:
    """The kind of a command and the fingerprint of what a repeat must carry unchanged:
    every field a provider names when it tells a repeat from another transaction."""
    kind, legacy = _legacy_identity(cmd)
    match cmd:
        case Debit() | Credit():
            extra: tuple[str, ...] = (cmd.game,)
        case Rollback():
            extra = (cmd.round_id, cmd.game)
        case Award():
            extra = ()
        case _:
            assert_never(cmd)
    return kind, FINGERPRINT_VERSION + fingerprint_of(legacy, *extra)


def same_payload(stored: str, fingerprint: str, cmd: AnyWalletCommand) -> bool:
    """Whether a repeat carries its first payload; a record older than FINGERPRINT_VERSION
    is compared on the fields it covered."""
    if stored.startswith(FINGERPRINT_VERSION):
        return stored == fingerprint
    return stored == _legacy_identity(cmd)[1]


def _legacy_identity(cmd: AnyWalletCommand) -> tuple[str, str]:
    """The fingerprint before it covered the game (kept to compare old records)."""
    common = (cmd.player, cmd.currency)
    match cmd:
        case Debit():
            picks = msgspec.json.encode(cmd.selections).decode()
            amount = _normal(cmd.amount, cmd.currency)
            return "debit", fingerprint_of(
                "debit", *common, amount, cmd.round_id, cmd.bet_id, picks
            )
        case Credit():
            amount = _normal(cmd.amount, cmd.currency)
            return "credit", fingerprint_of("credit", *common, amount, cmd.round_id, cmd.bet_id)
        case Rollback():
            amount = _normal(cmd.amount, cmd.currency)
            return "rollback", fingerprint_of("rollback", *common, cmd.ref_tx_id, amount)
        case Award():
            amount = _normal(abs(cmd.amount), cmd.currency)
            sign = "-" if cmd.amount < 0 else ""
            fields = (sign + amount, cmd.cause.value, cmd.round_id, cmd.game)
            refs = (cmd.reference, cmd.ref_tx_id)
            return "award", fingerprint_of("award", *common, *fields, *refs)
        case _:
            assert_never(cmd)


def reply_fields(
    tx_ref: str,
    wallet: Wallet | None,
    kind: str,
    *,
    player: str = "",
    currency: str = "",
) -> dict[str, Any]:
    return {
        "tx_ref": tx_ref,
        "player": wallet.player if wallet else player,
        "currency": wallet.currency if wallet else currency,
        "balance": wallet.balance if wallet else Decimal(0),
        "available": wallet.available if wallet else Decimal(0),
        "kind": kind,
        "absorbed": False,
    }


def balance_of(wallet: Wallet) -> Balance:
    return Balance(
        player=wallet.player,
        currency=wallet.currency,
        balance=wallet.balance,
        held=wallet.held,
        available=wallet.available,
    )
