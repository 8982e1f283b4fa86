"""Reconcile against a real PostgreSQL: planted differences are found exactly, in CSV and JSON."""

from __future__ import annotations

import argparse
import json
import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from projections.reconcile.audit import Audit
from projections.reconcile.audit import ReconcileRun
from projections.reconcile.commands import summary
from projections.reconcile.postgres import LedgerTx
from projections.reconcile.postgres import load
from projections.reconcile.report import Granularity
from services.bench.reconcile import START
from services.bench.reconcile import compared
from services.bench.reconcile import ledger_rows
from services.bench.reconcile import scratch_schema
from services.bench.reconcile import write_report
from services.bridge.config import command_env
from tests.integration.reconcile.support.settings import use_test_stores
from tests.unit.reconcile.support.cli import parse

ROWS = 10_000


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[object]]:
    with psycopg.connect(database_url) as connection:
        yield connection


def loaded(
    conn: psycopg.Connection[object], schema: str, rows: int, provider: str
) -> list[LedgerTx]:
    """`rows` ledger transactions of `provider`'s, loaded into `schema` (made empty first)."""
    scratch_schema(conn, schema)
    ledger = ledger_rows(rows, provider)
    load(conn, ledger, schema=schema)
    return ledger


def reconcile_command(report: Path, seconds: int, *options: str) -> argparse.Namespace:
    """`livebridge reconcile` of evo's `report` over the loaded rows' first `seconds`, parsed."""
    period = [START.isoformat(), (START + timedelta(seconds=seconds)).isoformat()]
    return parse(["reconcile", str(report), "--provider", "evo", *options, "--period", *period])


def found(comparison_keys: list[tuple[str, str]], status: str) -> set[str]:
    return {key for s, key in comparison_keys if s == status}


def test_reconcile_finds_exactly_the_differences_planted_in_a_csv_report(
    conn: psycopg.Connection[object], tmp_path: Path
) -> None:
    schema = "reconcile_csv"
    ledger = loaded(conn, schema, ROWS, "evo")
    # A row of another provider with a colliding id must not match.
    load(conn, ledger_rows(5, "pragmatic"), schema=schema)
    planted = write_report(tmp_path / "evo.csv", ledger, missing=17, changed=23, extra=9)
    # The provider's export repeated one row.
    with (tmp_path / "evo.csv").open() as file:
        rows = file.readlines()
    repeated = next(r for r in rows[1:] if r.split(",")[0] not in planted.mismatch)
    with (tmp_path / "evo.csv").open("a") as file:
        file.write(repeated)

    comparison = compared(conn, schema, tmp_path / "evo.csv", "evo", ROWS)

    keys = [(d.status, d.key) for d in comparison.differences]
    assert found(keys, "missing_in_report") == planted.missing_in_report
    assert found(keys, "missing_in_ledger") == planted.missing_in_ledger
    assert found(keys, "mismatch") == planted.mismatch
    assert found(keys, "duplicate_in_report") == {repeated.split(",")[0]}
    assert comparison.matched == ROWS - 17 - 23
    assert comparison.mismatch_rate == pytest.approx((17 + 23 + 9 + 1) / (ROWS + 9 + 1))
    changed = next(d for d in comparison.differences if d.status == "mismatch")
    assert changed.report_amount == changed.ledger_amount + Decimal("0.01")  # type: ignore[operator]
    assert changed.position is not None and changed.line is not None
    # Totals: the report is short of the dropped rows, plus the extras, plus 1 cent per change.
    report_eur, ledger_eur = comparison.report_totals["EUR"], comparison.ledger_totals["EUR"]
    assert ledger_eur.bets == sum(r.amount for r in ledger if r.kind == "bet")
    dropped_bets = sum(
        r.amount for r in ledger if r.tx_id in planted.missing_in_report and r.kind == "bet"
    )
    changed_bets = sum(1 for r in ledger if r.tx_id in planted.mismatch and r.kind == "bet")
    repeated_bet = Decimal(repeated.split(",")[2]) if repeated.split(",")[1] == "DEBIT" else 0
    assert report_eur.bets == (
        ledger_eur.bets - dropped_bets + Decimal("0.01") * changed_bets + 9 + repeated_bet
    )


