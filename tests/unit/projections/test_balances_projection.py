"""The balances projection, given the ledger's events, gives the ledger's balances.

No socket: the ledger runs in memory and the view is a dict that follows the same
contract as the PostgreSQL one (changes applied with their tracking row, once).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pytest
from eventsourcing.persistence import IntegrityError
from eventsourcing.persistence import Tracking

from contracts.wallet import AwardCause
from projections.balances.projection import BalancesProjection
from projections.balances.view import BalancesView
from projections.balances.view import CurrencyBalance
from projections.balances.view import HistoryEntry
from projections.balances.view import HistoryLine
from projections.balances.view import HoldEnded
from projections.balances.view import HoldPlaced
from projections.balances.view import Movement
from projections.balances.view import WalletBalances
from projections.balances.view import WalletMoved
from projections.balances.view import WalletOpened
from services.ledger.application import Ledger
from services.simulate.roulette_log import fund
from services.simulate.roulette_log import play
from tests.unit.ledger.support.builders import award
from tests.unit.ledger.support.builders import p1_funded
from tests.unit.ledger.support.builders import rollback
from tests.unit.projections.support.project_log import project_log


class MemoryBalancesView(BalancesView):
    def __init__(self) -> None:
        self.wallets: dict[str, dict[str, object]] = {}
        self.holds: dict[tuple[str, str], Decimal] = {}
        self.positions: dict[str, int] = {}
        self.lines: list[HistoryEntry] = []

    def insert_tracking(self, tracking: Tracking) -> None:
        if tracking.notification_id <= self.positions.get(tracking.application_name, 0):
            raise IntegrityError(f"{tracking} recorded already")
        self.positions[tracking.application_name] = tracking.notification_id

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.positions.get(application_name)

    def apply(self, tracking: Tracking, changes: Sequence[Movement]) -> None:
        self.insert_tracking(tracking)
        for change in changes:
            match change:
                case WalletOpened():
                    self.wallets[change.wallet_id] = {
                        "player": change.player,
                        "currency": change.currency,
                        "balance": Decimal(0),
                        "held": Decimal(0),
                    }
                case WalletMoved():
                    wallet = self.wallets[change.wallet_id]
                    wallet["balance"] = Decimal(str(wallet["balance"])) + change.balance
                case HoldPlaced():
                    self.holds[(change.wallet_id, change.bet)] = change.amount
                    wallet = self.wallets[change.wallet_id]
                    wallet["held"] = Decimal(str(wallet["held"])) + change.amount
                case HoldEnded():
                    amount = self.holds.pop((change.wallet_id, change.bet))
                    wallet = self.wallets[change.wallet_id]
                    wallet["held"] = Decimal(str(wallet["held"])) - amount
                case HistoryEntry():
                    self.lines.append(change)

    def history(
        self, player: str, *, currency: str = "", before: int = 0, limit: int = 50
    ) -> list[HistoryLine]:
        found = [
            HistoryLine(
                currency=str(self.wallets[e.wallet_id]["currency"]),
                position=e.position,
                kind=e.kind,
                amount=e.amount,
                balance_change=e.balance_change,
                reference=e.reference,
                account=e.account,
                at=e.at,
            )
            for e in reversed(self.lines)
            if self.wallets[e.wallet_id]["player"] == player and (not before or e.position < before)
        ]
        return [line for line in found if not currency or line.currency == currency][:limit]

    def position_of(self, reference: str) -> int | None:
        return min((e.position for e in self.lines if e.reference == reference), default=None)

    def wallet(self, player: str, application_name: str) -> WalletBalances | None:
        rows = [w for w in self.wallets.values() if w["player"] == player]
        return WalletBalances(
            player=player,
            balances=tuple(
                CurrencyBalance(
                    currency=str(w["currency"]),
                    balance=Decimal(str(w["balance"])),
                    held=Decimal(str(w["held"])),
                    position=0,
                )
                for w in rows
            ),
            position=self.positions.get(application_name, 0),
        )


def test_every_wallet_event_applied_once_gives_the_ledgers_balances() -> None:
    ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    fund(ledger, 8)
    play(ledger, rounds=120, player_count=8, seed=2)
    view = MemoryBalancesView()
    projection = BalancesProjection(view)
    project_log(ledger, projection)

    for n in range(8):
        wallet = view.wallet(f"p{n:03d}", ledger.name)
        assert wallet is not None and len(wallet.balances) == 2
        for row in wallet.balances:
            truth = ledger.balance(f"p{n:03d}", row.currency)
            assert (row.balance, row.held, row.available) == (
                truth.balance,
                truth.held,
                truth.available,
            )
            # The history's balance changes add up to the balance.
            lines = view.history(f"p{n:03d}", currency=row.currency, limit=10**6)
            assert sum((line.balance_change for line in lines), Decimal(0)) == truth.balance
            assert [line.position for line in lines] == sorted(
                (line.position for line in lines), reverse=True
            )
    # Open holds are exactly the ledger's open bets' stakes.
    assert sum(view.holds.values(), Decimal(0)) == sum(
        (ledger.balance(f"p{n:03d}", c).held for n in range(8) for c in ("EUR", "USD")),
        Decimal(0),
    )

    # Check an event offered again is refused before anything changes.
    last = ledger.recorder.max_notification_id()
    assert last is not None
    notification = ledger.recorder.select_notifications(last, 1)[0]
    before = dict(view.wallets)
    with pytest.raises(IntegrityError):
        projection.process_event(
            ledger.mapper.to_domain_event(notification), Tracking(ledger.name, last)
        )
    assert view.wallets == before


def test_awards_and_their_rollbacks_move_the_views_balance_as_the_ledgers() -> None:
    """A payment outside any bet (promotion, jackpot, adjustment) and an award's reversal."""
    ledger = p1_funded()
    ledger.execute(award("promo-1", "12.50"))
    ledger.execute(award("jackpot-1", "300.00", AwardCause.JACKPOT))
    ledger.execute(award("adjust-1", "-40.00", AwardCause.ADJUSTMENT))
    ledger.execute(rollback("rb-1", "promo-1"))
    view = MemoryBalancesView()
    projection = BalancesProjection(view)
    project_log(ledger, projection)

    truth = ledger.balance("p1", "EUR")
    assert truth.balance == Decimal("360.00")  # 100 + 12.50 + 300 - 40 - 12.50
    seen = view.wallet("p1", ledger.name)
    assert seen is not None
    assert {row.currency: row.balance for row in seen.balances}["EUR"] == truth.balance
    lines = view.history("p1", currency="EUR")
    assert [(line.kind, line.balance_change) for line in lines[:4]] == [
        ("AWARD_REVERSED", Decimal("-12.50")),
        ("AWARD", Decimal("-40.00")),
        ("AWARD", Decimal("300.00")),
        ("AWARD", Decimal("12.50")),
    ]
