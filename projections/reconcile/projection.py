"""The ledger's provider transactions, projected for reconcile.

A bet's stake is a `bet` row under the provider's debit transaction id (`Bet.Placed`); its
settlement is a `win` row under the provider's credit transaction id, with the payout
(`Bet.Settled`; a lost bet adds 0, so the credit still matches); a refund is a `refund` row
under the rollback's transaction id, with the stake (`Bet.Refunded`; a refund caused by a
voided round has no provider transaction and counts in per-round totals only).

Only those three topics are subscribed to; the tracking row moves with each of them.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from projections.reconcile.postgres import BetResolved, Change, LedgerTransactionsView, LedgerTx

LEDGER_DOMAIN = "services.ledger.domain"
PLACED, SETTLED, REFUNDED = "Bet.Placed", "Bet.Settled", "Bet.Refunded"


def changes(domain_event: Any, position: int) -> list[Change]:
    """What one ledger event changes in the view (nothing for events it does not follow)."""
    kind = type(domain_event).__qualname__
    e = domain_event
    if kind == PLACED:
        return [
            LedgerTx(
                provider=e.provider,
                tx_id=e.tx_id,
                kind="bet",
                player=e.player,
                currency=e.currency,
                amount=e.stake,
                round_id=e.round_id,
                occurred_at=e.timestamp,
                position=position,
                bet_id=e.bet_id,
                bet_key=e.originator_id.hex,
            )
        ]
    if kind == SETTLED:
        return [
            BetResolved(
                bet_key=e.originator_id.hex,
                kind="win",
                tx_id=e.tx_id,
                amount=e.payout,
                occurred_at=e.timestamp,
                position=position,
            )
        ]
    if kind == REFUNDED:
        return [
            BetResolved(
                bet_key=e.originator_id.hex,
                kind="refund",
                tx_id=e.tx_id,
                amount=None,
                occurred_at=e.timestamp,
                position=position,
            )
        ]
    return []


class LedgerTransactionsProjection(Projection[LedgerTransactionsView]):
    name = "reconcile"
    topics = tuple(f"{LEDGER_DOMAIN}:{k}" for k in (PLACED, SETTLED, REFUNDED))

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.record(tracking, changes(domain_event, tracking.notification_id))
