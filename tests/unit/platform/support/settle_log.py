"""A ledger on in-memory persistence, rounds played on it, and the settlements its log makes
the tracker tell."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from contracts.platform import RoundSettle
from contracts.wallet import Debit
from services.ledger.application import Ledger
from services.platform.settle import SettleTracker
from tests.unit.ledger.support.builders import closed
from tests.unit.ledger.support.builders import declared
from tests.unit.ledger.support.builders import opened


def ledger(**env: str) -> Ledger:
    """A ledger where alice and bob hold 100.00 EUR each."""
    app = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo", **env})
    for player in ("alice", "bob"):
        app.open_wallet(player, "EUR")
        app.deposit(player, "EUR", Decimal("100.00"), tx_id=f"dep-{player}")
    return app


def played(app: Ledger, round_id: str, result: dict[str, str], *bets: Debit) -> None:
    """Round `round_id` at evo: betting opens, `bets` are placed, betting closes and `result`
    is declared (a round the bridge settles when evo is among `BRIDGE_SETTLED_PROVIDERS`)."""
    app.record_event(opened(round_id))
    for bet in bets:
        app.execute(bet)
    app.record_event(closed(round_id))
    app.record_event(declared(result, round_id))


def logged(app: Ledger) -> list[tuple[int, Any]]:
    """Every event of the ledger's log, as the tracker reads it: (position, domain event)."""
    return [
        (n.id, app.mapper.to_domain_event(n)) for n in app.recorder.select_notifications(1, 10_000)
    ]


def settlements(app: Ledger, tracker: SettleTracker | None = None) -> list[RoundSettle]:
    """Every settlement `tracker` (a fresh one by default) tells reading the whole log."""
    tracker = tracker or SettleTracker()
    out: list[RoundSettle] = []
    for position, event in logged(app):
        out += tracker.apply(position, event)
    return out
