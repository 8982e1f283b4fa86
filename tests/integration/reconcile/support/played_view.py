"""A reconcile view over a ledger on JetStream in which a test has played alice's calls,
the transaction rows it holds, a provider's report (per transaction or per round) to
match against it, and the match."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import psycopg

from projections.catalog import view_env
from projections.rebuild import catch_up
from projections.rebuild import open_view
from projections.reconcile.postgres import Comparison
from projections.reconcile.postgres import PostgresReconcileView
from projections.reconcile.projection import ReconcileProjection
from projections.reconcile.report import open_report
from services.ledger.application import Ledger
from tests.integration.support.ledgers import jetstream_env


@contextmanager
def played_view(
    nats_url: str, stream_prefix: str, database_url: str, play: Callable[[Ledger], None]
) -> Iterator[PostgresReconcileView]:
    """Open alice's EUR wallet, `play` on the ledger, and yield the view caught up with it
    (in a schema of its own, dropped afterwards)."""
    env = jetstream_env(nats_url, stream_prefix)
    app = Ledger(env)
    built = open_view(
        ReconcileProjection,
        PostgresReconcileView,
        {
            **env,
            **view_env(database_url, schema=f"rp_{uuid.uuid4().hex[:8]}", names=("reconcile",)),
        },
    )
    assert isinstance(built, PostgresReconcileView)
    try:
        app.open_wallet("alice", "EUR")
        play(app)
        catch_up(app, ReconcileProjection(built))
        yield built
    finally:
        built.drop_schema()
        built.close()
        app.close()


def ledger_tx_rows(
    view: PostgresReconcileView, database_url: str
) -> list[tuple[str, str, Decimal, str]]:
    """The view's ledger transactions in log order: (tx_id, kind, amount, tx it reverses)."""
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            f"SELECT tx_id, kind, amount, reverses FROM {view.schema}.reconcile_ledger_tx "
            "ORDER BY position"
        ).fetchall()


def round_report(path: Path, round_id: str, bets: str, wins: str, refunds: str) -> Path:
    """A provider's per-round report at `path` with one EUR round, stamped now."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["round_id", "currency", "bets", "wins", "refunds", "timestamp"])
        writer.writerow([round_id, "EUR", bets, wins, refunds, datetime.now(UTC).isoformat()])
    return path


def tx_report(path: Path, rows: list[tuple[str, str, str]], round_id: str = "") -> Path:
    """A provider's per-transaction report at `path`: each row (tx id, type, amount) in
    EUR, and in round `round_id` when one is named."""
    header = ["transaction_id", "type", "amount", "currency"]
    lines = [[tx, kind, amount, "EUR"] for tx, kind, amount in rows]
    if round_id:
        header.append("round_id")
        lines = [[*line, round_id] for line in lines]
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(lines)
    return path


def reconciled(view: PostgresReconcileView, report: Path) -> Comparison:
    """Hub88's `report` matched against `view`, over the hours either side of now."""
    now = datetime.now(UTC)
    return view.reconcile(
        open_report(report),
        provider="hub88",
        start=now - timedelta(hours=1),
        end=now + timedelta(hours=1),
    )
