"""The ledger's provider transactions, projected for reconcile.

A bet's stake is a `bet` row under the provider's debit transaction id (`Bet.Placed`); its
settlement is a `win` row under the provider's credit transaction id, with the payout
(`Bet.Settled`; a lost bet adds 0, so the credit still matches); a refund is a `refund` row
under the rollback's transaction id, with the stake (`Bet.Refunded`), and, when the bet was
settled already (a void after the credit, a rollback of a settled debit), a `win_rollback`
row keyed `win_rollback:<bet>` with the payout that went back to the house. A rollback of a
credit (`Bet.Reopened`: the payout goes back, the bet awaits a corrected credit) is a
`win_rollback` row under the rollback's transaction id, with the payout taken back and the
credit it undid (`reverses`); it counts against wins, and a report's `rollback` line for it
matches it (see `postgres._match_win_rollbacks`). A bet the ledger
settled or refunded by itself (a round the bridge settles, a void, a late bet) has no
provider transaction: its row is keyed `win:<bet>` / `refund:<bet>` and counts in totals
and per-round reports only.

A payment outside any bet (`Wallet.Awarded`: a promotion, a jackpot, an adjustment) is a
row of its own under the provider's transaction id, its kind the award's cause (`promo`,
`jackpot`, `adjustment`), its amount signed (an adjustment may take money); awards count in
no round's GGR and make no round of their own. An award's reversal by a rollback
(`Wallet.AwardReversed`) is an `award_rollback` row under the rollback's transaction id,
with the amount taken back and the award it undid (`reverses`), matched like a win's
rollback.

Every event of the log moves the tracking row (like the other views), so the view's
position is the log position it reflects and `RunningViews.wait` can wait on it; only
those topics change rows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from projections.reconcile.postgres import BetResolved
from projections.reconcile.postgres import LedgerTx
from projections.reconcile.postgres import PostgresReconcileView
from services.ledger.domain import BET_EVENTS
from services.ledger.domain import Bet
from services.ledger.domain import Wallet
from services.ledger.domain import topics_of


class ReconcileProjection(Projection[PostgresReconcileView]):
    name = "reconcile"
    source_topics = topics_of(*BET_EVENTS, Wallet.Awarded, Wallet.AwardReversed)

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        # Not a provider transaction: only the position moves.
        self.view.apply(tracking, ())

    @process_event.register
    def _(self, e: Bet.Placed, tracking: Tracking) -> None:
        self._recorded(e, tracking, "bet", e.stake, bet_id=e.bet_id, bet_key=e.originator_id.hex)

    @process_event.register
    def _(self, e: Wallet.Awarded, tracking: Tracking) -> None:
        self._recorded(e, tracking, e.cause.lower(), e.amount)

    @process_event.register
    def _(self, e: Wallet.AwardReversed, tracking: Tracking) -> None:
        self._recorded(e, tracking, "award_rollback", abs(e.amount), reverses=e.undone_tx_id)

    @process_event.register
    def _(self, e: Bet.Settled, tracking: Tracking) -> None:
        self.view.apply(tracking, [_resolved(e, "win", e.tx_id, e.payout, tracking)])

    @process_event.register
    def _(self, e: Bet.Reopened, tracking: Tracking) -> None:
        undone = _resolved(e, "win_rollback", e.tx_id, e.payout, tracking, e.undone_tx_id)
        self.view.apply(tracking, [undone])

    @process_event.register
    def _(self, e: Bet.Refunded, tracking: Tracking) -> None:
        changes = [_resolved(e, "refund", e.tx_id, None, tracking)]
        if e.reversed_payout:  # a settled bet refunded: its payout went back to the house
            changes.append(_resolved(e, "win_rollback", "", e.reversed_payout, tracking))
        self.view.apply(tracking, changes)

    def _recorded(
        self,
        e: Bet.Placed | Wallet.Awarded | Wallet.AwardReversed,
        tracking: Tracking,
        kind: str,
        amount: Decimal,
        *,
        bet_id: str = "",
        bet_key: str = "",
        reverses: str = "",
    ) -> None:
        """A provider transaction the ledger recorded: one row under its own `tx_id`."""
        tx = LedgerTx(
            provider=e.provider,
            tx_id=e.tx_id,
            kind=kind,
            player=e.player,
            currency=e.currency,
            amount=amount,
            round_id=e.round_id,
            occurred_at=e.timestamp,
            position=tracking.notification_id,
            bet_id=bet_id,
            bet_key=bet_key,
            reverses=reverses,
        )
        self.view.apply(tracking, [tx])


def _resolved(
    e: Any, kind: str, tx_id: str, amount: Decimal | None, tracking: Tracking, reverses: str = ""
) -> BetResolved:
    return BetResolved(
        bet_key=e.originator_id.hex,
        kind=kind,
        tx_id=tx_id,
        amount=amount,
        occurred_at=e.timestamp,
        position=tracking.notification_id,
        reverses=reverses,
    )
