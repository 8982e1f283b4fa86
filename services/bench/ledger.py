"""Ledger figures for `make bench`, on a real nats-server (fsync always), fresh streams each.

- `bet_write_per_s`: debits one after the other, each durable before the next (one caller).
- `one_table_burst_per_s`: 1,000 bets from 1,000 players on ONE round, sent by `WORKERS`
  threads at once: the hot-table case. Bets never write to their round, so they do not
  serialize on it.
- `many_tables_burst_per_s`: the same 1,000 bets spread over 1,000 tables (rounds).
  The target is one_table >= 0.8 x many_tables.
- `one_table_settle_ms`: after the one-table burst, from recording the declared result to
  every bet settled by the bridge (round book + payouts, batched saves).
- `wallet_load_100k_ms`: median time for a process that has never seen it to load a wallet
  with 100,000 past transactions (snapshots every 200 events).
"""

from __future__ import annotations

import contextlib
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from datetime import datetime
from decimal import Decimal
from typing import Any
from typing import ClassVar

from contracts.events import BettingClosed
from contracts.events import BettingOpened
from contracts.events import ResultDeclared
from contracts.wallet import Debit
from contracts.wallet import Selection
from services.ledger.application import Ledger
from services.ledger.domain import Wallet
from services.ledger.domain import wallet_id
from services.ledger.errors import LedgerRefused
from services.ledger.views import BetStatus

WORKERS = 32
BURST = 1000
SEQUENTIAL = 300
LOAD_TRANSACTIONS = 100_000
PROVIDER = "bench"


def _env(nats_url: str, **extra: str) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "services.eventstore",
        "NATS_URL": nats_url,
        "NATS_STREAM_PREFIX": "LB" + uuid.uuid4().hex[:10].upper(),
        "LEDGER_BRIDGE_SETTLED_PROVIDERS": PROVIDER,
        **extra,
    }


def _players(ledger: Ledger, count: int, funds: Decimal = Decimal(1000)) -> list[str]:
    """Open and fund `count` wallets, 400 per atomic batch (2 events each)."""
    players = [f"player-{n}" for n in range(count)]
    for start in range(0, count, 400):
        wallets = []
        for player in players[start : start + 400]:
            wallet = Wallet(player=player, currency="EUR")
            wallet.deposit("trn_bench_funding", funds, "cashier")
            wallets.append(wallet)
        ledger.save(*wallets)
    return players


def _bet(player: str, round_id: str, n: int) -> Debit:
    return Debit(
        provider=PROVIDER,
        tx_id=f"bench-{round_id}-{n}",
        player=player,
        currency="EUR",
        amount=Decimal("1.00"),
        round_id=round_id,
        selections=(Selection(market="roulette_red"),),
    )


def _burst(ledger: Ledger, bets: list[Debit]) -> float:
    with ThreadPoolExecutor(WORKERS) as pool:
        started = time.perf_counter()
        list(pool.map(ledger.execute, bets))
        return len(bets) / (time.perf_counter() - started)


def _opened(round_id: str) -> BettingOpened:
    now = datetime.now(UTC)
    return BettingOpened(
        provider=PROVIDER,
        round_id=round_id,
        table="bench",
        game="roulette",
        seq=1,
        occurred_at=now,
        closes_at=now,
    )


def bet_write_rate(nats_url: str, count: int = SEQUENTIAL) -> float:
    with Ledger(env=_env(nats_url)) as ledger:
        players = _players(ledger, 10)
        bets = [_bet(players[n % 10], f"seq-{n}", n) for n in range(count)]
        ledger.execute(bets[0])  # connect, create streams
        started = time.perf_counter()
        for bet in bets[1:]:
            ledger.execute(bet)
        return (count - 1) / (time.perf_counter() - started)


