"""Balances: every wallet event of the ledger, applied once to the balances view."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from projections.balances.view import BalancesView
from projections.balances.view import HistoryEntry
from projections.balances.view import HoldEnded
from projections.balances.view import HoldPlaced
from projections.balances.view import Movement
from projections.balances.view import WalletMoved
from projections.balances.view import WalletOpened
from services.ledger.domain import CASHIER
from services.ledger.domain import Wallet
from services.ledger.domain import topics_of


class BalancesProjection(Projection[BalancesView]):
    name = "balances"
    source_topics = topics_of(
        Wallet.Opened,
        Wallet.Deposited,
        Wallet.Withdrawn,
        Wallet.StakeHeld,
        Wallet.HoldReleased,
        Wallet.HoldCaptured,
        Wallet.WinCredited,
        Wallet.SettlementReversed,
        Wallet.Awarded,
        Wallet.AwardReversed,
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
        kind = "DEPOSIT" if e.account == CASHIER else "FROM_TABLE_BANK"
        self._moved(e, tracking, e.amount, kind, e.amount, e.tx_ref, e.account)

    @process_event.register
    def _(self, e: Wallet.Withdrawn, tracking: Tracking) -> None:
        kind = "WITHDRAWAL" if e.account == CASHIER else "TO_TABLE_BANK"
        self._moved(e, tracking, -e.amount, kind, e.amount, e.tx_ref, e.account)

    @process_event.register
    def _(self, e: Wallet.WinCredited, tracking: Tracking) -> None:
        self._moved(e, tracking, e.amount, "WIN", e.amount, e.bet)

    @process_event.register
    def _(self, e: Wallet.SettlementReversed, tracking: Tracking) -> None:
        self._moved(e, tracking, e.stake - e.payout, "REVERSAL", e.payout, e.bet)

    @process_event.register
    def _(self, e: Wallet.Awarded, tracking: Tracking) -> None:
        self._moved(e, tracking, e.amount, "AWARD", e.amount, e.tx_ref, e.account)

    @process_event.register
    def _(self, e: Wallet.AwardReversed, tracking: Tracking) -> None:
        self._moved(e, tracking, -e.amount, "AWARD_REVERSED", e.amount, e.tx_ref, e.account)

    @process_event.register
    def _(self, e: Wallet.StakeHeld, tracking: Tracking) -> None:
        wallet, position = e.originator_id.hex, tracking.notification_id
        self.view.apply(
            tracking,
            [
                HoldPlaced(wallet, e.bet, e.amount, position),
                self._line(e, tracking, "HOLD", e.amount, Decimal(0), e.bet),
            ],
        )

    @process_event.register
    def _(self, e: Wallet.HoldReleased, tracking: Tracking) -> None:
        wallet, position = e.originator_id.hex, tracking.notification_id
        self.view.apply(
            tracking,
            [
                HoldEnded(wallet, e.bet, position),
                self._line(e, tracking, "HOLD_RELEASED", Decimal(0), Decimal(0), e.bet),
            ],
        )

    @process_event.register
    def _(self, e: Wallet.HoldCaptured, tracking: Tracking) -> None:
        wallet = e.originator_id.hex
        position = tracking.notification_id
        self.view.apply(
            tracking,
            [
                HoldEnded(wallet, e.bet, position),
                WalletMoved(wallet, position, -e.amount),
                self._line(e, tracking, "STAKE", e.amount, -e.amount, e.bet),
            ],
        )

    def _moved(
        self,
        e: Any,
        tracking: Tracking,
        change: Decimal,
        kind: str,
        amount: Decimal,
        reference: str,
        account: str = "",
    ) -> None:
        changes: list[Movement] = [
            WalletMoved(e.originator_id.hex, tracking.notification_id, change),
            self._line(e, tracking, kind, amount, change, reference, account),
        ]
        self.view.apply(tracking, changes)

    @staticmethod
    def _line(
        e: Any,
        tracking: Tracking,
        kind: str,
        amount: Decimal,
        change: Decimal,
        reference: str,
        account: str = "",
    ) -> HistoryEntry:
        return HistoryEntry(
            wallet_id=e.originator_id.hex,
            position=tracking.notification_id,
            kind=kind,
            amount=amount,
            balance_change=change,
            reference=reference,
            at=e.timestamp,
            account=account,
        )
