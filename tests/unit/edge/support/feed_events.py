"""Builders for provider events and a recording sink, shared by the feed tests."""

from __future__ import annotations

import threading
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from contracts.events import AnyProviderEvent
from contracts.events import BettingClosed
from contracts.events import BettingOpened
from contracts.events import GameEvent
from contracts.events import ResultDeclared

T0 = datetime(2026, 11, 22, 18, 45, 3, tzinfo=UTC)


def round_events(provider: str, round_id: str, *, cards: int = 3) -> list[AnyProviderEvent]:
    """A whole baccarat-like round: opened, closed, `cards` game events, result (seq 1..n)."""
    events: list[AnyProviderEvent] = [
        BettingOpened(
            provider=provider,
            round_id=round_id,
            table="t-1",
            game="baccarat",
            seq=1,
            occurred_at=T0,
            closes_at=T0 + timedelta(seconds=15),
        ),
        BettingClosed(provider=provider, round_id=round_id, seq=2, occurred_at=T0),
    ]
    for i in range(cards):
        events.append(
            GameEvent(
                provider=provider,
                round_id=round_id,
                seq=3 + i,
                occurred_at=T0,
                kind="card_dealt",
                data={"hand": "player" if i % 2 == 0 else "banker", "card": f"{i + 2}H"},
            )
        )
    events.append(
        ResultDeclared(
            provider=provider,
            round_id=round_id,
            seq=3 + cards,
            occurred_at=T0,
            result={"player": "6", "banker": "7"},
        )
    )
    return events


class RecordingSink:
    """A fake of the ledger's event port: idempotent on (provider, round, seq), can be broken."""

    def __init__(self) -> None:
        self.events: list[AnyProviderEvent] = []
        self.seen: set[tuple[str, str, int]] = set()
        self.fail_next = 0
        self.lock = threading.Lock()

    def record_event(self, event: AnyProviderEvent) -> None:
        with self.lock:
            if self.fail_next:
                self.fail_next -= 1
                raise ConnectionError("ledger unavailable")
            key = (event.provider, event.round_id, event.seq)
            if key in self.seen:
                return
            self.seen.add(key)
            self.events.append(event)

    def seqs(self, round_id: str) -> list[int]:
        return [e.seq for e in self.events if e.round_id == round_id]
