"""A ledger on in-memory persistence and the settlements its log makes the tracker tell."""

from __future__ import annotations

from decimal import Decimal

from contracts.platform import RoundSettle
from services.ledger.application import Ledger
from services.platform.settle import SettleTracker


def ledger(**env: str) -> Ledger:
    """A ledger where alice and bob hold 100.00 EUR each."""
    app = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo", **env})
    for player in ("alice", "bob"):
        app.open_wallet(player, "EUR")
        app.deposit(player, "EUR", Decimal("100.00"), tx_id=f"dep-{player}")
    return app


def settlements(app: Ledger, tracker: SettleTracker | None = None) -> list[RoundSettle]:
    """Every settlement `tracker` (a fresh one by default) tells reading the whole log."""
    tracker = tracker or SettleTracker()
    out: list[RoundSettle] = []
    for n in app.recorder.select_notifications(1, 10_000):
        out += tracker.apply(n.id, app.mapper.to_domain_event(n))
    return out
