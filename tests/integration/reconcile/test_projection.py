"""The reconcile view follows bets through the log into PostgreSQL, exactly once per event."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from uuid import UUID

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.postgres import PostgresDatastore

from projections.reconcile.postgres import TABLE, LedgerTransactionsView
from projections.reconcile.projection import changes


class Bet(Aggregate):
    """Shaped like the ledger's `Bet`: the projection reads only these fields."""

    class Placed(Aggregate.Created):
        provider: str
        bet_id: str
        tx_id: str
        player: str
        currency: str
        stake: Decimal
        round_id: str

    @event(Placed)
    def __init__(
        self,
        provider: str,
        bet_id: str,
        tx_id: str,
        player: str,
        currency: str,
        stake: Decimal,
        round_id: str,
    ) -> None:
        self.stake = stake

    class Settled(Aggregate.Event):
        outcome: str
        payout: Decimal
        tx_id: str

    @event(Settled)
    def settle(self, outcome: str, payout: Decimal, tx_id: str) -> None:
        pass

    class Refunded(Aggregate.Event):
        cause: str
        tx_id: str

    @event(Refunded)
    def refund(self, cause: str, tx_id: str) -> None:
        pass


@pytest.fixture
def view(postgres_env: dict[str, str]) -> Iterator[LedgerTransactionsView]:
    datastore = PostgresDatastore(
        dbname=postgres_env["POSTGRES_DBNAME"],
        host=postgres_env["POSTGRES_HOST"],
        port=postgres_env["POSTGRES_PORT"],
        user=postgres_env["POSTGRES_USER"],
        password=postgres_env["POSTGRES_PASSWORD"],
        schema="reconcile_projection",
    )
    with datastore:
        with datastore.transaction(commit=True) as curs:
            curs.execute("DROP SCHEMA IF EXISTS reconcile_projection CASCADE")
            curs.execute("CREATE SCHEMA reconcile_projection")
        recorder = LedgerTransactionsView(datastore, tracking_table_name="reconcile_tracking")
        recorder.create_table()
        yield recorder


def test_bets_wins_and_refunds_become_provider_transactions_once(
    view: LedgerTransactionsView, database_url: str
) -> None:
    app = Application[UUID](env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    a = Bet("evo", "b1", "tx-d1", "alice", "EUR", Decimal("5.00"), "R-1")
    b = Bet("evo", "b2", "tx-d2", "alice", "EUR", Decimal("2.00"), "R-1")
    c = Bet("evo", "b3", "tx-d3", "bob", "EUR", Decimal("9.00"), "R-1")
    d = Bet("evo", "b4", "tx-d4", "bob", "EUR", Decimal("1.00"), "R-2")
    app.save(a, b, c, d)
    a.settle("WIN", Decimal("10.00"), "tx-c1")  # one credit settles both of alice's bets
    b.settle("LOSE", Decimal("0.00"), "tx-c1")
    c.refund("PROVIDER_CANCELLED", "tx-r1")
    d.refund("ROUND_VOIDED", "")  # a void: no provider transaction
    app.save(a, b, c, d)

    for notification in app.recorder.select_notifications(1, 100):
        domain_event = app.mapper.to_domain_event(notification)
        tracking = Tracking("ledger", notification.id)
        view.record(tracking, changes(domain_event, notification.id))
        with pytest.raises(IntegrityError):
            view.record(tracking, changes(domain_event, notification.id))

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            f"SELECT tx_id, kind, player, amount, round_id, provider_tx "
            f"FROM reconcile_projection.{TABLE} ORDER BY tx_id"
        ).fetchall()
    assert rows == [
        ("refund:" + d.id.hex, "refund", "bob", Decimal("1.00"), "R-2", False),
        ("tx-c1", "win", "alice", Decimal("10.00"), "R-1", True),
        ("tx-d1", "bet", "alice", Decimal("5.00"), "R-1", True),
        ("tx-d2", "bet", "alice", Decimal("2.00"), "R-1", True),
        ("tx-d3", "bet", "bob", Decimal("9.00"), "R-1", True),
        ("tx-d4", "bet", "bob", Decimal("1.00"), "R-2", True),
        ("tx-r1", "refund", "bob", Decimal("9.00"), "R-1", True),
    ]
    assert view.max_tracking_id("ledger") == 8
