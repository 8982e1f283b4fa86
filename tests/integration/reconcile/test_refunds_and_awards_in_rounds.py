"""A settled bet refunded, and a promotion, in the reconcile view as the ledger booked them.

The ledger's refund of a settled bet (a void after the credit, a rollback of the debit)
returns the stake and takes the payout back: the house nets nothing, so the bet's round
has no win left. A payment outside any bet counts in no round and makes no round.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from contracts.wallet import AwardCause
from projections.reconcile.postgres import PostgresReconcileView
from services.ledger.application import Ledger
from tests.integration.reconcile.support.played_view import ledger_tx_rows
from tests.integration.reconcile.support.played_view import played_view
from tests.integration.reconcile.support.played_view import reconciled
from tests.integration.reconcile.support.played_view import round_report
from tests.unit.ledger.support.builders import award
from tests.unit.ledger.support.builders import credit
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import rollback


def play(app: Ledger) -> None:
    app.deposit("alice", "EUR", Decimal("100.00"), tx_id="dep-alice")
    app.execute(debit("d1", "10.00", player="alice", round_id="R-2", provider="hub88"))
    app.execute(credit("c1", "20.00", player="alice", round_id="R-2", provider="hub88"))
    app.execute(rollback("r1", "d1", player="alice", round_id="R-2", provider="hub88"))
    app.execute(award("p1", "5.00", AwardCause.PROMO, player="alice", provider="hub88"))


@pytest.fixture
def view(nats_url: str, stream_prefix: str, database_url: str) -> Iterator[PostgresReconcileView]:
    with played_view(nats_url, stream_prefix, database_url, play) as built:
        yield built


def test_the_refund_of_a_settled_bet_takes_its_payout_back_from_the_wins(
    view: PostgresReconcileView, database_url: str
) -> None:
    rows = [(kind, amount) for _tx, kind, amount, _reverses in ledger_tx_rows(view, database_url)]
    assert rows == [
        ("bet", Decimal("10.00")),
        ("win", Decimal("20.00")),
        ("refund", Decimal("10.00")),
        ("win_rollback", Decimal("20.00")),
        ("promo", Decimal("5.00")),
    ]


def test_a_per_round_report_of_the_voided_round_matches_and_the_promotion_makes_no_round(
    view: PostgresReconcileView, tmp_path: Path
) -> None:
    path = round_report(tmp_path / "rounds.csv", "R-2", "10.00", "0.00", "10.00")
    result = reconciled(view, path)
    assert result.differences == []
    assert result.matched == 1
    totals = result.ledger_totals["EUR"]
    assert (totals.bets, totals.wins, totals.refunds, totals.ggr) == (
        Decimal("10.00"),
        Decimal("0"),
        Decimal("10.00"),
        Decimal("0"),
    )
