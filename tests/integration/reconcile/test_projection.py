"""The reconcile view from the real ledger's log (JetStream) into PostgreSQL, then a report.

Narrative: bets, a two-bet credit, a loss, a rollback, a bridge-settled round and a void go
through the ledger; the view is built live (one event per transaction, by the library's
`ProjectionRunner`) and again by the batched catch-up into another schema; both copies are
identical, and a provider report of the same transactions reconciles with no difference.
"""

from __future__ import annotations

import contextlib
import csv
import uuid
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
from eventsourcing.projection import ProjectionRunner

from contracts.events import BettingClosed
from contracts.events import BettingOpened
from contracts.events import ResultDeclared
from contracts.events import RoundVoided
from contracts.wallet import Rollback
from projections.catalog import view_env
from projections.rebuild import catch_up
from projections.rebuild import open_view
from projections.reconcile.postgres import PostgresReconcileView
from projections.reconcile.projection import ReconcileProjection
from projections.reconcile.report import open_report
from services.ledger.application import Ledger
from tests.integration.support.ledgers import jetstream_env
from tests.unit.ledger.support.builders import player_bet
from tests.unit.ledger.support.builders import player_credit

NOW = datetime.now(UTC)


def play(app: Ledger) -> None:
    for player in ("alice", "bob"):
        app.open_wallet(player, "EUR")
        app.deposit(player, "EUR", Decimal("100.00"), tx_id=f"dep-{player}")
    app.execute(player_bet("d1", "alice", "5.00", "R-1"))
    app.execute(player_bet("d2", "alice", "3.00", "R-1"))
    app.execute(player_bet("d3", "bob", "9.00", "R-1"))
    app.execute(player_credit("c1", "alice", "12.00", "R-1"))  # settles d1 and d2
    app.execute(player_credit("c3", "bob", "0.00", "R-1"))
    app.execute(player_bet("d4", "bob", "1.00", "R-2"))
    app.execute(
        Rollback(
            provider="evo", tx_id="r4", player="bob", currency="EUR", ref_tx_id="d4", round_id="R-2"
        )
    )
    # A round the bridge settles itself, and a voided one: no provider credit.
    opened = {"table": "T1", "game": "roulette", "occurred_at": NOW, "closes_at": NOW}
    app.record_event(BettingOpened(provider="evo", round_id="R-3", seq=1, **opened))  # type: ignore[arg-type]
    app.execute(player_bet("d5", "alice", "2.00", "R-3", picks=(("roulette_red", ""),)))
    app.record_event(BettingClosed(provider="evo", round_id="R-3", seq=2, occurred_at=NOW))
    app.record_event(
        ResultDeclared(
            provider="evo", round_id="R-3", seq=3, occurred_at=NOW, result={"number": "1"}
        )
    )
    app.record_event(BettingOpened(provider="evo", round_id="R-4", seq=1, **opened))  # type: ignore[arg-type]
    app.execute(player_bet("d6", "bob", "4.00", "R-4"))
    app.record_event(
        RoundVoided(provider="evo", round_id="R-4", seq=2, occurred_at=NOW, cause="DEALER_ERROR")
    )


def test_the_view_follows_the_ledger_live_and_rebuilt_alike_and_reconciles_clean(
    nats_url: str, stream_prefix: str, database_url: str, tmp_path: Path
) -> None:
    ledger_env = jetstream_env(nats_url, stream_prefix, BRIDGE_SETTLED_PROVIDERS="evo")
    live_schema, rebuilt_schema = (f"rc_{uuid.uuid4().hex[:8]}" for _ in range(2))
    live_env = {**ledger_env, **view_env(database_url, schema=live_schema, names=("reconcile",))}
    app = Ledger(ledger_env)
    stack = contextlib.ExitStack()
    try:
        play(app)
        last = app.recorder.max_notification_id()
        runner: ProjectionRunner[Ledger, PostgresReconcileView] = ProjectionRunner(
            application_class=Ledger,
            projection_class=ReconcileProjection,
            view_class=PostgresReconcileView,
            env=live_env,
        )
        with runner:
            runner.wait(last, timeout=30)
            live = runner.view
            stack.callback(live.close)
            rebuilt = open_view(
                ReconcileProjection,
                PostgresReconcileView,
                {
                    **ledger_env,
                    **view_env(database_url, schema=rebuilt_schema, names=("reconcile",)),
                },
            )
            assert isinstance(rebuilt, PostgresReconcileView)
            try:
                catch_up(app, ReconcileProjection(rebuilt))
                diff = rebuilt.differences(live)
                assert diff == [], "\n".join(diff)
            finally:
                rebuilt.drop_schema()
                rebuilt.close()

            with psycopg.connect(database_url) as conn:
                rows = conn.execute(
                    f"SELECT tx_id, kind, player, amount, round_id, provider_tx "
                    f"FROM {live_schema}.reconcile_ledger_tx ORDER BY round_id, kind, tx_id"
                ).fetchall()
            by_tx = {r[0]: r[1:] for r in rows}
            assert by_tx["c1"] == ("win", "alice", Decimal("12.00"), "R-1", True)
            assert by_tx["c3"] == ("win", "bob", Decimal("0.00"), "R-1", True)
            assert by_tx["r4"] == ("refund", "bob", Decimal("1.00"), "R-2", True)
            own = {tx: row for tx, row in by_tx.items() if not row[4]}
            assert sorted((row[0], row[3]) for row in own.values()) == [
                ("refund", "R-4"),
                ("win", "R-3"),
            ]

            # The provider's report of the same transactions: everything matches.
            path = tmp_path / "evo.csv"
            with path.open("w", newline="") as file:
                writer = csv.writer(file)
                writer.writerow(["transaction_id", "type", "amount", "currency", "round_id"])
                for tx, (kind, _player, amount, round_id, provider_tx) in by_tx.items():
                    if provider_tx:
                        writer.writerow([tx, kind, amount, "EUR", round_id])
            window = {"start": NOW - timedelta(hours=1), "end": datetime.now(UTC) + timedelta(1)}
            clean = live.reconcile(open_report(path), provider="evo", **window)
            assert clean.differences == []
            assert clean.matched == sum(1 for row in by_tx.values() if row[4])
            ledger_eur = clean.ledger_totals["EUR"]
            assert ledger_eur.bets == Decimal("24.00")
            assert ledger_eur.refunds == Decimal("5.00")  # d4 rolled back, d6 voided
    finally:
        stack.close()
        app.close()
