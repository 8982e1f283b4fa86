"""An award the provider rolled back reconciles like a rolled-back win.

A promotion paid and then rolled back (Hub88 reverses whatever a transaction did) is an
`award_rollback` row under the rollback's transaction id, naming the award it undid. A
provider's report either lists the award and its rollback (the `rollback` line matches
that row) or leaves both out (it reports what stands); either way it agrees with the
ledger. A report that keeps an award the ledger took back is a difference.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TypedDict

import pytest

from contracts.wallet import Award
from contracts.wallet import AwardCause
from contracts.wallet import Rollback
from projections.reconcile.postgres import PostgresReconcileView
from services.ledger.application import Ledger
from tests.integration.reconcile.support.played_view import ledger_tx_rows
from tests.integration.reconcile.support.played_view import played_view
from tests.integration.reconcile.support.played_view import reconciled
from tests.integration.reconcile.support.played_view import tx_report


class Party(TypedDict):
    provider: str
    player: str
    currency: str


ALICE = Party(provider="hub88", player="alice", currency="EUR")


def play(app: Ledger) -> None:
    app.execute(Award(**ALICE, tx_id="p1", amount=Decimal("5.00"), cause=AwardCause.PROMO))
    app.execute(Rollback(**ALICE, tx_id="rp1", ref_tx_id="p1"))
    app.execute(Award(**ALICE, tx_id="j1", amount=Decimal("3.00"), cause=AwardCause.JACKPOT))


@pytest.fixture
def view(nats_url: str, stream_prefix: str, database_url: str) -> Iterator[PostgresReconcileView]:
    with played_view(nats_url, stream_prefix, database_url, play) as built:
        yield built


LISTED = [("p1", "promo", "5.00"), ("rp1", "rollback", "-5.00"), ("j1", "jackpot", "3.00")]
NET = [("j1", "jackpot", "3.00")]


@pytest.mark.parametrize(
    "rows", [LISTED, NET], ids=["listing the award and its rollback", "leaving both out"]
)
def test_a_report_listing_the_rolled_back_award_and_its_rollback_or_neither_matches_the_ledger(
    view: PostgresReconcileView, tmp_path: Path, rows: list[tuple[str, str, str]]
) -> None:
    result = reconciled(view, tx_report(tmp_path / "report.csv", rows))
    assert result.differences == []
    assert result.matched == len(rows)


def test_a_report_keeping_an_award_the_ledger_took_back_is_a_difference(
    view: PostgresReconcileView, tmp_path: Path
) -> None:
    rows = [("p1", "promo", "5.00"), ("j1", "jackpot", "3.00")]
    result = reconciled(view, tx_report(tmp_path / "kept.csv", rows))
    assert [(d.status, d.key, d.ledger_kind, d.ledger_amount) for d in result.differences] == [
        ("missing_in_report", "rp1", "award_rollback", Decimal("5.00"))
    ]


def test_the_rollback_row_names_the_award_it_reverses(
    view: PostgresReconcileView, database_url: str
) -> None:
    assert ledger_tx_rows(view, database_url) == [
        ("p1", "promo", Decimal("5.00"), ""),
        ("rp1", "award_rollback", Decimal("5.00"), "p1"),
        ("j1", "jackpot", Decimal("3.00"), ""),
    ]
