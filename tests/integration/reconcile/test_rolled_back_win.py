"""A win the provider rolled back, and its corrected credit, reconcile with the ledger.

The ledger's rollback of a win undoes that credit only: the payout goes back, the stake is
held again and the bet reopens for a corrected credit. A provider's report either lists the
win and its rollback (two lines that cancel out) or leaves both out (it reports what stands);
either way it agrees with the ledger, and both sides count only the corrected payout as won.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TypedDict

import pytest

from contracts.wallet import Credit
from contracts.wallet import Debit
from contracts.wallet import Rollback
from projections.reconcile.postgres import Comparison
from projections.reconcile.postgres import PostgresReconcileView
from services.ledger.application import Ledger
from tests.integration.reconcile.support.played_view import ledger_tx_rows
from tests.integration.reconcile.support.played_view import played_view
from tests.integration.reconcile.support.played_view import reconciled
from tests.integration.reconcile.support.played_view import round_report
from tests.integration.reconcile.support.played_view import tx_report


class Party(TypedDict):
    provider: str
    player: str
    currency: str
    round_id: str


ALICE = Party(provider="hub88", player="alice", currency="EUR", round_id="R-1")


def play(app: Ledger) -> None:
    app.deposit("alice", "EUR", Decimal("100.00"), tx_id="dep-alice")
    app.execute(Debit(**ALICE, tx_id="d1", amount=Decimal("5.00"), bet_id="b1"))
    app.execute(Credit(**ALICE, tx_id="c1", amount=Decimal("12.00")))
    app.execute(Rollback(**ALICE, tx_id="r1", ref_tx_id="c1"))
    app.execute(Credit(**ALICE, tx_id="c2", amount=Decimal("8.00")))


@pytest.fixture
def view(nats_url: str, stream_prefix: str, database_url: str) -> Iterator[PostgresReconcileView]:
    with played_view(nats_url, stream_prefix, database_url, play) as built:
        yield built


def assert_net_figures(result: Comparison) -> None:
    for totals in (result.ledger_totals["EUR"], result.report_totals["EUR"]):
        assert (totals.bets, totals.wins, totals.refunds) == (
            Decimal("5.00"),
            Decimal("8.00"),
            Decimal("0"),
        )
        assert totals.ggr == Decimal("-3.00")


LISTED = [
    ("d1", "debit", "5.00"),
    ("c1", "credit", "12.00"),
    ("r1", "rollback", "-12.00"),
    ("c2", "credit", "8.00"),
]
NET = [("d1", "debit", "5.00"), ("c2", "credit", "8.00")]


@pytest.mark.parametrize(
    "rows", [LISTED, NET], ids=["listing the win and its rollback", "leaving both out"]
)
def test_a_report_listing_the_rolled_back_win_and_its_rollback_or_neither_matches_the_ledger(
    view: PostgresReconcileView, tmp_path: Path, rows: list[tuple[str, str, str]]
) -> None:
    result = reconciled(view, tx_report(tmp_path / "report.csv", rows, "R-1"))
    assert result.differences == []
    assert result.matched == len(rows)
    assert_net_figures(result)


def test_a_report_keeping_a_win_the_ledger_rolled_back_is_a_difference(
    view: PostgresReconcileView, tmp_path: Path
) -> None:
    rows = [("d1", "debit", "5.00"), ("c1", "credit", "12.00"), ("c2", "credit", "8.00")]
    result = reconciled(view, tx_report(tmp_path / "kept.csv", rows, "R-1"))
    assert [(d.status, d.key, d.ledger_kind, d.ledger_amount) for d in result.differences] == [
        ("missing_in_report", "r1", "win_rollback", Decimal("12.00"))
    ]


def test_a_per_round_report_counts_only_the_corrected_payout(
    view: PostgresReconcileView, tmp_path: Path
) -> None:
    result = reconciled(view, round_report(tmp_path / "rounds.csv", "R-1", "5.00", "8.00", "0.00"))
    assert result.differences == []
    assert result.matched == 1


def test_the_rollback_row_names_the_win_it_reverses(
    view: PostgresReconcileView, database_url: str
) -> None:
    assert ledger_tx_rows(view, database_url) == [
        ("d1", "bet", Decimal("5.00"), ""),
        ("c1", "win", Decimal("12.00"), ""),
        ("r1", "win_rollback", Decimal("12.00"), "c1"),
        ("c2", "win", Decimal("8.00"), ""),
    ]
