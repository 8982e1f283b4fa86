"""The table simulator against the in-process edge and the fake ledger (no sockets).

Every dialect the simulator drives plays a few rounds with duplicates, rollbacks after and
before their bets, and a messy feed; the fake ledger's balances must equal the
simulator's own books, and the feed must deliver every round's events in order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

from contracts.events import AnyProviderEvent
from services.edge.feeds.cursors import MemoryCursorStore
from services.edge.feeds.processor import FeedProcessor
from services.simulate.bank import LedgerBank
from services.simulate.drivers import WalletDriver
from services.simulate.drivers.by_dialect import DIALECTS
from services.simulate.simulation import simulate
from services.simulate.table import Chaos
from tests.unit.edge.support.feed_events import RecordingSink
from tests.unit.edge.support.wallet_gateway import SIMULATED_OPTIONS
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import Rig
from tests.unit.edge.support.wallet_gateway import provider
from tests.unit.edge.support.wallet_gateway import rig
from tests.unit.edge.support.wallet_gateway import simulated_driver
from tests.unit.edge.support.wallet_gateway import simulated_secret

CHAOS = Chaos(duplicate_call=0.2, rollback_after=0.1, rollback_before=0.1, duplicate_event=0.2)


def seated(dialect: str) -> tuple[Rig, WalletDriver]:
    """A rig with one simulated provider of `dialect`, and the simulator's driver into it."""
    config = provider(dialect, simulated_secret(dialect), options=SIMULATED_OPTIONS.get(dialect))
    r = rig(config)
    return r, simulated_driver(dialect, GatewayTransport(r.gate(dialect)))


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_simulated_tables_leave_the_balances_the_books_expect(dialect: str) -> None:
    r, driver = seated(dialect)
    sink = RecordingSink()
    processor = FeedProcessor(dialect, sink, MemoryCursorStore())

    async def push(events: Sequence[AnyProviderEvent]) -> None:
        await processor.accept(events)

    report = await simulate(
        driver=driver,
        push=push,
        bank=LedgerBank(r.ledger, r.sessions),
        provider=dialect,
        tables=3,
        players=6,
        rounds=8,
        seed=7,
        chaos=CHAOS,
    )
    assert report.ok, report.mismatches
    assert report.books.rolled_back and report.books.pre_rolled_back and report.books.duplicates
    rounds = {e.round_id for e in sink.events}
    assert len(rounds) == 3 * 8
    for round_id in rounds:
        seqs = sink.seqs(round_id)
        assert seqs == list(range(1, len(seqs) + 1)), f"round {round_id} out of order: {seqs}"
    assert processor.stats.duplicates > 0 and processor.stats.gaps == 0


async def test_a_softswiss_table_ends_some_lost_rounds_on_a_finishing_bet_and_none_stays_open() -> (
    None
):
    # Acceptance scenario C: a player's last bet, sent `finished`, ends the round lost; the
    # bridge settles their bets in it as lost, and no win follows. It comes after every
    # other bet of the round, which it closes: no bet of the table is refused.
    r, driver = seated("softswiss")

    async def push(events: Sequence[AnyProviderEvent]) -> None:
        pass

    report = await simulate(
        driver=driver,
        push=push,
        bank=LedgerBank(r.ledger, r.sessions),
        provider="softswiss",
        players=4,
        rounds=12,
        seed=3,
        chaos=dataclasses.replace(CHAOS, finish_on_bet=1.0),
    )
    assert report.ok, report.mismatches
    assert 0 < report.books.finished_on_bet <= 12
    still_open = [b.bet_id for b in r.ledger.bets.values() if b.state == "open"]
    assert still_open == []
