"""The real thing for wallet-dialect integration tests: ledger on JetStream, edge over HTTP.

`served_edge` starts the real `Ledger` (persistence `services.eventstore` on the test
nats-server), mounts `setup_edge` with sessions in JetStream KV, and serves it on a free
127.0.0.1 port. `table_size` is the live table every dialect plays (test_dialect_tables.py).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal

import aiohttp
from aiohttp import web

from services.edge.app import setup_edge
from services.edge.config import OptionValue
from services.edge.config import ProviderConfig
from services.edge.config import ProvidersConfig
from services.edge.config import networks
from services.edge.gateway import Gateway
from services.ledger.application import Ledger
from tests.integration.support.ledgers import jetstream_ledger

OPENING = Decimal("1000.00")


@dataclass(frozen=True, slots=True)
class TableSize:
    """The end-to-end table every dialect plays: 50 players over 40 rounds, `bettors`
    of them in each round (a window that moves round by round, so all 50 bet, each in
    40 x bettors / 50 rounds), `parallel` rounds in play at once.

    A table's time is mostly its rounds one after another (each waits on fsynced ledger
    writes), so the size is in rounds: 40, with the provider's resent calls and rollbacks
    each drawn a dozen times or so, took 30-43 s a dialect, two tables at once under a
    load average of 15-18 (100: evolution alone 63 s at 17-21). More rounds at once would
    be faster, but then a busy machine answered Hub88's calls after its client's 5 s
    timeout. `bettors`
    is 8 by default, fewer where the dialect makes more calls per bet or costlier ones.
    LIVEBRIDGE_SOAK=1 plays 100 rounds with every player betting in every round (a test
    using this is marked `soak`, so that make soak runs it);
    LIVEBRIDGE_E2E_PLAYERS / _ROUNDS / _BETTORS / _PARALLEL override."""

    players: int
    rounds: int
    bettors: int
    parallel: int


def table_size(bettors: int = 8) -> TableSize:
    soak = os.environ.get("LIVEBRIDGE_SOAK") == "1"
    players = int(os.environ.get("LIVEBRIDGE_E2E_PLAYERS", "50"))
    return TableSize(
        players=players,
        rounds=int(os.environ.get("LIVEBRIDGE_E2E_ROUNDS", "100" if soak else "40")),
        bettors=int(os.environ.get("LIVEBRIDGE_E2E_BETTORS", str(players if soak else bettors))),
        parallel=int(os.environ.get("LIVEBRIDGE_E2E_PARALLEL", "4")),
    )


def provider(dialect: str, secret: bytes, **options: OptionValue) -> ProviderConfig:
    return ProviderConfig(
        id=dialect,
        dialect=dialect,
        currencies=("EUR",),
        secret=secret,
        allow_ips=networks(["127.0.0.1/32"]),
        rate_limit=100000,
        burst=100000,
        # The tables check money, not speed (targets are `make bench`'s): on a busy 2-core
        # machine a call may outlive the dialect's deadline (Evolution 0.6 s), and the
        # retryable error it then gets is tested on its own (test_*_deadline*.py).
        answer_within_s=30.0,
        options=options,
    )


@dataclass
class ServedEdge:
    url: str
    ledger: Ledger
    gateway: Gateway
    http: aiohttp.ClientSession

    async def open_players(self, players: list[str], currency: str = "EUR") -> None:
        def open_all() -> None:
            for player in players:
                self.ledger.open_wallet(player, currency)
                self.ledger.deposit(player, currency, OPENING, tx_id=f"open-{player}")

        await asyncio.to_thread(open_all)

    async def launch(self, provider_id: str, player: str, currency: str = "EUR") -> str:
        session = await self.gateway.context.sessions.issue(
            provider_id, player, currency, ttl_s=3600
        )
        return session.token

    async def balance(self, player: str, currency: str = "EUR") -> Decimal:
        return (await asyncio.to_thread(self.ledger.balance, player, currency)).balance

    async def available(self, player: str, currency: str = "EUR") -> Decimal:
        return (await asyncio.to_thread(self.ledger.balance, player, currency)).available

    def base(self, dialect: str) -> str:
        return f"{self.url}/wallet/{dialect}"


@asynccontextmanager
async def served_edge(
    nats_url: str, stream_prefix: str, *providers: ProviderConfig
) -> AsyncIterator[ServedEdge]:
    ledger = jetstream_ledger(nats_url, stream_prefix)
    app = web.Application()
    gateway = setup_edge(
        app,
        ledger=ledger,
        providers=ProvidersConfig(tuple(providers)),
        nats_url=nats_url,
        session_bucket=f"sessions_{stream_prefix.lower()}",
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    connector = aiohttp.TCPConnector(limit=200)
    http = aiohttp.ClientSession(connector=connector)
    try:
        yield ServedEdge(f"http://127.0.0.1:{port}", ledger, gateway, http)
    finally:
        await http.close()
        await runner.cleanup()
        await asyncio.to_thread(ledger.close)


@asynccontextmanager
async def one_player(
    nats_url: str, stream_prefix: str, config: ProviderConfig, player: str
) -> AsyncIterator[tuple[ServedEdge, str]]:
    """`served_edge` for one provider with `player` holding `OPENING` and a session there:
    the edge, and the token the provider was launched with."""
    async with served_edge(nats_url, stream_prefix, config) as edge:
        await edge.open_players([player])
        yield edge, await edge.launch(config.id, player)
