"""Platform feed bench: a settled round of 1,000 players, to JetStream and to a webhook.

The ledger's log is built in memory first (the ledger's own speed is measured elsewhere),
then a fresh settle feed starts on a nats-server from the wheel (fsync always) with one
webhook endpoint served by a local aiohttp receiver. Figures: how long until every
settlement is in the stream, and until every one was acknowledged by the receiver.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
import time
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import nats
from aiohttp import web

from contracts.events import BettingClosed
from contracts.events import BettingOpened
from contracts.events import ResultDeclared
from contracts.wallet import Debit
from contracts.wallet import Selection
from services.infra.natsserver import NatsServer
from services.ledger.application import Ledger
from services.platform.service import settle_feed
from services.platform.stream import SettleStream
from services.platform.webhooks import Endpoint

PLAYERS = 1_000


def settled_round(players: int) -> Ledger:
    now = datetime.now(UTC)
    app = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo", "BRIDGE_SETTLED_PROVIDERS": "evo"})
    app.record_event(
        BettingOpened(
            provider="evo",
            round_id="R-1",
            table="T1",
            game="roulette",
            seq=1,
            occurred_at=now,
            closes_at=now,
        )
    )
    for i in range(players):
        app.open_wallet(f"p{i}", "EUR")
        app.deposit(f"p{i}", "EUR", Decimal(100), tx_id=f"dep-{i}")
        app.execute(
            Debit(
                provider="evo",
                tx_id=f"d{i}",
                player=f"p{i}",
                currency="EUR",
                amount=Decimal(1),
                round_id="R-1",
                bet_id=f"b{i}",
                selections=(Selection(market="roulette_red" if i % 2 else "roulette_black"),),
            )
        )
    app.record_event(BettingClosed(provider="evo", round_id="R-1", seq=2, occurred_at=now))
    app.record_event(
        ResultDeclared(
            provider="evo", round_id="R-1", seq=3, occurred_at=now, result={"number": "1"}
        )
    )
    return app


async def _run(url: str, app: Ledger, players: int) -> dict[str, float]:
    received: set[str] = set()

    async def hook(request: web.Request) -> web.Response:
        received.add(request.headers["X-Livebridge-Event-Id"])
        return web.Response(status=204)

    site_app = web.Application()
    site_app.router.add_post("/settle", hook)
    runner = web.AppRunner(site_app)
    await runner.setup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    nc = await nats.connect(url)
    endpoint = Endpoint(name="bench", url=f"http://127.0.0.1:{port}/settle", secret="bench")
    try:
        began = time.perf_counter()
        async with settle_feed(
            ledger=app, nc=nc, endpoints=[endpoint], stream=SettleStream.prefixed("BENCH")
        ) as feed:
            await _until(lambda: feed.publisher.published >= players)
            published = time.perf_counter() - began
            await _until(lambda: len(received) >= players)
            delivered = time.perf_counter() - began
    finally:
        await nc.close()
        await runner.cleanup()
    return {
        "round_settle_publish_1000_ms": round(published * 1000, 1),
        "round_settle_webhook_1000_ms": round(delivered * 1000, 1),
    }


async def _until(check: Callable[[], bool]) -> None:
    while True:
        if check():
            return
        await asyncio.sleep(0.001)


def measure(players: int = PLAYERS) -> dict[str, float]:
    app = settled_round(players)
    with tempfile.TemporaryDirectory() as store, NatsServer(Path(store)) as server:
        return asyncio.run(_run(server.url, app, players))
