"""Bet-socket figures for `make bench`: durable canonical bets through the player's socket.

`measure(nats_url, database_url)` serves the whole bridge (`build_app`, as `livebridge
run` builds it: front door, catalogue, limits and player protection, the ledger on
JetStream, the views on a database of its own) on 127.0.0.1 in a thread, funds and
launches `sockets` players through the platform API, opens a round per player, and drives
the bet socket from a process of its own (players are other machines):

- `ws_bet_per_s`: `bet.accepted` answers a second with every socket betting again as soon
  as it is answered (the bridge saturated); each is a hold fsynced in the ledger;
- `ws_bet_p99_ms` (and p50): the latency of bets sent at a steady `PACED_SHARE` of that
  rate (an open loop over every socket), counted from when each bet was due, what a player
  sees of a bridge that is busy but not at its limit; sent once the views have caught up
  on the saturated run's bets (`_caught_up`).

Each socket keeps under the socket's rate limit (`services.frontdoor.socket.RATE`): a
player bets a few times a second, so the load comes from many sockets, as in a casino.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import uvloop
from aiohttp import web

from contracts.events import BettingOpened
from projections.http import VIEWS
from services.bench.edge import PACED_SHARE
from services.bench.edge import _elsewhere
from services.bench.edge import percentile
from services.bridge.config import Settings
from services.bridge.main import LEDGER
from services.bridge.main import build_app
from services.infra.databases import own_database

KEY = "bench-admin-key-0123456789abcdefghij"
PLAYER_SECRET = "bench-player-token-secret-0123456789abcdef"
CONFIG = """
[platform]
player_token_secret_env = "BENCH_PLAYER_TOKEN_SECRET"
[[operator]]
id = "bench"
  [[operator.key]]
  id = "admin"
  secret_env = "BENCH_ADMIN_KEY"
  scopes = ["admin"]
[[provider]]
id = "evo"
dialect = "evolution"
currencies = ["EUR"]
secret_env = "BENCH_EVO_TOKEN"
[[table]]
provider = "evo"
id = "T1"
game = "roulette"
"""
AUTH = {"Authorization": f"Bearer {KEY}"}


ROUNDS = 200
"""Rounds open at once on the table; a player bets `BETS_PER_ROUND` times in each, in turn."""
BETS_PER_ROUND = 4


@dataclass(frozen=True)
class Seat:
    session_id: str
    token: str


CATCH_UP_S = 120.0
"""How long the views may take to catch up on the saturated run's bets."""


def _round(n: int) -> str:
    return f"R-ws-{(n // BETS_PER_ROUND) % ROUNDS}"


@contextlib.contextmanager
def _served(settings: Settings) -> Iterator[tuple[str, web.Application]]:
    """The bridge on 127.0.0.1 in a thread with its own event loop (uvloop, as `livebridge
    run` has it): its URL and app."""
    loop = uvloop.new_event_loop()
    app = build_app(settings)
    runner = web.AppRunner(app, access_log=None)

    async def start() -> int:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        return int(runner.addresses[0][1])

    thread = threading.Thread(target=loop.run_forever, name="socket-bench", daemon=True)
    thread.start()
    port = asyncio.run_coroutine_threadsafe(start(), loop).result(120)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


async def _seat_players(base: str, players: list[str]) -> list[Seat]:
    """Wallets, deposits, limits that let every bet through, and a launch per player."""
    async with aiohttp.ClientSession(headers=AUTH) as http:

        async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            async with http.post(base + path, json=body) as response:
                answer: dict[str, Any] = await response.json()
                if response.status != 200:
                    raise RuntimeError(f"{path}: {response.status} {answer}")
                return answer

        await post(
            "/platform/v1/limits",
            {
                "type": "limits.update",
                "provider": "evo",
                "effectiveAt": datetime.now(UTC).isoformat(),
                "limits": {"profile": "DEFAULT", "maxBet": "1000000", "maxRound": "1000000000"},
            },
        )

        async def seat(player: str) -> Seat:
            await post(f"/platform/v1/players/{player}/wallets", {"currency": "EUR"})
            await post(
                f"/platform/v1/players/{player}/deposits",
                {"idempotencyKey": f"fund-{player}", "currency": "EUR", "amount": "1000000.00"},
            )
            launched = await post(
                "/platform/v1/sessions",
                {
                    "player": player,
                    "currency": "EUR",
                    "country": "MT",
                    "kycStatus": "VERIFIED",
                    "provider": "evo",
                    "table": "T1",
                },
            )
            return Seat(launched["sessionId"], launched["playerToken"])

        return list(await asyncio.gather(*(seat(p) for p in players)))


def open_rounds(record: Callable[[BettingOpened], object]) -> None:
    """The table's `ROUNDS` rounds (named as `_round` names them), open for an hour."""
    now = datetime.now(UTC)
    for n in range(ROUNDS):
        record(
            BettingOpened(
                provider="evo",
                round_id=f"R-ws-{n}",
                table="T1",
                game="roulette",
                seq=1,
                occurred_at=now,
                closes_at=now + timedelta(hours=1),
            )
        )


def _bet(seat: Seat, key: str, n: int) -> str:
    """The player's `n`-th bet."""
    return json.dumps(
        {
            "type": "bet.place",
            "idempotencyKey": key,
            "sessionId": seat.session_id,
            "roundId": _round(n),
            "selection": [{"market": "roulette_straight", "value": "17"}],
            "stake": {"amount": "1.00", "currency": "EUR"},
        }
    )


_ANSWERS = frozenset({"bet.accepted", "bet.rejected"})


