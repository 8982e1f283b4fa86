"""The real thing for wallet-dialect integration tests: ledger on JetStream, edge over HTTP.

`served_edge` starts the real `Ledger` (persistence `services.eventstore` on the test
nats-server), mounts `setup_edge` with sessions in JetStream KV, and serves it on a free
127.0.0.1 port. `SimulatedTable` plays a live table: each round a rotating window of the
players places one or two bets each at once, a few bets are resent (duplicates) or
cancelled, then every bet is settled; it keeps its own books of what each balance must be.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import aiohttp
from aiohttp import web

from services.edge.app import setup_edge
from services.edge.config import ProviderConfig, ProvidersConfig, networks
from services.edge.gateway import Gateway
from services.ledger.application import Ledger
from tests.integration.support.ledgers import jetstream_ledger

OPENING = Decimal("1000.00")
STAKES = [Decimal(s) for s in ("1.00", "2.50", "5.00", "10.00", "0.50")]


@dataclass(frozen=True, slots=True)
class TableSize:
    """The end-to-end table every dialect plays: 50 players over 100 rounds, `bettors`
    of them in each round (a window that moves round by round, so all 50 bet, each in
    100 x bettors / 50 rounds), `parallel` rounds in play at once.

    `bettors` is what keeps a dialect's table near 30 s on a busy 2-core machine (the
    ledger's fsynced writes are the cost): 8 by default, fewer where the dialect makes
    more calls per bet or costlier ones. LIVEBRIDGE_SOAK=1 makes every player bet every
    round (a test using this is marked `soak`, so that make soak runs it);
    LIVEBRIDGE_E2E_PLAYERS / _ROUNDS / _BETTORS / _PARALLEL override."""

    players: int
    rounds: int
    bettors: int
    parallel: int


def table_size(bettors: int = 8) -> TableSize:
    soak = os.environ.get("LIVEBRIDGE_SOAK") == "1"
    players = int(os.environ.get("LIVEBRIDGE_E2E_PLAYERS", "50"))
    default = players if soak else bettors
    return TableSize(
        players=players,
        rounds=int(os.environ.get("LIVEBRIDGE_E2E_ROUNDS", "100")),
        bettors=int(os.environ.get("LIVEBRIDGE_E2E_BETTORS", str(default))),
        parallel=int(os.environ.get("LIVEBRIDGE_E2E_PARALLEL", "4")),
    )


def provider(dialect: str, secret: bytes, **options: str | int | bool) -> ProviderConfig:
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


@dataclass
class Bet:
    player: str
    bet_id: str
    stake: Decimal
    payout: Decimal = Decimal(0)
    cancelled: bool = False


@dataclass
class Books:
    """The table's own account of every balance: opening - stakes + payouts."""

    expected: dict[str, Decimal] = field(default_factory=dict)

    def open(self, player: str) -> None:
        self.expected[player] = OPENING

    def take(self, bet: Bet) -> None:
        self.expected[bet.player] -= bet.stake

    def pay(self, bet: Bet) -> None:
        self.expected[bet.player] += bet.payout

    def refund(self, bet: Bet) -> None:
        self.expected[bet.player] += bet.stake


PlaceBet = Callable[[str, Bet, bool], Awaitable[None]]
Settle = Callable[[str, str, list[Bet]], Awaitable[None]]
Cancel = Callable[[str, Bet], Awaitable[None]]


@dataclass
class SimulatedTable:
    """Players sit at a table for N rounds; the dialect is in the three callables.

    Each round `bettors` of them bet, a window that moves round by round so every player
    takes turns (with 50 players, 8 a round and 100 rounds, each bets in 16 rounds), as
    live tables go: most seats watch most rounds. Every round resends one bet (a
    duplicate); every `cancel_every` rounds one bet is cancelled before settlement.
    `parallel` rounds are in play at once (a table runs the next round while the last one
    settles); each round draws from its own generator, so a seed gives the same bets
    whatever the interleaving.
    """

    players: list[str]
    place: PlaceBet
    settle: Settle
    cancel: Cancel
    seed: int = 7
    bettors: int = 8
    cancel_every: int = 4
    parallel: int = 4
    books: Books = field(default_factory=Books)
    bettors_seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        for player in self.players:
            self.books.open(player)

    def seated(self, number: int) -> list[str]:
        """The players betting in round `number` (0-based)."""
        count = min(self.bettors, len(self.players))
        start = number * count
        return [self.players[(start + i) % len(self.players)] for i in range(count)]

    async def play(self, rounds: int, prefix: str) -> None:
        gate = asyncio.Semaphore(self.parallel)
        seeds = [self.rng.random() for _ in range(rounds)]

        async def one(number: int) -> None:
            async with gate:
                await self.play_round(
                    f"{prefix}-r{number}",
                    cancel=number % self.cancel_every == 0,
                    seated=self.seated(number),
                    rng=random.Random(seeds[number]),
                )

        await asyncio.gather(*(one(number) for number in range(rounds)))

    async def play_round(
        self, round_id: str, *, cancel: bool, seated: list[str], rng: random.Random
    ) -> None:
        bets: dict[str, list[Bet]] = {}
        for player in seated:
            count = 1 if rng.random() < 0.7 else 2
            bets[player] = [
                Bet(player, f"{round_id}-{player}-b{k}", rng.choice(STAKES)) for k in range(count)
            ]
        self.bettors_seen.update(seated)
        duplicate = {rng.choice([b for bs in bets.values() for b in bs]).bet_id}

        async def place_all(player: str) -> None:
            for bet in bets[player]:
                await self.place(round_id, bet, bet.bet_id in duplicate)
                self.books.take(bet)

        await asyncio.gather(*(place_all(p) for p in seated))
        if cancel:
            cancelled = rng.choice([b for bs in bets.values() for b in bs])
            await self.cancel(round_id, cancelled)
            cancelled.cancelled = True
            self.books.refund(cancelled)
        for player_bets in bets.values():
            for bet in player_bets:
                if not bet.cancelled:
                    roll = rng.random()
                    bet.payout = bet.stake * (2 if roll < 0.45 else 36 if roll < 0.47 else 0)

        async def settle(player: str) -> None:
            standing = [b for b in bets[player] if not b.cancelled]
            if standing:
                await self.settle(round_id, player, standing)
            for bet in standing:
                self.books.pay(bet)

        await asyncio.gather(*(settle(p) for p in seated))


async def play_the_table(
    edge: ServedEdge,
    players: list[str],
    size: TableSize,
    place: PlaceBet,
    settle: Settle,
    cancel: Cancel,
    *,
    seed: int,
    prefix: str,
) -> Books:
    """Play `size` at a `SimulatedTable`; every player bets over the run and ends with the
    balance the table's books expect. The books, for the dialect's own balance check."""
    table = SimulatedTable(
        players, place, settle, cancel, seed=seed, bettors=size.bettors, parallel=size.parallel
    )
    await table.play(size.rounds, prefix)
    assert table.bettors_seen == set(players), "every player bets over the run"
    for player in players:
        assert await edge.balance(player) == table.books.expected[player], player
    return table.books
