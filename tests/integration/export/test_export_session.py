"""`livebridge export --session` on the real ledger, its log in a real JetStream.

Two players at the same tables, alice in two sessions one after the other, bob in one:
the export of alice's first session holds that session's bets and transactions, every
event of those bets and transaction records, and the wallet movements they caused, and
nothing of her second session nor of bob's.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from contracts.wallet import Credit
from contracts.wallet import Debit
from contracts.wallet import Rollback
from services.ledger.application import Ledger
from tests.unit.export.support.toylog import cli

SESSIONS = {"alice": ("sess-A1", "sess-A2"), "bob": ("sess-B1", "sess-B1")}


def play(app: Ledger) -> dict[str, dict[str, set[str]]]:
    """Three rounds; alice switches session before the third. What each session sent."""
    sent: dict[str, dict[str, set[str]]] = {}
    for player in SESSIONS:
        app.open_wallet(player, "EUR")
        app.deposit(player, "EUR", Decimal("50.00"), tx_id=f"dep-{player}")
    for n in range(1, 4):
        round_id = f"R-{n}"
        for player, (first, second) in SESSIONS.items():
            session = first if n < 3 else second
            mine = sent.setdefault(session, {"tx": set(), "bets": set()})
            common: dict[str, Any] = {
                "provider": "evo",
                "player": player,
                "currency": "EUR",
                "round_id": round_id,
                "session_id": session,
            }
            for b in range(2):
                tx = f"d-{player}-{n}-{b}"
                app.execute(Debit(tx_id=tx, amount=Decimal("2.00"), bet_id=f"bet-{tx}", **common))
                mine["tx"].add(tx)
                mine["bets"].add(f"bet-{tx}")
            if n == 2:  # the second bet is cancelled, the first loses
                tx = f"rb-{player}-{n}"
                app.execute(Rollback(tx_id=tx, ref_tx_id=f"d-{player}-{n}-1", **common))
                mine["tx"].add(tx)
                app.execute(Credit(tx_id=f"c-{player}-{n}", amount=Decimal("0"), **common))
            else:  # one credit pays both bets
                app.execute(Credit(tx_id=f"c-{player}-{n}", amount=Decimal("6.00"), **common))
            mine["tx"].add(f"c-{player}-{n}")
    return sent


def test_a_session_exported_from_the_ledger_holds_exactly_that_sessions_events(
    env: dict[str, str], public_key: Path, tmp_path: Path
) -> None:
    app = Ledger(env)
    try:
        sent = play(app)
    finally:
        app.close()
    out = tmp_path / "sess-A1"

    assert cli("export", "--session", "sess-A1", "--out", str(out)) == 0

    events = [json.loads(line)["event"] for line in (out / "events.jsonl").read_text().splitlines()]
    data = [e["data"] for e in events]
    kinds = [e["topic"].split(":")[1] for e in events]
    # The session's bets and transactions, all of them and no other.
    assert {d["bet_id"] for d in data if "bet_id" in d} == sent["sess-A1"]["bets"]
    assert {d["tx_id"] for d in data if d.get("tx_id")} == sent["sess-A1"]["tx"]
    assert {d["session_id"] for d in data if "session_id" in d} == {"sess-A1"}
    # Each bet whole: placed, then settled or refunded; its hold and its money.
    bets = len(sent["sess-A1"]["bets"])
    assert kinds.count("Bet.Placed") == bets == 4
    assert kinds.count("Bet.Settled") + kinds.count("Bet.Refunded") == bets
    assert kinds.count("Wallet.StakeHeld") == bets
    assert kinds.count("Wallet.HoldReleased") == 1  # the rolled-back bet
    assert kinds.count("TxRecord.Created") == len(sent["sess-A1"]["tx"])
    assert "Wallet.Deposited" not in kinds  # the cashier's, not the session's
    assert all(d.get("player", "alice") == "alice" for d in data)
    assert [e["position"] for e in events] == sorted(e["position"] for e in events)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["query"] == {"kind": "session", "session_id": "sess-A1"}
    assert manifest["events"] == len(events)

    assert cli("verify", str(out), "--key", str(public_key)) == 0

    # The second session is its own export, disjoint from the first.
    other = tmp_path / "sess-A2"
    assert cli("export", "--session", "sess-A2", "--out", str(other)) == 0
    second = [
        json.loads(line)["event"] for line in (other / "events.jsonl").read_text().splitlines()
    ]
    assert {e["position"] for e in second}.isdisjoint(e["position"] for e in events)
    assert {e["data"]["tx_id"] for e in second if e["data"].get("tx_id")} == sent["sess-A2"]["tx"]
    assert cli("verify", str(other), "--key", str(public_key)) == 0
