"""The platform's cashier: wallets, deposits, withdrawals, table-bank transfers, history.

A player has one wallet per currency. Money comes in from the platform's cashier
(`deposit`) and goes back out to it (`withdraw`); with the transfer-wallet model it also
moves into a provider's table bank (`toTableBank`) and back (`fromTableBank`). Every money
call carries an `idempotencyKey`: the same key with the same payload gets the original
answer and moves nothing again; the same key with another payload is refused
(`LBRG-409 IDEMPOTENCY_CONFLICT`). Keys are scoped to the cashier, per platform.

Amounts are decimal strings in the currency's precision (`"5.00"` EUR, `"500"` JPY).
Schemas only grow: new fields come with defaults.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import msgspec

from contracts.ids import Id
from contracts.money import AmountText


class CurrencyBalance(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One currency of a player's wallets."""

    currency: str
    balance: Decimal
    """Cash in the wallet."""
    held: Decimal
    """Stakes on hold for open bets."""
    available: Decimal
    """What the player can stake or withdraw: balance minus held."""
    log_position: int
    """Log position of the last event that changed this wallet."""


class PlayerBalances(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Every currency of a player's wallets, as of the view's log position."""

    player: str
    log_position: int
    """The log position the whole view reflects: pass it as `atLeast` to read a write back."""
    balances: tuple[CurrencyBalance, ...]


class MoneyKind(enum.StrEnum):
    DEPOSIT = "DEPOSIT"
    """From the platform's cashier into the player's wallet."""
    WITHDRAWAL = "WITHDRAWAL"
    """From the player's wallet back to the platform's cashier."""
    TO_TABLE_BANK = "TO_TABLE_BANK"
    """From the player's wallet into a provider's table bank (transfer wallet)."""
    FROM_TABLE_BANK = "FROM_TABLE_BANK"
    """From a provider's table bank back into the player's wallet (transfer wallet)."""


class OpenWallet(msgspec.Struct, frozen=True, kw_only=True):
    """Open the player's wallet in `currency` (nothing happens if it is open already)."""

    currency: str


class Wallet(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One wallet of a player, as the ledger has it now."""

    player: str
    currency: str
    balance: Decimal
    held: Decimal
    available: Decimal


class CashierMove(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Move `amount` in or out of the player's wallet, exactly once per `idempotencyKey`."""

    idempotency_key: Id
    currency: str
    amount: AmountText
    """A positive decimal string in the currency's precision: `"25.00"`."""


class TableBankMove(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Move `amount` between the player's wallet and `provider`'s table bank (transfer
    wallet), exactly once per `idempotencyKey`. Out of the bank, `amount` is what the
    provider reports the player has there."""

    idempotency_key: Id
    provider: str
    currency: str
    amount: AmountText


class CashierReceipt(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What a cashier call did; a repeat of the call gets the same receipt (`replayed`)."""

    transaction_id: str
    """The ledger's id for the movement (`trn_...`), stable forever."""
    idempotency_key: str
    kind: MoneyKind
    player: str
    currency: str
    amount: Decimal
    balance: Decimal
    """The wallet's cash balance right after the movement."""
    available: Decimal
    log_position: int
    """The log position of the movement: pass it as `atLeast` to read it back."""
    replayed: bool = False
    """True when this answers a repeat: nothing moved this time."""
    provider: str = ""


class HistoryItem(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One event on one of the player's wallets."""

    log_position: int
    currency: str
    kind: str
    """DEPOSIT, WITHDRAWAL, TO_TABLE_BANK, FROM_TABLE_BANK, HOLD (a stake held for a bet),
    HOLD_RELEASED, STAKE (a held stake taken), WIN, REVERSAL (a settlement undone), AWARD (a
    provider's payment outside any bet: promotion, jackpot, adjustment), AWARD_REVERSED."""
    amount: Decimal
    balance_change: Decimal
    """What the event did to the cash balance (negative for money out; 0 for holds)."""
    reference: str
    """The ledger's transaction id (`trn_...`), or the bet's key for bet events."""
    account: str
    """The other side: `cashier`, `provider:<id>` (a table bank), or empty for bets."""
    at: datetime


class TransactionHistory(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A page of a player's history, newest first."""

    player: str
    items: tuple[HistoryItem, ...]
    next_before: int | None
    """Pass as `before` for the next (older) page; null on the last page."""
