"""Edge figures for `make bench`: signed Hub88 bets over HTTP into the ledger on JetStream.

`measure(nats_url)` starts the real `Ledger` (persistence `services.eventstore`) on
`nats_url` (or on a nats-server of its own), with limits and player protection checked
before every hold as in `livebridge run`, serves `setup_edge` on 127.0.0.1 in a thread
of its own, and drives it with `concurrency` keep-alive clients, each betting for its own
players (a bet is one fsynced ledger write). Bodies are signed before the clock starts, so
the RSA signing that Hub88 does on its side is not charged to the bridge.

Figures:
- `edge_bet_per_s`: bets a second with every client betting again as soon as it is
  answered (the bridge saturated), and `edge_bet_p99_saturated_ms`, the latency its
  queue gives them there;
- `edge_bet_p99_ms` (and p50): the latency of bets sent at a steady `PACED_SHARE` of that
  rate (`edge_paced_per_s`, an open loop), what a provider sees of a bridge that is busy
  but not at its limit, counted from when each bet was due;
- `edge_only_bet_per_s`: the saturated load against an in-memory ledger: the edge's own
  ceiling, to tell the edge's cost from the ledger's; `edge_durable_ratio` is the durable
  rate over it;
- `bet_cpu_ms`, `bet_server_cpu_ms`: CPU per durable bet (`/proc/<pid>/stat`, all
  threads) of the bridge's process and of nats-server, over the saturated run, and what
  the server handled per bet there (`bet_server_in_msgs`, `bet_server_out_msgs`,
  `bet_server_api_calls`: `services.bench.serverstats`);
  `edge_only_cpu_ms` the bridge's per bet against the in-memory ledger, and
  `bet_cpu_vs_edge_only` their ratio. CPU per bet drifts far less than a rate does when
  others share the machine.

`durable_cost_ms` is bridge plus server CPU per durable bet with the ledger on given
streams: on a fresh log and on the views area's big one (1M events by default,
`LIVEBRIDGE_BENCH_LOG_EVENTS`), in turn, it gives `bet_cost_growth` (`cost_growth`).

Sessions are in JetStream KV, as in production. The clients run in a process of their
own, as providers run on machines of their own.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC
from datetime import datetime
from decimal import Decimal
from typing import Any
from typing import TypeVar

import aiohttp
import nats
import uvloop
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from contracts.wallet import AnyWalletCommand
from contracts.wallet import Balance
from contracts.wallet import WalletReply
from services.bench.cpu import spent
from services.bench.serverstats import handled
from services.bridge import collector
from services.edge.app import setup_edge
from services.edge.config import ProviderConfig
from services.edge.config import ProvidersConfig
from services.edge.config import networks
from services.edge.ports import LedgerPort
from services.edge.sessions import KvSessionStore
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.hub88 import Hub88Client

CURRENCY = "EUR"
STAKE = Decimal("1.00")
PACED_SHARE = 0.5
T = TypeVar("T")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


class _NullLedger:
    """Answers every bet at once: the edge alone, for the edge's own ceiling."""

    def execute(self, command: AnyWalletCommand) -> WalletReply:
        return WalletReply(
            tx_ref="trn_0",
            player=command.player,
            currency=command.currency,
            balance=Decimal(1000),
            available=Decimal(1000),
            kind="debit",
        )

    def balance(self, player: str, currency: str) -> Balance:
        zero = Decimal(0)
        return Balance(player=player, currency=currency, balance=zero, held=zero, available=zero)


