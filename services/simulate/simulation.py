"""A whole simulation: seat players, play tables concurrently, check every balance.

`simulate()` funds each player (through a `Bank`: the platform's cashier and launcher),
plays `tables` tables of `rounds` rounds each (games cycle roulette, baccarat, blackjack),
`parallel` rounds of a table in play at once, `bettors` players betting in each round (a
window that rotates round by round, so every player bets; default: all of them), then
compares each player's balance in the ledger, and in the dialect when it has a
balance call, with the simulator's own books. The `Report` lists every difference; an
empty `mismatches` is the pass condition.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from typing import Protocol

from services.simulate.drivers import Seat
from services.simulate.drivers import WalletDriver
from services.simulate.games import games
from services.simulate.table import Books
from services.simulate.table import Chaos
from services.simulate.table import PushFn
from services.simulate.table import Table

DEFAULT_GAMES = ("roulette", "baccarat", "blackjack")


class Bank(Protocol):
    """What the platform does around a table: deposits, game launches, balance reads."""

    async def deposit(self, player: str, currency: str, amount: Decimal, tx_id: str) -> None: ...

    async def launch(self, provider: str, player: str, currency: str) -> str:
        """A session token for the player at this provider."""

    async def balance(self, player: str, currency: str) -> Decimal:
        """The player's available balance in the ledger."""


@dataclass
class Report:
    dialect: str
    provider: str
    tables: int
    players: int
    rounds: int
    seconds: float
    books: Books
    bettors: int = 0
    """Players betting in each round."""
    bettors_seen: int = 0
    """Players who placed at least one bet over the run."""
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def summary(self) -> dict[str, object]:
        return {
            "dialect": self.dialect,
            "provider": self.provider,
            "tables": self.tables,
            "players_per_table": self.players,
            "rounds": self.rounds,
            "bettors_per_round": self.bettors,
            "players_who_bet": self.bettors_seen,
            "seconds": round(self.seconds, 3),
            "bets": self.books.bets,
            "standing_bets": self.books.standing,
            "rolled_back": self.books.rolled_back,
            "pre_rolled_back": self.books.pre_rolled_back,
            "abandoned": self.books.abandoned,
            "duplicated_calls": self.books.duplicates,
            "finished_on_bet": self.books.finished_on_bet,
            "staked": str(self.books.staked),
            "paid": str(self.books.paid),
            "mismatches": self.mismatches,
            "ok": self.ok,
        }


async def simulate(
    *,
    driver: WalletDriver,
    push: PushFn,
    bank: Bank,
    provider: str,
    tables: int = 1,
    players: int = 50,
    rounds: int = 100,
    seed: int = 1,
    currency: str = "EUR",
    deposit: Decimal = Decimal("100000"),
    game_names: Sequence[str] = DEFAULT_GAMES,
    chaos: Chaos | None = None,
    run_id: str = "",
    bettors: int | None = None,
    parallel: int = 1,
) -> Report:
    rng = random.Random(seed)
    run_id = run_id or f"s{seed}x{rng.randrange(16**6):06x}"
    books = Books()
    chosen = games(game_names)
    seats_by_table: list[list[Seat]] = []
    for t in range(tables):
        seats = []
        for i in range(players):
            player = f"{run_id}-t{t}-p{i}"
            await bank.deposit(player, currency, deposit, f"dep-{player}")
            books.deposit(player, deposit)
            token = await bank.launch(provider, player, currency)
            seats.append(Seat(player=player, currency=currency, token=token))
        seats_by_table.append(seats)
    started = time.perf_counter()
    round_base = int(time.time()) % 10**6 * 10**3 + seed % 1000
    table_objs = [
        Table(
            provider=provider,
            table_id=f"{run_id}-table-{t}",
            game=chosen[t % len(chosen)],
            seats=seats_by_table[t],
            driver=driver,
            push=push,
            books=books,
            rng=random.Random(rng.random()),
            chaos=chaos or Chaos(),
            round_prefix=f"{round_base}{t:03d}",
            bettors=bettors,
            parallel=parallel,
        )
        for t in range(tables)
    ]
    await asyncio.gather(*(table.play(rounds) for table in table_objs))
    seconds = time.perf_counter() - started
    report = Report(driver.dialect, provider, tables, players, rounds, seconds, books)
    report.bettors = table_objs[0].bettors if table_objs else 0
    report.bettors_seen = len(books.bettors)
    for seats in seats_by_table:
        for seat in seats:
            want = books.expected[seat.player]
            got = await bank.balance(seat.player, currency)
            if got != want:
                report.mismatches.append(f"{seat.player}: ledger {got} != books {want}")
            seen = await driver.balance(seat)
            if seen is not None and seen != want:
                report.mismatches.append(f"{seat.player}: {driver.dialect} says {seen} != {want}")
    return report
