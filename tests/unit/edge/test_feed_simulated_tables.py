"""The table simulator against the in-process edge and the fake ledger (no sockets).

Every dialect the simulator drives plays a few rounds with duplicates, rollbacks after and
before their bets, and a messy feed; the fake ledger's balances must equal the
simulator's own books, and the feed must deliver every round's events in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pytest

from contracts.events import AnyProviderEvent
from services.edge.feeds.cursors import MemoryCursorStore
from services.edge.feeds.processor import FeedProcessor
from services.simulate.clients.evolution import EvolutionClient
from services.simulate.clients.ezugi import EzugiClient
from services.simulate.clients.hub88 import Hub88Client, load_private_key
from services.simulate.clients.pragmatic import PragmaticClient
from services.simulate.clients.softswiss import SoftSwissClient
from services.simulate.drivers import (
    EvolutionDriver,
    EzugiDriver,
    Hub88Driver,
    PragmaticDriver,
    SoftSwissDriver,
    WalletDriver,
)
from services.simulate.simulation import simulate
from services.simulate.table import Chaos
from tests.unit.edge.support.feed_events import RecordingSink
from tests.unit.edge.support.wallet_gateway import (
    HUB88_PRIVATE_PEM,
    HUB88_PUBLIC_PEM,
    GatewayTransport,
    Rig,
    provider,
    rig,
)

CHAOS = Chaos(duplicate_call=0.2, rollback_after=0.1, rollback_before=0.1, duplicate_event=0.2)


class FakeBank:
    def __init__(self, r: Rig) -> None:
        self.rig = r

    async def deposit(self, player: str, currency: str, amount: Decimal, tx_id: str) -> None:
        self.rig.ledger.fund(player, currency, amount)

    async def launch(self, provider: str, player: str, currency: str) -> str:
        session = await self.rig.sessions.issue(provider, player, currency, ttl_s=3600)
        return session.token

    async def balance(self, player: str, currency: str) -> Decimal:
        return self.rig.ledger.balance(player, currency).available


def driver_for(dialect: str) -> tuple[Rig, WalletDriver]:
    if dialect == "softswiss":
        r = rig(provider("softswiss", b"ss-secret"))
        return r, SoftSwissDriver(
            SoftSwissClient(GatewayTransport(r.gate("softswiss")), "ss-secret")
        )
    if dialect == "ezugi":
        r = rig(provider("ezugi", b"ez-secret", options={"operator_id": 7}))
        return r, EzugiDriver(EzugiClient(GatewayTransport(r.gate("ezugi")), "ez-secret", 7))
    if dialect == "evolution":
        r = rig(provider("evolution", b"evo-token"))
        return r, EvolutionDriver(
            EvolutionClient(GatewayTransport(r.gate("evolution")), "evo-token")
        )
    if dialect == "pragmatic":
        r = rig(provider("pragmatic", b"pp-secret"))
        return r, PragmaticDriver(
            PragmaticClient(GatewayTransport(r.gate("pragmatic")), "pp-secret")
        )
    r = rig(provider("hub88", HUB88_PUBLIC_PEM))
    client = Hub88Client(GatewayTransport(r.gate("hub88")), load_private_key(HUB88_PRIVATE_PEM))
    return r, Hub88Driver(client)


@pytest.mark.parametrize("dialect", ["softswiss", "ezugi", "hub88", "evolution", "pragmatic"])
async def test_simulated_tables_leave_the_balances_the_books_expect(dialect: str) -> None:
    r, driver = driver_for(dialect)
    sink = RecordingSink()
    processor = FeedProcessor(dialect, sink, MemoryCursorStore())

    async def push(events: Sequence[AnyProviderEvent]) -> None:
        await processor.accept(events)

    report = await simulate(
        driver=driver,
        push=push,
        bank=FakeBank(r),
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