def test_a_json_report_per_round_reconciles_round_totals_and_commission(
    conn: psycopg.Connection[object], tmp_path: Path
) -> None:
    schema = "reconcile_rounds"
    ledger = loaded(conn, schema, 2_000, "ezugi")
    rounds: dict[str, dict[str, Decimal]] = {}
    for row in ledger:
        totals = rounds.setdefault(
            row.round_id, {"bet": Decimal(0), "win": Decimal(0), "refund": Decimal(0)}
        )
        totals[row.kind] += row.amount
    entries = [
        {
            "gameRoundId": round_id,
            "currency": "EUR",
            "totalBet": str(t["bet"]),
            "totalWin": str(t["win"]),
            "refunds": str(t["refund"]),
            "commission": "1.00",
            "date": (START + timedelta(seconds=10 * i)).isoformat(),
        }
        for i, (round_id, t) in enumerate(sorted(rounds.items()))
    ]
    del entries[5]  # missing in the report
    entries[7]["totalWin"] = str(Decimal(entries[7]["totalWin"]) + 5)  # a changed win
    entries.append({**entries[0], "gameRoundId": "R-ghost"})  # only in the report
    path = tmp_path / "ezugi.json"
    path.write_text(json.dumps({"provider": "ezugi", "rounds": entries}))

    comparison = compared(conn, schema, path, "ezugi", 2_000)

    assert comparison.granularity is Granularity.ROUND
    assert {(d.status, d.key) for d in comparison.differences} == {
        ("missing_in_report", "R-0000005"),
        ("mismatch", entries[7]["gameRoundId"]),
        ("missing_in_ledger", "R-ghost"),
    }
    mismatch = next(d for d in comparison.differences if d.status == "mismatch")
    assert "wins" in mismatch.detail
    assert comparison.report_totals["EUR"].commission == Decimal(len(entries))
    assert summary(comparison)["mismatch_rate"] == pytest.approx(3 / 201)


