"""Balances: every wallet event of the ledger, applied once to the balances view."""

from __future__ import annotations

from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic

from projections.balances.view import (
    BalancesView,
    HoldEnded,
    HoldPlaced,
    WalletMoved,
    WalletOpened,
)
from services.ledger.domain import Wallet


class BalancesProjection(Projection[BalancesView]):
    name = "balances"
    source_topics = tuple(
        get_topic(cls)
        for cls in (
            Wallet.Opened,
            Wallet.Deposited,
            Wallet.Withdrawn,
            Wallet.StakeHeld,
            Wallet.HoldReleased,
            Wallet.HoldCaptured,
            Wallet.WinCredited,
            Wallet.SettlementReversed,
        )
    )

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        # Not a balance change: only the position moves.
        self.view.apply(tracking, ())

    @process_event.register
    def _(self, e: Wallet.Opened, tracking: Tracking) -> None:
        self.view.apply(
            tracking,
            [
                WalletOpened(
                    wallet_id=e.originator_id.hex,
                    player=e.player,
                    currency=e.currency,
                    position=tracking.notification_id,
                )
            ],
        )

    @process_event.register
    def _(self, e: Wallet.Deposited, tracking: Tracking) -> None:
        self._moved(e.originator_id.hex, tracking, e.amount)

    @process_event.register
    def _(self, e: Wallet.Withdrawn, tracking: Tracking) -> None:
        self._moved(e.originator_id.hex, tracking, -e.amount)

    @process_event.register
    def _(self, e: Wallet.WinCredited, tracking: Tracking) -> None:
        self._moved(e.originator_id.hex, tracking, e.amount)

    @process_event.register
    def _(self, e: Wallet.SettlementReversed, tracking: Tracking) -> None:
        self._moved(e.originator_id.hex, tracking, e.stake - e.payout)

    @process_event.register
    def _(self, e: Wallet.StakeHeld, tracking: Tracking) -> None:
        self.view.apply(
            tracking,
            [HoldPlaced(e.originator_id.hex, e.bet, e.amount, tracking.notification_id)],
        )

    @process_event.register
    def _(self, e: Wallet.HoldReleased, tracking: Tracking) -> None:
        self.view.apply(tracking, [HoldEnded(e.originator_id.hex, e.bet, tracking.notification_id)])

    @process_event.register
    def _(self, e: Wallet.HoldCaptured, tracking: Tracking) -> None:
        wallet = e.originator_id.hex
        position = tracking.notification_id
        self.view.apply(
            tracking,
            [HoldEnded(wallet, e.bet, position), WalletMoved(wallet, position, -e.amount)],
        )

    def _moved(self, wallet_id: str, tracking: Tracking, amount: Any) -> None:
        self.view.apply(tracking, [WalletMoved(wallet_id, tracking.notification_id, amount)])