async def _answer(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = await ws.receive_json()
        if message["type"] in _ANSWERS:
            return message


async def _connect(http: aiohttp.ClientSession, base: str, seat: Seat) -> Any:
    return await http.ws_connect(f"{base}/platform/v1/player/socket?token={seat.token}")


async def _saturate(base: str, seats: list[Seat], seconds: float) -> tuple[float, list[float]]:
    async with aiohttp.ClientSession() as http:
        sockets = [await _connect(http, base, seat) for seat in seats]
        latencies: list[float] = []
        start = time.perf_counter()
        end = start + seconds

        async def player(ws: aiohttp.ClientWebSocketResponse, seat: Seat, n: int) -> int:
            accepted = 0
            while time.perf_counter() < end:
                sent = time.perf_counter()
                key = f"sat-{n}-{accepted}-{uuid.uuid4().hex[:6]}"
                await ws.send_str(_bet(seat, key, accepted))
                answer = await _answer(ws)
                if answer["type"] == "bet.accepted":
                    latencies.append((time.perf_counter() - sent) * 1000)
                    accepted += 1
                elif answer["code"].endswith("RATE_LIMITED"):
                    await asyncio.sleep(0.1)
                else:
                    raise RuntimeError(f"a bench bet was refused: {answer}")
            return accepted

        counts = await asyncio.gather(
            *(player(ws, seat, n) for n, (ws, seat) in enumerate(zip(sockets, seats, strict=True)))
        )
        elapsed = time.perf_counter() - start
        for ws in sockets:
            await ws.close()
    return sum(counts) / elapsed, latencies


async def _paced(base: str, seats: list[Seat], rate: float, seconds: float) -> list[float]:
    async with aiohttp.ClientSession() as http:
        sockets = [await _connect(http, base, seat) for seat in seats]
        total = max(1, int(rate * seconds))
        due: dict[str, float] = {}
        latencies: list[float] = []
        answered = asyncio.Event()

        async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
            while True:
                answer = await _answer(ws)
                at = due.pop(answer["idempotencyKey"], None)
                if answer["type"] != "bet.accepted":
                    raise RuntimeError(f"a paced bench bet was refused: {answer}")
                if at is not None:
                    latencies.append((time.perf_counter() - at) * 1000)
                if len(latencies) == total:
                    answered.set()

        readers = [asyncio.create_task(read(ws)) for ws in sockets]
        start = time.perf_counter() + 0.2
        for n in range(total):
            when = start + n / rate
            await asyncio.sleep(max(0.0, when - time.perf_counter()))
            turn = n % len(seats)
            key = f"paced-{n}-{uuid.uuid4().hex[:6]}"
            due[key] = when
            await sockets[turn].send_str(_bet(seats[turn], key, n // len(seats)))
        await asyncio.wait_for(answered.wait(), 60)
        for reader in readers:
            reader.cancel()
        for ws in sockets:
            await ws.close()
    return latencies


def _saturate_sync(base: str, seats: list[Seat], seconds: float) -> tuple[float, list[float]]:
    return uvloop.run(_saturate(base, seats, seconds))


def _paced_sync(base: str, seats: list[Seat], rate: float, seconds: float) -> list[float]:
    return uvloop.run(_paced(base, seats, rate, seconds))


def _caught_up(app: web.Application) -> None:
    """Wait until every view has read the log to its head: the saturated run leaves the
    views a backlog of its bets to write, and the paced bets are to meet a bridge busy at
    half its rate, not one still catching up on twice that."""
    head = app[LEDGER].recorder.max_notification_id()
    app[VIEWS].wait(head, timeout=CATCH_UP_S)


def measure(
    nats_url: str, database_url: str, *, sockets: int = 64, seconds: float = 6.0
) -> dict[str, float]:
    environ = {
        "BENCH_ADMIN_KEY": KEY,
        "BENCH_PLAYER_TOKEN_SECRET": PLAYER_SECRET,
        "BENCH_EVO_TOKEN": "bench-evo-token",
    }
    with (
        own_database(database_url, "livebridge_bench_ws") as database,
        tempfile.TemporaryDirectory() as tmp,
    ):
        config = Path(tmp) / "livebridge.toml"
        config.write_text(CONFIG)
        settings = Settings(
            home=Path(tmp) / "home",
            http_host="127.0.0.1",
            http_port=0,
            nats_url=nats_url,
            # The bench's own nats-server from the wheel, started with fsync always.
            nats_monitor_url=None,
            allow_unsynced_nats=True,
            database_url=database,
            config_path=config,
            stream_prefix="BENCHWS" + uuid.uuid4().hex[:6].upper(),
            environ=environ,
        )
        with _served(settings) as (base, app):
            players = [f"ws-{n:03d}" for n in range(sockets)]
            seats = asyncio.run(_seat_players(base, players))
            open_rounds(app[LEDGER].record_event)
            rate, saturated = _elsewhere(_saturate_sync, base, seats, seconds)
            paced_rate = max(1.0, rate * PACED_SHARE)
            _caught_up(app)
            latencies = _elsewhere(_paced_sync, base, seats, paced_rate, seconds)
    return {
        "ws_bet_per_s": round(rate, 1),
        "ws_bet_p99_saturated_ms": round(percentile(saturated, 0.99), 2),
        "ws_paced_per_s": round(paced_rate, 1),
        "ws_bet_p50_ms": round(statistics.median(latencies), 2) if latencies else 0.0,
        "ws_bet_p99_ms": round(percentile(latencies, 0.99), 2),
    }