@contextmanager
def _served(
    ledger: LedgerPort, provider: ProviderConfig, nats_url: str, bucket: str
) -> Iterator[str]:
    """The edge on 127.0.0.1 in a thread with its own event loop (uvloop, as `livebridge
    run` has it); yields its base URL."""
    loop = uvloop.new_event_loop()
    ready = threading.Event()
    holder: dict[str, object] = {}

    async def start() -> None:
        app = web.Application()
        setup_edge(
            app,
            ledger=ledger,
            providers=ProvidersConfig((provider,)),
            nats_url=nats_url,
            session_bucket=bucket,
        )
        collector.freeze_after_start(app)  # as `livebridge run` does once started
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        holder["runner"] = runner
        holder["port"] = runner.addresses[0][1]
        ready.set()

    thread = threading.Thread(target=loop.run_forever, name="edge-bench", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    ready.wait(30)
    try:
        yield f"http://127.0.0.1:{holder['port']}/wallet/hub88"
    finally:
        runner = holder["runner"]
        assert isinstance(runner, web.AppRunner)
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


async def _bet(http: aiohttp.ClientSession, base_url: str, call: PreparedCall) -> None:
    """Send one signed bet; raise unless the bridge took it."""
    async with http.post(
        f"{base_url}/{call.path}", data=call.body, headers=dict(call.headers)
    ) as response:
        body = await response.read()
    if response.status != 200 or b'"RS_OK"' not in body:
        raise RuntimeError(f"bench bet refused: {response.status} {body[:200]!r}")


async def _drive(
    base_url: str, calls: list[list[PreparedCall]], seconds: float
) -> tuple[int, list[float]]:
    latencies: list[float] = []
    done = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=len(calls), force_close=False)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker(queue: list[PreparedCall]) -> None:
            nonlocal done
            for call in queue:
                if time.perf_counter() >= deadline:
                    return
                started = time.perf_counter()
                await _bet(http, base_url, call)
                latencies.append((time.perf_counter() - started) * 1000)
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(queue) for queue in calls))
        elapsed = min(time.perf_counter() - started, seconds) or seconds
    return int(done / elapsed), latencies


async def _paced(base_url: str, calls: list[PreparedCall], rate: float) -> list[float]:
    """Latencies of `calls` sent at a steady `rate` a second, each when it is due (an open
    loop: a slow answer does not hold back the next bet, as it would in `_drive`)."""
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=256, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def send(call: PreparedCall, due: float) -> None:
            await asyncio.sleep(due - time.perf_counter())
            await _bet(http, base_url, call)
            latencies.append((time.perf_counter() - due) * 1000)

        start = time.perf_counter() + 0.2
        await asyncio.gather(*(send(call, start + n / rate) for n, call in enumerate(calls)))
    return latencies


def _drive_sync(
    base_url: str, calls: list[list[PreparedCall]], seconds: float
) -> tuple[int, list[float]]:
    return uvloop.run(_drive(base_url, calls, seconds))


def _paced_sync(base_url: str, calls: list[PreparedCall], rate: float) -> list[float]:
    return uvloop.run(_paced(base_url, calls, rate))


