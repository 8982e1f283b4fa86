"""`livebridge reconcile` refuses to lose its audit record: no persistent store, no run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.reconcile.support.cli import parse

REPORT = "TransactionId,Type,Amount,Currency\ntx-1,DEBIT,1.00,EUR\n"


@pytest.fixture
def no_ledger_store(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NATS_URL", "LIVEBRIDGE_NATS_URL", "PERSISTENCE_MODULE"):
        monkeypatch.delenv(name, raising=False)
    # Nothing is read from the database before the refusal: a server that cannot exist.
    monkeypatch.setenv("LIVEBRIDGE_DATABASE_URL", "postgresql://nobody@host.invalid/none")


@pytest.mark.usefixtures("no_ledger_store")
@pytest.mark.parametrize("persistence", [None, "eventsourcing.popo"])
def test_without_a_persistent_audit_store_the_command_refuses_and_says_what_to_set(
    persistence: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if persistence is not None:
        monkeypatch.setenv("PERSISTENCE_MODULE", persistence)
    report = tmp_path / "evo.csv"
    report.write_text(REPORT)
    args = parse(["reconcile", str(report), "--provider", "evo"])

    assert args.handler(args) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert "no audit queue" in err
    assert "LIVEBRIDGE_NATS_URL" in err and "--no-audit" in err
    assert "recorded in the audit queue" not in out + err
