"""A reconcile table made before awards takes promotion, jackpot and adjustment rows."""

from __future__ import annotations

import uuid
from datetime import UTC
from datetime import datetime
from decimal import Decimal

import psycopg
from psycopg.sql import SQL
from psycopg.sql import Identifier

from projections.catalog import view_env
from projections.rebuild import open_view
from projections.reconcile.postgres import LedgerTx
from projections.reconcile.postgres import PostgresReconcileView
from projections.reconcile.projection import ReconcileProjection
from tests.integration.support.ledgers import jetstream_env


def test_an_older_table_is_migrated_to_the_award_kinds_once(
    database_url: str, nats_url: str, stream_prefix: str
) -> None:
    schema = f"rk_{uuid.uuid4().hex[:8]}"
    table = Identifier(schema, "reconcile_ledger_tx")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SQL("CREATE SCHEMA {0}").format(Identifier(schema)))
        conn.execute(
            SQL(
                "CREATE TABLE {0} (provider text NOT NULL, tx_id text NOT NULL, "
                "kind text NOT NULL CHECK (kind IN ('bet', 'win', 'refund')), "
                "player text NOT NULL, currency text NOT NULL, amount numeric NOT NULL, "
                "round_id text NOT NULL, bet_id text NOT NULL, bet_key text NOT NULL, "
                "occurred_at timestamptz NOT NULL, position bigint NOT NULL, "
                "provider_tx boolean NOT NULL, PRIMARY KEY (provider, tx_id))"
            ).format(table)
        )
    views = view_env(database_url, schema=schema, names=("reconcile",))
    env = jetstream_env(nats_url, stream_prefix, **views)
    view = open_view(ReconcileProjection, PostgresReconcileView, env)
    assert isinstance(view, PostgresReconcileView)
    again = open_view(ReconcileProjection, PostgresReconcileView, env)  # idempotent
    try:
        row = LedgerTx(
            provider="pp",
            tx_id="adj-1",
            kind="adjustment",
            player="p1",
            currency="EUR",
            amount=Decimal("-2.00"),
            round_id="",
            occurred_at=datetime.now(UTC),
            position=1,
        )
        with psycopg.connect(database_url, autocommit=True) as conn:
            values = SQL(", ").join([SQL("%s")] * len(row.row()))
            conn.execute(SQL("INSERT INTO {0} VALUES ({1})").format(table, values), row.row())
            checks = conn.execute(
                "SELECT count(*) FROM pg_constraint WHERE conrelid = to_regclass(%s) "
                "AND contype = 'c'",
                (f'"{schema}"."reconcile_ledger_tx"',),
            ).fetchone()
        assert checks == (1,)
    finally:
        again.close()
        view.drop_schema()
        view.close()
