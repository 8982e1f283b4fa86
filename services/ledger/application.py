"""The ledger application: wallet commands, provider game events, round book. (skeleton)"""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from eventsourcing.application import Application

from contracts.events import AnyProviderEvent
from contracts.wallet import AnyWalletCommand, Balance, WalletReply
from services.ledger.views import RoundState


class Ledger(Application[UUID]):
    """Sync core; callers on an event loop use `run_in_executor`.

    Raises `services.ledger.errors.LedgerRefused` (with `.code`) for every refusal.
    """

    name = "ledger"

    def execute(self, command: AnyWalletCommand) -> WalletReply:
        raise NotImplementedError

    def balance(self, player: str, currency: str) -> Balance:
        raise NotImplementedError

    def open_wallet(self, player: str, currency: str) -> None:
        raise NotImplementedError

    def deposit(self, player: str, currency: str, amount: Decimal, *, tx_id: str) -> Balance:
        raise NotImplementedError

    def withdraw(self, player: str, currency: str, amount: Decimal, *, tx_id: str) -> Balance:
        raise NotImplementedError

    def record_event(self, event: AnyProviderEvent) -> None:
        raise NotImplementedError

    def round_state(self, provider: str, round_id: str) -> RoundState:
        raise NotImplementedError
