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
from decimal import Decimal

import msgspec


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
