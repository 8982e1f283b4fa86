"""A whole bridge for the simulator: real ledger on JetStream, dialect edge and push feed over HTTP.

`served_bridge` starts the real `Ledger` (persistence `services.eventstore` on the test
nats-server), mounts `setup_edge` (sessions in JetStream KV) and `POST /feed/<provider>`
(a `FeedProcessor` recording into the ledger, round positions in JetStream KV), and serves
both on a free 127.0.0.1 port. The simulator then plays against it exactly as against
`livebridge run`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import nats
from aiohttp import web

from services.edge.app import setup_edge
from services.edge.config import ProviderConfig
from services.edge.config import ProvidersConfig
from services.edge.feeds.cursors import JetStreamCursorStore
from services.edge.feeds.processor import FeedProcessor
from services.edge.feeds.push import PushFeed
from services.edge.feeds.push import add_push_routes
from services.edge.gateway import Gateway
from services.ledger.application import Ledger
from services.ledger.views import Verification
from services.simulate.bank import LedgerBank
from services.simulate.drivers.base import WalletDriver
from services.simulate.simulation import simulate
from services.simulate.table import Chaos
from services.simulate.table import PushFn
from services.simulate.table import http_pusher
from tests.integration.edge.support.served_edge import TableSize
from tests.integration.support.ledgers import jetstream_ledger

FEED_SECRET = "feed-TEST-ONLY-secret"
CHAOS = Chaos(duplicate_call=0.05, rollback_after=0.03, rollback_before=0.03)
"""The provider's misbehaviour in the end-to-end tables: resent calls, rollbacks after and
before their bets (pre-rollbacks), duplicated and reordered feed events."""


@dataclass
class ServedBridge:
    url: str
    ledger: Ledger
    gateway: Gateway
    feed: FeedProcessor
    http: aiohttp.ClientSession
    bank: LedgerBank
    push: PushFn

    def base(self, dialect: str) -> str:
        return f"{self.url}/wallet/{dialect}"


@asynccontextmanager
async def served_bridge(
    nats_url: str, stream_prefix: str, provider: ProviderConfig
) -> AsyncIterator[ServedBridge]:
    ledger = jetstream_ledger(nats_url, stream_prefix)
    nc = await nats.connect(nats_url)
    cursors = await JetStreamCursorStore.open(nc.jetstream(), f"cursors_{stream_prefix}")
    feed = FeedProcessor(provider.id, ledger, cursors)
    app = web.Application()
    gateway = setup_edge(
        app,
        ledger=ledger,
        providers=ProvidersConfig((provider,)),
        nats_url=nats_url,
        session_bucket=f"sessions_{stream_prefix.lower()}",
    )
    add_push_routes(app, {provider.id: PushFeed(FEED_SECRET, feed)})
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
    sweeper = asyncio.create_task(feed.run_sweeper())
    try:
        yield ServedBridge(
            url=url,
            ledger=ledger,
            gateway=gateway,
            feed=feed,
            http=http,
            bank=LedgerBank(ledger, gateway.context.sessions),
            push=http_pusher(http, f"{url}/feed/{provider.id}", FEED_SECRET),
        )
    finally:
        sweeper.cancel()
        await asyncio.gather(sweeper, return_exceptions=True)
        await http.close()
        await runner.cleanup()
        await nc.drain()
        await asyncio.to_thread(ledger.close)


async def unverified_rounds(bridge: ServedBridge, provider: str, rounds: list[str]) -> list[str]:
    """The rounds whose hash the ledger did not verify against the provider's `roundHash`
    (read a few at a time: one by one, 100 rounds take seconds on a busy machine)."""
    gate = asyncio.Semaphore(8)

    async def flags(round_id: str) -> str | None:
        async with gate:
            state = await asyncio.to_thread(bridge.ledger.round_state, provider, round_id)
        if state.verification is Verification.VERIFIED:
            return None
        return f"{round_id}: {state.verification} {state.audit_flags}"

    found = await asyncio.gather(*(flags(r) for r in rounds))
    return [f for f in found if f is not None]


async def assert_the_books_balance(
    bridge: ServedBridge, driver: WalletDriver, provider: str, size: TableSize, *, seed: int
) -> None:
    """Simulate `size` against the bridge with `CHAOS`: the books balance, every player
    bets, the provider misbehaves in every way, the feed has no gap, every round verifies."""
    report = await simulate(
        driver=driver,
        push=bridge.push,
        bank=bridge.bank,
        provider=provider,
        players=size.players,
        rounds=size.rounds,
        bettors=size.bettors,
        parallel=size.parallel,
        seed=seed,
        chaos=CHAOS,
    )
    assert report.ok, report.mismatches
    assert report.bettors_seen == size.players, "every player bets over the run"
    books = report.books
    assert books.rolled_back and books.pre_rolled_back and books.duplicates, books
    assert bridge.feed.stats.gaps == 0 and bridge.feed.stats.recorded > size.rounds * 4
    assert await unverified_rounds(bridge, provider, report.books.rounds) == []
