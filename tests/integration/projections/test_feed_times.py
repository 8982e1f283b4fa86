"""A provider's times reach the round view as the ledger has them, or not at all.

Narrative: a feed opens rounds whose times the round view cannot hold as the ledger holds
them: a `closes_at` without a time zone (the view reads it in PostgreSQL's zone, the
ledger keeps it naive, and the dispute replay reports them apart), and ones a zone offset
pushes past year 9999 or before year 1 in UTC (PostgreSQL stores them, and every read of
the round then fails: Python has no such year). The feed refuses each with the field and
the rule, and records nothing; a round with good times is recorded, read and replayed
without a difference, and no view parks anything.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest

from contracts.events import AnyProviderEvent
from contracts.events import BettingOpened
from contracts.events import GameEvent
from projections.rounds.replay import replay_round
from projections.run import running_projections
from services.edge.feeds.cursors import MemoryCursorStore
from services.edge.feeds.processor import BadEvent
from services.edge.feeds.processor import FeedProcessor
from services.ledger.application import Ledger

NOW = datetime.now(UTC).replace(microsecond=0)


def opening(round_id: str, closes_at: datetime, occurred_at: datetime = NOW) -> BettingOpened:
    return BettingOpened(
        provider="evo",
        round_id=round_id,
        table="T1",
        game="roulette",
        seq=1,
        occurred_at=occurred_at,
        closes_at=closes_at,
    )


BAD_TIMES: list[tuple[AnyProviderEvent, str]] = [
    (opening("R-naive", NOW.replace(tzinfo=None)), "closes_at .* has no time zone"),
    (opening("R-10k", datetime.fromisoformat("9999-12-31T23:59:59-05:00")), "closes_at"),
    (opening("R-BC", datetime.fromisoformat("0001-01-01T00:00:00+05:00")), "closes_at"),
    (opening("R-late", datetime(9999, 12, 31, tzinfo=UTC)), "closes_at"),
    (opening("R-then", NOW, occurred_at=NOW.replace(tzinfo=None)), "occurred_at"),
    (
        GameEvent(
            provider="evo",
            round_id="R-ball",
            seq=1,
            occurred_at=datetime.fromisoformat("0001-01-01T00:00:00+01:00"),
            kind="ball_landed",
        ),
        "occurred_at",
    ),
]


async def test_a_feed_refuses_times_the_round_view_cannot_hold_and_the_views_park_nothing(
    ledger: Ledger, env: dict[str, str]
) -> None:
    feed = FeedProcessor("evo", ledger, MemoryCursorStore())
    for event, problem in BAD_TIMES:
        with pytest.raises(BadEvent, match=problem):
            await feed.accept([event])
    assert ledger.recorder.max_notification_id() in (None, 0), "nothing recorded"

    await feed.accept([opening("R-good", NOW + timedelta(seconds=15))])
    head = ledger.recorder.max_notification_id()
    with running_projections(env) as views:
        views.wait(head, timeout=30)
        for name, view in views.readers.items():
            assert view.parked(Ledger.name) == [], name
        (replay,) = replay_round(ledger, views.rounds, "R-good", "evo")
        assert replay.differences == []
        assert replay.record.closes_at == NOW + timedelta(seconds=15)
