"""The balances view: per player wallet and currency, balance, held and available.

Each row also carries the log position (notification id = JetStream stream sequence) of
the last event that changed it; the view as a whole reflects the log up to its tracking
row, which is what the platform API reports as `logPosition`.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from eventsourcing.persistence import Tracking
from eventsourcing.persistence import TrackingRecorder


@dataclass(frozen=True, slots=True)
class WalletOpened:
    """Wallet `wallet_id` belongs to `player` and holds `currency`."""

    wallet_id: str
    player: str
    currency: str
    position: int


@dataclass(frozen=True, slots=True)
class WalletMoved:
    """The cash balance of a wallet changed by `balance` (the event at `position`)."""

    wallet_id: str
    position: int
    balance: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class HoldPlaced:
    """`amount` is held on the wallet for bet `bet` until the hold ends."""

    wallet_id: str
    bet: str
    amount: Decimal
    position: int


@dataclass(frozen=True, slots=True)
class HoldEnded:
    """The hold for bet `bet` is captured or released: it no longer counts as held."""

    wallet_id: str
    bet: str
    position: int


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of a wallet's transaction history: the event at `position`.

    `kind` is what happened (DEPOSIT, WITHDRAWAL, TO_TABLE_BANK, FROM_TABLE_BANK, HOLD,
    HOLD_RELEASED, STAKE, WIN, REVERSAL, AWARD, AWARD_REVERSED); `amount` the event's
    amount (0 when it names none), `balance_change` what it did to the cash balance;
    `reference` the ledger's transaction ref (`trn_...`) or the bet's key; `account` the
    counter-account.
    """

    wallet_id: str
    position: int
    kind: str
    amount: Decimal
    balance_change: Decimal
    reference: str
    at: datetime
    account: str = ""


Movement = WalletOpened | WalletMoved | HoldPlaced | HoldEnded | HistoryEntry


@dataclass(frozen=True, slots=True)
class HistoryLine:
    currency: str
    position: int
    kind: str
    amount: Decimal
    balance_change: Decimal
    reference: str
    account: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CurrencyBalance:
    currency: str
    balance: Decimal
    held: Decimal
    position: int
    """Log position of the last event that changed this wallet."""

    @property
    def available(self) -> Decimal:
        return self.balance - self.held


@dataclass(frozen=True, slots=True)
class WalletBalances:
    player: str
    balances: tuple[CurrencyBalance, ...]
    position: int
    """The log position the whole view reflects (its tracking row)."""


class BalancesView(TrackingRecorder):
    """Command: `apply` a run of movements with its tracking row. Queries: one player."""

    @abstractmethod
    def apply(self, tracking: Tracking, changes: Sequence[Movement]) -> None:
        """Record `changes` and `tracking` atomically; a repeated `tracking` is refused."""

    @abstractmethod
    def wallet(self, player: str, application_name: str) -> WalletBalances | None:
        """Every currency of `player`, or None if the view has never seen the player."""

    @abstractmethod
    def history(
        self, player: str, *, currency: str = "", before: int = 0, limit: int = 50
    ) -> list[HistoryLine]:
        """`player`'s history, newest first: at most `limit` lines before log position
        `before` (0: from the newest), of one currency or all."""

    @abstractmethod
    def position_of(self, reference: str) -> int | None:
        """The log position of the history line with this `reference`, if the view has it."""