def one_table_burst(nats_url: str, count: int = BURST) -> tuple[float, float]:
    """Bets per second on one round, and ms from the result to every bet settled."""
    with Ledger(env=_env(nats_url)) as ledger:
        players = _players(ledger, count)
        ledger.record_event(_opened("hot"))
        _burst(ledger, [_bet(p, "warm", n) for n, p in enumerate(players[:WORKERS])])
        rate = _burst(ledger, [_bet(p, "hot", n) for n, p in enumerate(players)])
        now = datetime.now(UTC)
        ledger.record_event(
            BettingClosed(provider=PROVIDER, round_id="hot", seq=2, occurred_at=now)
        )
        ledger.drain_round_book()  # the follower runs continuously in the service
        started = time.perf_counter()
        ledger.record_event(
            ResultDeclared(
                provider=PROVIDER,
                round_id="hot",
                seq=3,
                occurred_at=now,
                result={"number": "1"},
            )
        )
        settle_ms = (time.perf_counter() - started) * 1000
        settled = ledger.round_state(PROVIDER, "hot")
        assert all(b.status == BetStatus.SETTLED for b in settled.bets), "bench round not settled"
        return rate, settle_ms


def many_tables_burst(nats_url: str, count: int = BURST) -> float:
    with Ledger(env=_env(nats_url)) as ledger:
        players = _players(ledger, count)
        _burst(ledger, [_bet(p, "warm", n) for n, p in enumerate(players[:WORKERS])])
        return _burst(ledger, [_bet(p, f"table-{n}", n) for n, p in enumerate(players)])


class _WriteOnly(Ledger):
    """The ledger without automatic snapshots, to write a long history fast; one snapshot
    is taken near the end, where the running ledger would have its latest."""

    name = "Ledger"
    is_snapshotting_enabled = True
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {}


def wallet_load_ms(nats_url: str, transactions: int = LOAD_TRANSACTIONS, loads: int = 5) -> float:
    env = _env(nats_url)
    whale = wallet_id("whale", "EUR")
    with _WriteOnly(env=env) as writer:
        wallet = Wallet(player="whale", currency="EUR")
        for n in range(transactions):
            wallet.deposit(f"trn_{n}", Decimal("1.00"), "cashier")
            if len(wallet.pending_events) == 1000:
                writer.save(wallet)
        writer.save(wallet)
        # Snapshots come every 200 events: on average a load finds 100 events past the last.
        writer.take_snapshot(whale, version=transactions + 1 - 100)
    timings: list[float] = []
    for _ in range(loads):
        # A new ledger each time, warmed up on another wallet: connected, but it has never
        # seen the whale (no cached aggregate, head or snapshot position).
        with Ledger(env={**env, "AGGREGATE_CACHE_MAXSIZE": ""}) as fresh:
            with contextlib.suppress(LedgerRefused):
                fresh.balance("minnow", "EUR")
            started = time.perf_counter()
            loaded = fresh.find(Wallet, whale)
            timings.append((time.perf_counter() - started) * 1000)
            assert loaded is not None and loaded.version == transactions + 1
    return statistics.median(timings)


def measure(nats_url: str, runs: int = 3) -> dict[str, float]:
    """Every figure; the bursts are run `runs` times, interleaved, and the best kept (on a
    2-core machine one run varies by a quarter either way)."""
    hot: list[float] = []
    settle: list[float] = []
    many: list[float] = []
    for _ in range(runs):
        many.append(many_tables_burst(nats_url))
        rate, settle_ms = one_table_burst(nats_url)
        hot.append(rate)
        settle.append(settle_ms)
    return {
        "bet_write_per_s": round(bet_write_rate(nats_url), 1),
        "one_table_burst_per_s": round(max(hot), 1),
        "many_tables_burst_per_s": round(max(many), 1),
        "one_table_vs_many_tables": round(max(hot) / max(many), 2),
        "one_table_settle_ms": round(min(settle), 1),
        "wallet_load_100k_ms": round(wallet_load_ms(nats_url), 1),
    }