def _elsewhere(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` in a process of its own: providers are other machines, and a load
    generator in the bridge's process would take the bridge's interpreter lock half the
    time."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


async def _launch(nats_url: str, bucket: str, names: list[str]) -> dict[str, str]:
    """Issue each player's launch token in JetStream KV, as the platform does."""
    nc = await nats.connect(nats_url)
    try:
        store = await KvSessionStore.open(nc.jetstream(), bucket)
        issued = [await store.issue("hub88", n, CURRENCY, ttl_s=86400) for n in names]
    finally:
        await nc.drain()
    return {session.player: session.token for session in issued}


def _signed_bets(
    key: rsa.RSAPrivateKey,
    tokens: dict[str, str],
    concurrency: int,
    per_worker: int,
    rounds: str = "bench",
) -> list[list[PreparedCall]]:
    client = Hub88Client(transport=None, private_key=key)  # type: ignore[arg-type]
    players = sorted(tokens)

    def queue(worker: int) -> list[PreparedCall]:
        mine = players[worker::concurrency]
        return [
            client.bet_call(
                user=(player := mine[n % len(mine)]),
                token=tokens[player],
                round_id=f"{rounds}-{worker}-{n // len(mine)}",
                tx=str(uuid.uuid4()),
                amount=STAKE,
                currency=CURRENCY,
            )
            for n in range(per_worker)
        ]

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(queue, range(concurrency)))


def _provider(public_pem: bytes) -> ProviderConfig:
    return ProviderConfig(
        id="hub88",
        dialect="hub88",
        currencies=(CURRENCY,),
        secret=public_pem,
        allow_ips=networks(["127.0.0.1/32"]),
        rate_limit=1e9,
        burst=1e9,
        # Latency is measured, not refused: on a machine shared with others a bet past
        # Hub88's 0.9 s would end the run instead of showing in its p99.
        answer_within_s=30.0,
    )


def _ledger(nats_url: str, stream_prefix: str, names: list[str]) -> tuple[Any, Any]:
    """The real ledger on `stream_prefix`'s streams, `names` funded, with limits and player
    protection checked before every hold as `livebridge run` has them (a profile and a
    weekly stake limit for every player, so each bet does the checks' whole work)."""
    from contracts.player import EffectiveLimits
    from contracts.player import LimitsUpdate
    from contracts.protection import LimitKind
    from contracts.protection import Period
    from contracts.protection import ProtectionLimit
    from services.ledger.application import Ledger
    from services.ledger.protection import Protection

    env = {
        "PERSISTENCE_MODULE": "services.eventstore",
        "NATS_URL": nats_url,
        "NATS_STREAM_PREFIX": stream_prefix,
    }
    ledger = Ledger(env)
    guard = Protection(env)
    guard.update_limits(
        LimitsUpdate(
            provider="",
            limits=EffectiveLimits(max_bet=Decimal(10**6), max_round=Decimal(10**9)),
            effective_at=datetime.now(UTC),
        ),
        "bench",
    )
    weekly = ProtectionLimit(
        kind=LimitKind.STAKE, period=Period.WEEK, currency=CURRENCY, amount=str(10**9)
    )

    def fund(name: str) -> None:
        ledger.open_wallet(name, CURRENCY)
        ledger.deposit(name, CURRENCY, Decimal(10**6), tx_id=f"bench-open-{name}")
        guard.change(name, weekly, "bench")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(fund, names))
    ledger.policy = guard
    return ledger, guard


def measure(
    nats_url: str | None = None,
    *,
    nats_pid: int | None = None,
    nats_monitor: str | None = None,
    seconds: float = 6.0,
    concurrency: int = 32,
    players: int = 128,
    max_bets: int = 8000,
) -> dict[str, float]:
    """Every edge figure; `nats_pid` (the server's process) adds its CPU per bet, and
    `nats_monitor` (its monitoring URL) what it handled per bet."""
    from services.infra.natsserver import NatsServer

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    provider = _provider(public_pem)
    names = [f"bench-{n:04d}" for n in range(players)]
    server = None
    if nats_url is None:
        server = NatsServer()
        server.start()
        nats_url, nats_pid, nats_monitor = server.url, server.pid, server.monitor_url
    bucket = "bench_sessions_" + uuid.uuid4().hex[:8]
    tokens = asyncio.run(_launch(nats_url, bucket, names))
    per_worker = max(1, max_bets // concurrency)
    calls = _signed_bets(key, tokens, concurrency, per_worker)
    ledger, guard = _ledger(nats_url, "BENCHEDGE" + uuid.uuid4().hex[:6].upper(), names)
    try:
        with _served(ledger, provider, nats_url, bucket) as url:
            with (
                spent(bridge=os.getpid(), server=nats_pid) as durable_cpu,
                handled(nats_monitor) as asked,
            ):
                rate, saturated = _elsewhere(_drive_sync, url, calls, seconds)
            paced_rate = max(1.0, rate * PACED_SHARE)
            # The same tables as the saturated run (each client's own), taken in turn.
            tables = _signed_bets(
                key, tokens, concurrency, int(paced_rate * seconds) // concurrency + 1, "paced"
            )
            paced = [call for turn in zip(*tables, strict=True) for call in turn]
            latencies = _elsewhere(_paced_sync, url, paced, paced_rate)
        fresh = _signed_bets(key, tokens, concurrency, per_worker, "only")
        with (
            _served(_NullLedger(), provider, nats_url, bucket) as url,
            spent(bridge=os.getpid()) as edge_only_cpu,
        ):
            edge_only, answered = _elsewhere(_drive_sync, url, fresh, min(seconds, 3.0))
    finally:
        ledger.close()
        guard.close()
        if server is not None:
            server.stop()
    bets = len(saturated)
    figures = {
        "edge_bet_per_s": float(rate),
        "edge_bet_p99_saturated_ms": round(percentile(saturated, 0.99), 2),
        "edge_paced_per_s": round(paced_rate, 1),
        "edge_bet_p50_ms": round(statistics.median(latencies), 2) if latencies else 0.0,
        "edge_bet_p99_ms": round(percentile(latencies, 0.99), 2),
        "edge_only_bet_per_s": float(edge_only),
        "edge_durable_ratio": round(rate / max(edge_only, 1), 3),
        "bet_cpu_ms": round(durable_cpu.per("bridge", bets), 3),
        "edge_only_cpu_ms": round(edge_only_cpu.per("bridge", len(answered)), 3),
    }
    figures["bet_cpu_vs_edge_only"] = round(
        figures["bet_cpu_ms"] / max(figures["edge_only_cpu_ms"], 0.001), 2
    )
    if "server" in durable_cpu.seconds:
        figures["bet_server_cpu_ms"] = round(durable_cpu.per("server", bets), 3)
    for name, count in asked.counts.items():
        figures[f"bet_server_{name}"] = round(count / max(bets, 1), 2)
    return figures


def durable_cost_ms(
    nats_url: str,
    nats_pid: int,
    stream_prefix: str,
    *,
    seconds: float = 6.0,
    concurrency: int = 32,
    players: int = 128,
    max_bets: int = 8000,
    label: str = "cost",
) -> float:
    """Bridge plus server CPU milliseconds per saturated durable bet, the ledger on the
    streams of `stream_prefix` (a fresh log, or a big one: `bet_cost_growth`), by players
    and in rounds named after `label` (another label: new wallets and rounds on a log)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    names = [f"{label}-{n:04d}" for n in range(players)]
    bucket = "bench_sessions_" + uuid.uuid4().hex[:8]
    tokens = asyncio.run(_launch(nats_url, bucket, names))
    calls = _signed_bets(key, tokens, concurrency, max(1, max_bets // concurrency), label)
    ledger, guard = _ledger(nats_url, stream_prefix, names)
    try:
        with (
            _served(ledger, _provider(public_pem), nats_url, bucket) as url,
            spent(bridge=os.getpid(), server=nats_pid) as cpu,
        ):
            _, answered = _elsewhere(_drive_sync, url, calls, seconds)
    finally:
        ledger.close()
        guard.close()
    bets = len(answered)
    return cpu.per("bridge", bets) + cpu.per("server", bets)


COST_ROUNDS = 3
"""Runs of the durable bets on each log, alternating fresh and big: the median of each."""


def cost_growth(
    nats_url: str, nats_pid: int, big_prefix: str, *, rounds: int = COST_ROUNDS, **bets: Any
) -> dict[str, float]:
    """Bridge plus server CPU per durable bet on the big log (the streams of `big_prefix`)
    over the same on a fresh log, the two measured in turn `rounds` times each (a bet's
    cost must not grow as the casino runs). `bets` sizes each run (`durable_cost_ms`)."""
    fresh: list[float] = []
    big: list[float] = []
    for run in range(rounds):
        # New players and rounds each run: on the big log too, every run's wallets are new.
        fresh_prefix = "FRESH" + uuid.uuid4().hex[:8].upper()
        fresh.append(durable_cost_ms(nats_url, nats_pid, fresh_prefix, label=f"cost{run}", **bets))
        big.append(durable_cost_ms(nats_url, nats_pid, big_prefix, label=f"cost{run}", **bets))
    return {
        "bet_cost_fresh_log_ms": round(statistics.median(fresh), 3),
        "bet_cost_big_log_ms": round(statistics.median(big), 3),
        "bet_cost_growth": round(statistics.median(big) / statistics.median(fresh), 3),
    }


if __name__ == "__main__":
    print(measure())