def test_every_difference_is_recorded_in_the_audit_queue(
    conn: psycopg.Connection[object], tmp_path: Path
) -> None:
    schema = "reconcile_audit"
    ledger = loaded(conn, schema, 1_000, "evo")
    write_report(tmp_path / "r.csv", ledger, missing=3, changed=4, extra=2)
    comparison = compared(conn, schema, tmp_path / "r.csv", "evo", 1_000, Decimal("0.1"))
    audit = Audit(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    run_id = audit.record_run(comparison, "r.csv")

    run = audit.run(run_id)
    assert isinstance(run, ReconcileRun) and run.completed
    assert sorted(d["key"] for d in run.differences) == sorted(
        d.key for d in comparison.differences
    )
    topics = [n.topic for n in audit.recorder.select_notifications(1, 100)]
    assert sum(t.endswith("DifferenceFound") for t in topics) == 9
    eur = comparison.ledger_totals["EUR"]
    assert eur.commission == (eur.ggr * Decimal("0.1")).quantize(Decimal("0.01"))


def test_the_command_reports_the_differences_and_queues_them_for_audit_in_jetstream(
    conn: psycopg.Connection[object],
    tmp_path: Path,
    database_url: str,
    nats_url: str,
    stream_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    schema = "reconcile_cli"
    ledger = loaded(conn, schema, 500, "evo")
    planted = write_report(tmp_path / "evo.csv", ledger, missing=2, changed=3, extra=1)
    use_test_stores(monkeypatch, database_url, schema, nats_url, stream_prefix)
    args = reconcile_command(tmp_path / "evo.csv", 500, "--json")

    assert args.handler(args) == 1

    result = json.loads(capsys.readouterr().out)
    assert result["counts"] == {"matched": 495, **planted.as_counts()}
    assert {
        d["key"] for d in result["differences"] if d["status"] == "mismatch"
    } == planted.mismatch
    audit = Audit(command_env(os.environ))
    try:
        run = audit.run(uuid.UUID(result["audit_run"]))
        assert sorted(d["key"] for d in run.differences) == sorted(
            d["key"] for d in result["differences"]
        )
        assert run.completed
    finally:
        audit.close()


def test_a_round_report_with_only_ggr_compares_ggr_even_when_negative(
    conn: psycopg.Connection[object], tmp_path: Path
) -> None:
    schema = "reconcile_ggr"
    ledger = loaded(conn, schema, 300, "pragmatic")
    ggr: dict[str, Decimal] = {}
    for row in ledger:
        sign = 1 if row.kind == "bet" else -1
        ggr[row.round_id] = ggr.get(row.round_id, Decimal(0)) + sign * row.amount
    assert any(v < 0 for v in ggr.values())
    negative = next(r for r, v in sorted(ggr.items()) if v < 0)
    path = tmp_path / "pp.csv"
    lines = ["Round,GGR,Currency,Date"]
    for i, (round_id, value) in enumerate(sorted(ggr.items())):
        shown = value + Decimal("0.10") if round_id == negative else value
        lines.append(f"{round_id},{shown},EUR,{(START + timedelta(seconds=10 * i)).isoformat()}")
    path.write_text("\n".join(lines) + "\n")

    comparison = compared(conn, schema, path, "pragmatic", 300)

    assert [(d.status, d.key) for d in comparison.differences] == [("mismatch", negative)]
    assert comparison.differences[0].detail.startswith(f"ggr {ggr[negative] + Decimal('0.10')}")
    assert comparison.report_totals["EUR"].ggr == sum(ggr.values()) + Decimal("0.10")
    assert comparison.ledger_totals["EUR"].ggr == sum(ggr.values())


def tx(tx_id: str, kind: str, player: str, currency: str, amount: str, round_id: str) -> LedgerTx:
    return LedgerTx(
        provider="evo",
        tx_id=tx_id,
        kind=kind,
        player=player,
        currency=currency,
        amount=Decimal(amount),
        round_id=round_id,
        occurred_at=START,
        position=1,
        bet_id=f"bet-{tx_id}",
        bet_key=tx_id,
    )


MIXED_ROUNDS = [
    # Round R-1: alice and carol bet in euros, bob in dollars.
    tx("d1", "bet", "alice", "EUR", "10.00", "R-1"),
    tx("d2", "bet", "carol", "EUR", "4.00", "R-1"),
    tx("d3", "bet", "bob", "USD", "5.00", "R-1"),
    tx("c1", "win", "alice", "EUR", "0.00", "R-1"),
    tx("c2", "win", "carol", "EUR", "8.00", "R-1"),
    tx("c3", "win", "bob", "USD", "20.00", "R-1"),
    # Round R-2: dollars only.
    tx("d4", "bet", "bob", "USD", "7.00", "R-2"),
    tx("c4", "win", "bob", "USD", "0.00", "R-2"),
]


def round_report(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    return path


def test_a_round_played_in_two_currencies_is_reconciled_per_currency_never_summed_across(
    conn: psycopg.Connection[object], tmp_path: Path
) -> None:
    schema = "reconcile_currencies"
    scratch_schema(conn, schema)
    load(conn, MIXED_ROUNDS, schema=schema)

    # The provider's report has one row per round and currency; R-2's win is off by 1.
    header = ["RoundId", "Currency", "TotalBet", "TotalWin"]
    report = round_report(
        tmp_path / "per-currency.csv",
        header,
        [
            ["R-1", "EUR", "14.00", "8.00"],
            ["R-1", "USD", "5.00", "20.00"],
            ["R-2", "USD", "7.00", "1.00"],
        ],
    )
    comparison = compared(conn, schema, report, "evo", 1)

    assert comparison.counts == {"matched": 2, "mismatch": 1}
    (changed,) = comparison.differences
    assert (changed.key, changed.currency) == ("R-2", "USD")
    assert changed.detail == "wins 1.00 vs ledger 0.00"

    # Per round, currency and player: R-1 is three rows, one per bettor.
    header = ["RoundId", "Currency", "PlayerId", "TotalBet", "TotalWin"]
    report = round_report(
        tmp_path / "per-player.csv",
        header,
        [
            ["R-1", "EUR", "alice", "10.00", "0.00"],
            ["R-1", "EUR", "carol", "4.00", "8.00"],
            ["R-1", "USD", "bob", "5.00", "20.00"],
            ["R-2", "USD", "bob", "7.00", "0.00"],
        ],
    )
    comparison = compared(conn, schema, report, "evo", 1)

    assert comparison.counts == {"matched": 4}
    assert comparison.differences == []

    # A report without a currency column cannot tell R-1's euros from its dollars: the
    # round is a mismatch that says why, not a sum of both.
    report = round_report(
        tmp_path / "no-currency.csv",
        ["RoundId", "TotalBet", "TotalWin"],
        [["R-1", "19.00", "28.00"], ["R-2", "7.00", "0.00"]],
    )
    comparison = compared(conn, schema, report, "evo", 1)

    assert comparison.counts == {"matched": 1, "mismatch": 1}
    (mixed,) = comparison.differences
    assert mixed.key == "R-1"
    assert "the ledger has this round in EUR/USD" in mixed.detail


def test_a_dry_run_with_no_audit_reconciles_without_any_audit_store(
    conn: psycopg.Connection[object],
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    schema = "reconcile_dry"
    ledger = loaded(conn, schema, 200, "evo")
    planted = write_report(tmp_path / "evo.csv", ledger, missing=1, changed=1, extra=1)
    for name in ("NATS_URL", "LIVEBRIDGE_NATS_URL", "PERSISTENCE_MODULE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LIVEBRIDGE_DATABASE_URL", database_url)
    monkeypatch.setenv("LIVEBRIDGE_VIEWS_SCHEMA", schema)
    args = reconcile_command(tmp_path / "evo.csv", 200, "--no-audit")

    assert args.handler(args) == 1

    out = capsys.readouterr().out
    assert "missing_in_report" in out and "audit queue" not in out
    args.json = True
    assert args.handler(args) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["counts"] == {"matched": 198, **planted.as_counts()}
    assert result["audit_run"] is None
