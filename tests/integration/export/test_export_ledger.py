"""`livebridge export` and `verify` on the real ledger, its log in a real JetStream."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from services.ledger.application import Ledger
from tests.unit.export.support.toylog import cli
from tests.unit.ledger.support.builders import closed
from tests.unit.ledger.support.builders import credit
from tests.unit.ledger.support.builders import declared
from tests.unit.ledger.support.builders import opened
from tests.unit.ledger.support.builders import player_bet
from tests.unit.ledger.support.builders import player_credit
from tests.unit.ledger.support.builders import rollback

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def play(app: Ledger) -> None:
    """Two rounds side by side; round R-1 has bets, a win, a loss and a rollback."""
    for player in ("alice", "bob"):
        app.open_wallet(player, "EUR")
        app.deposit(player, "EUR", Decimal("50.00"), tx_id=f"dep-{player}")
    app.record_event(opened("R-1", game="baccarat", at=NOW))
    app.execute(player_bet("d1", "alice", "2.00", "R-1"))
    app.execute(player_bet("d2", "bob", "2.00", "R-2"))
    app.execute(player_bet("d3", "bob", "2.00", "R-1"))
    app.execute(player_bet("d4", "alice", "2.00", "R-1"))
    app.record_event(closed("R-1", at=NOW))
    app.record_event(declared({"banker": "7"}, "R-1", at=NOW))
    app.execute(credit("c1", "3.90", player="alice", round_id="R-1", bet_id="bet-d1"))
    app.execute(rollback("r4", "d4", player="alice", round_id="R-1"))
    app.execute(player_credit("c3", "bob", "0", "R-1"))
    app.execute(player_credit("c2", "bob", "4.00", "R-2"))


def played(env: dict[str, str]) -> int | None:
    """`play` on the ledger of `env`, closed after: the last log position it wrote."""
    app = Ledger(env)
    try:
        play(app)
        return app.recorder.max_notification_id()
    finally:
        app.close()


def test_a_round_exported_from_the_ledger_holds_its_money_and_verifies_offline(
    env: dict[str, str], public_key: Path, tmp_path: Path
) -> None:
    last = played(env)
    out = tmp_path / "R-1"

    assert cli("export", "--round", "R-1", "--out", str(out)) == 0

    events = [json.loads(line)["event"] for line in (out / "events.jsonl").read_text().splitlines()]
    kinds = {e["topic"].split(":")[1] for e in events}
    assert {
        "Round.Started",
        "Round.EventRecorded",
        "Bet.Placed",
        "Bet.Settled",
        "Bet.Refunded",
        "Wallet.StakeHeld",
        "Wallet.HoldCaptured",
        "Wallet.WinCredited",
        "Wallet.HoldReleased",
        "TxRecord.Created",
        "TxRecord.RolledBack",
    } <= kinds
    tx_ids = {e["data"].get("tx_id") for e in events} - {None}
    assert tx_ids == {"d1", "d3", "d4", "c1", "c3", "r4"}  # nothing of round R-2
    assert not any(e["data"].get("round_id") == "R-2" for e in events)
    stakes_held = [e for e in events if e["topic"].endswith("Wallet.StakeHeld")]
    assert len(stakes_held) == 3  # each written before its bet, in the same atomic write
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scanned"] == {"first": 1, "last": last}
    assert manifest["query"] == {"kind": "round", "round_id": "R-1"}
    assert [e["position"] for e in events] == sorted(e["position"] for e in events)

    assert cli("verify", str(out), "--key", str(public_key)) == 0

    # One byte of one event: bob's stake "2.00" becomes "2.01" in the export.
    path = out / "events.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    target = next(i for i, line in enumerate(lines) if b'"stake":"2.00"' in line and b"bob" in line)
    lines[target] = lines[target].replace(b'"stake":"2.00"', b'"stake":"2.01"')
    path.write_bytes(b"".join(lines))
    assert cli("verify", str(out)) == 1


def test_verify_names_the_first_line_that_does_not_match(
    env: dict[str, str], public_key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    played(env)
    out = tmp_path / "period"
    assert (
        cli("export", "--period", "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z", "--out", str(out))
        == 0
    )
    path = out / "events.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    position = json.loads(lines[6])["event"]["position"]
    lines[6] = lines[6].replace(b'"originator_version":', b'"originator_version":1', 1)
    path.write_bytes(b"".join(lines))
    capsys.readouterr()

    assert cli("verify", str(out)) == 1

    assert f"line 7 (log position {position})" in capsys.readouterr().err
