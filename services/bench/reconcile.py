"""Reconcile bench, and the generator of ledgers and reports with planted differences.

`measure(database_url)` loads a million ledger transactions into a scratch schema, writes
a provider CSV report of them with planted differences, and times `reconcile` end to end
(COPY of the file, normalisation, the join, totals, fetching the differences). The
generator is shared with the tests, which use it at ten thousand rows.
"""

from __future__ import annotations

import csv
import random
import tempfile
import time
import uuid
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
from psycopg.sql import SQL
from psycopg.sql import Identifier

from projections.reconcile.postgres import Comparison
from projections.reconcile.postgres import LedgerTx
from projections.reconcile.postgres import load
from projections.reconcile.postgres import reconcile
from projections.reconcile.report import open_report

START = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass
class Planted:
    missing_in_report: set[str] = field(default_factory=set)
    missing_in_ledger: set[str] = field(default_factory=set)
    mismatch: set[str] = field(default_factory=set)

    def as_counts(self) -> dict[str, int]:
        return {
            "missing_in_report": len(self.missing_in_report),
            "missing_in_ledger": len(self.missing_in_ledger),
            "mismatch": len(self.mismatch),
        }


def ledger_rows(count: int, provider: str, seed: int = 7) -> list[LedgerTx]:
    """`count` transactions: bets and their wins, ten per round, one second apart."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        kind = "bet" if i % 2 == 0 else ("win" if i % 10 != 9 else "refund")
        rows.append(
            LedgerTx(
                provider=provider,
                tx_id=f"tx-{i:08d}",
                kind=kind,
                player=f"p{i % 997}",
                currency="EUR",
                amount=Decimal(rng.randrange(0, 100_000)).scaleb(-2),
                round_id=f"R-{i // 10:07d}",
                occurred_at=START + timedelta(seconds=i),
                position=i + 1,
                bet_id=f"bet-{i // 2:08d}",
                bet_key=uuid.UUID(int=i // 2).hex,
            )
        )
    return rows


def write_report(
    path: Path, rows: list[LedgerTx], *, missing: int, changed: int, extra: int, seed: int = 11
) -> Planted:
    """A provider CSV of `rows` in its own column names, with planted differences."""
    rng = random.Random(seed)
    picks = rng.sample(range(len(rows)), missing + changed)
    dropped = set(picks[:missing])
    altered = set(picks[missing:])
    planted = Planted()
    types = {"bet": "DEBIT", "win": "CREDIT", "refund": "ROLLBACK"}
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["TransactionId", "Type", "Amount", "Currency", "RoundId", "PlayerId", "Timestamp"]
        )
        for i, row in enumerate(rows):
            if i in dropped:
                planted.missing_in_report.add(row.tx_id)
                continue
            amount = row.amount
            if i in altered:
                amount += Decimal("0.01")
                planted.mismatch.add(row.tx_id)
            writer.writerow(
                [
                    row.tx_id,
                    types[row.kind],
                    str(amount),
                    row.currency,
                    row.round_id,
                    row.player,
                    row.occurred_at.isoformat(),
                ]
            )
        last = rows[-1].occurred_at if rows else START
        for j in range(extra):
            tx_id = f"extra-{j:06d}"
            planted.missing_in_ledger.add(tx_id)
            writer.writerow([tx_id, "DEBIT", "1.00", "EUR", "R-X", "px", last.isoformat()])
    return planted


def scratch_schema(conn: psycopg.Connection[object], name: str) -> None:
    conn.execute(SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(Identifier(name)))
    conn.execute(SQL("CREATE SCHEMA {0}").format(Identifier(name)))
    conn.commit()


def run(
    database_url: str, rows: int, directory: Path, schema: str
) -> tuple[Comparison, Planted, float]:
    provider = "bench"
    ledger = ledger_rows(rows, provider)
    report_path = directory / "report.csv"
    planted = write_report(
        report_path, ledger, missing=rows // 1000, changed=rows // 1000, extra=50
    )
    with psycopg.connect(database_url) as conn:
        scratch_schema(conn, schema)
        load(conn, ledger, schema=schema)
        conn.execute("ANALYZE")
        conn.commit()
        began = time.perf_counter()
        comparison = compared(conn, schema, report_path, provider, rows)
        elapsed = time.perf_counter() - began
        conn.execute(SQL("DROP SCHEMA {0} CASCADE").format(Identifier(schema)))
        conn.commit()
    return comparison, planted, elapsed


def compared(
    conn: psycopg.Connection[object],
    schema: str,
    report: Path,
    provider: str,
    seconds: int,
    commission_rate: Decimal | None = None,
) -> Comparison:
    """`provider`'s `report` reconciled against the rows loaded into `schema` (`load` of
    `ledger_rows`), over their first `seconds`."""
    return reconcile(
        conn,
        open_report(report),
        provider=provider,
        start=START,
        end=START + timedelta(seconds=seconds),
        commission_rate=commission_rate,
        schema=schema,
    )


def measure(database_url: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        comparison, planted, elapsed = run(
            database_url, 1_000_000, Path(directory), "reconcile_bench"
        )
    found = {k: comparison.counts.get(k, 0) for k in planted.as_counts()}
    if found != planted.as_counts():
        raise AssertionError(f"reconcile found {found}, planted {planted.as_counts()}")
    return {"reconcile_1m_rows_s": round(elapsed, 3)}
