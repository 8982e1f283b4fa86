"""A live table played against a running bridge: game events on the push feed, wallet calls
in one dialect, and books kept independently to check the bridge's balances at the end.

Each round: betting opens (pushed), the round's bettors (every seated player, or a
rotating window of `bettors` of them so that all take turns) place one to three bets
concurrently (some calls sent twice, some bets rolled back after, some rolled back *before*
they are placed), betting closes, the table events and the result (with its `round_hash`)
are pushed (some twice, some out of order), and every player's standing bets are paid by
the game's odds. Where the dialect does it, a player none of whose bets wins may end the
round on one more losing bet instead, sent as finishing it (no win follows).

The books are the simulator's own: a bet stands unless it was rolled back (before or
after); the expected balance is the deposit, minus standing stakes, plus their payouts.
The bridge's answers are checked against the dialect's rules as they come (`drivers.py`)
and, at the end, every player's balance against the books.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import ROUND_DOWN
from decimal import Decimal

import aiohttp
import msgspec

from contracts import feeds
from contracts.events import AnyProviderEvent
from contracts.events import BettingClosed
from contracts.events import BettingOpened
from contracts.events import GameEvent
from contracts.events import ResultDeclared
from contracts.events import round_digest
from contracts.money import quantum
from services.simulate.drivers import FinishesOnBet
from services.simulate.drivers import Placed
from services.simulate.drivers import Seat
from services.simulate.drivers import Wager
from services.simulate.drivers import WalletDriver
from services.simulate.games import Game
from services.simulate.games import Outcome
from services.simulate.games import Pick

STAKES = (Decimal("1"), Decimal("2"), Decimal("2.50"), Decimal("5"), Decimal("10"), Decimal("25"))


@dataclass(frozen=True, slots=True)
class Chaos:
    """How often the simulated provider misbehaves, each a probability per call or event."""

    duplicate_call: float = 0.05
    rollback_after: float = 0.03
    rollback_before: float = 0.02
    duplicate_event: float = 0.05
    reorder_events: float = 0.2
    finish_on_bet: float = 0.2
    """Per round, where the dialect does it (`FinishesOnBet`): a player with no winning
    bet ends the round on one more losing bet, sent `finished`, and gets no win."""


PushFn = Callable[[Sequence[AnyProviderEvent]], Awaitable[object]]
"""Pushes a batch of game events; what it returns is the bridge's answer, when it has one
(`http_pusher`: the body of the 200, a `FeedAck`)."""


def http_pusher(
    session: aiohttp.ClientSession, url: str, secret: str, *, retries: int = 5
) -> PushFn:
    """POST signed `FeedBatch`es to `url` (`.../feed/<provider>`), retrying 5xx and errors."""

    async def push(events: Sequence[AnyProviderEvent]) -> bytes:
        body = feeds.encoder.encode(feeds.FeedBatch(events=list(events)))
        headers = {feeds.SIGNATURE_HEADER: feeds.sign(body, secret)}
        for attempt in range(retries + 1):
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    answer = await response.read()
                    if response.status == 200:
                        return answer
                    if response.status < 500:
                        raise RuntimeError(f"feed push refused: HTTP {response.status}")
            except aiohttp.ClientError:
                if attempt == retries:
                    raise
            await asyncio.sleep(0.05 * 2**attempt)
        raise RuntimeError(f"feed push to {url} failed after {retries + 1} attempts")

    return push


@dataclass
class Books:
    """The simulator's own accounts: what each player's balance must be."""

    expected: dict[str, Decimal] = field(default_factory=dict)
    bets: int = 0
    standing: int = 0
    rolled_back: int = 0
    pre_rolled_back: int = 0
    abandoned: int = 0
    """Bets the provider rolled back after no answer in time or an unknown error."""
    duplicates: int = 0
    finished_on_bet: int = 0
    """Rounds a player ended on a losing bet, sent as finishing the round (no win)."""
    staked: Decimal = Decimal(0)
    paid: Decimal = Decimal(0)
    rounds: list[str] = field(default_factory=list)
    """Every round played, in order of its start (round ids are unique per provider)."""
    bettors: set[str] = field(default_factory=set)
    """Every player who placed a bet."""

    def deposit(self, player: str, amount: Decimal) -> None:
        self.expected[player] = self.expected.get(player, Decimal(0)) + amount


@dataclass
class _Planned:
    seat: Seat
    wager: Wager
    pick: Pick
    fate: str  # stands | rollback_after | rollback_before | abandoned
    duplicate: bool


class Table:
    def __init__(
        self,
        *,
        provider: str,
        table_id: str,
        game: Game,
        seats: Sequence[Seat],
        driver: WalletDriver,
        push: PushFn,
        books: Books,
        rng: random.Random,
        chaos: Chaos | None = None,
        round_prefix: str = "",
        bettors: int | None = None,
        parallel: int = 1,
    ) -> None:
        self.provider = provider
        self.table_id = table_id
        self.game = game
        self.seats = list(seats)
        self.driver = driver
        self.push = push
        self.books = books
        self.rng = rng
        self.chaos = chaos or Chaos()
        self.round_prefix = round_prefix or table_id
        self.bettors = len(self.seats) if bettors is None else max(1, min(bettors, len(seats)))
        """Players betting each round; the window rotates so every seat takes its turns."""
        self.parallel = max(1, parallel)
        """Rounds in play at once: the dealer opens the next round while the last settles."""
        self.rounds_played = 0

    def bettors_of(self, number: int) -> list[Seat]:
        """The seats that bet in round `number` (1-based): a window moving round by round."""
        if not self.seats:
            return []
        start = (number - 1) * self.bettors
        return [self.seats[(start + i) % len(self.seats)] for i in range(self.bettors)]

    async def play(self, rounds: int) -> None:
        # One generator per round, drawn up front: rounds in play at once interleave, and
        # each still plays the same bets for a given seed.
        seeds = [self.rng.random() for _ in range(rounds)]
        gate = asyncio.Semaphore(self.parallel)

        async def one(number: int) -> None:
            async with gate:
                await self.play_round(
                    f"{self.round_prefix}{number:05d}",
                    seats=self.bettors_of(number),
                    rng=random.Random(seeds[number - 1]),
                )

        await asyncio.gather(*(one(number) for number in range(1, rounds + 1)))

    async def play_round(
        self,
        round_id: str,
        *,
        seats: Sequence[Seat] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        rng = rng or self.rng
        chaos = self.chaos
        self.books.rounds.append(round_id)
        now = datetime.now(UTC)
        seq = iter(range(1, 10_000))
        events: list[AnyProviderEvent] = [
            BettingOpened(
                provider=self.provider,
                round_id=round_id,
                table=self.table_id,
                game=self.game.name,
                seq=next(seq),
                occurred_at=now,
                closes_at=now + timedelta(seconds=15),
            )
        ]
        await self.push(events)
        planned: list[_Planned] = []
        for seat in self.seats if seats is None else seats:
            for k in range(rng.choice((1, 1, 2, 3))):
                roll = rng.random()
                fate = (
                    "rollback_before"
                    if roll < chaos.rollback_before
                    else "rollback_after"
                    if roll < chaos.rollback_before + chaos.rollback_after
                    else "stands"
                )
                planned.append(
                    _Planned(
                        seat=seat,
                        wager=Wager(
                            bet_id=f"{round_id}-{seat.player}-{k}", stake=rng.choice(STAKES)
                        ),
                        pick=self.game.pick(rng),
                        fate=fate,
                        duplicate=rng.random() < chaos.duplicate_call,
                    )
                )
        by_seat: dict[str, list[_Planned]] = {}
        for plan in planned:
            by_seat.setdefault(plan.seat.player, []).append(plan)
        await asyncio.gather(*(self._place(round_id, plans) for plans in by_seat.values()))
        outcome = self.game.draw(rng)
        finished = await self._finish_on_bet(round_id, by_seat, outcome, rng)
        closed = BettingClosed(
            provider=self.provider, round_id=round_id, seq=next(seq), occurred_at=now
        )
        await self.push([closed])
        events.append(closed)
        table_events: list[AnyProviderEvent] = [
            GameEvent(
                provider=self.provider,
                round_id=round_id,
                seq=next(seq),
                occurred_at=now,
                kind=kind,
                data=data,
            )
            for kind, data in outcome.events
        ]
        result_seq = next(seq)
        unhashed = ResultDeclared(
            provider=self.provider,
            round_id=round_id,
            seq=result_seq,
            occurred_at=now,
            result=outcome.result,
        )
        digest = round_digest([*events, *table_events, unhashed])
        result = msgspec.structs.replace(unhashed, round_hash=digest)
        await self._push_messy([*table_events, result], rng)
        unit = quantum(self.seats[0].currency) if self.seats else Decimal("0.01")
        settle: list[Awaitable[None]] = []
        for plans in by_seat.values():
            standing = [
                Wager(
                    bet_id=p.wager.bet_id,
                    stake=p.wager.stake,
                    payout=self.game.payout(p.pick, p.wager.stake, outcome).quantize(
                        unit, rounding=ROUND_DOWN
                    ),
                )
                for p in plans
                if p.fate == "stands"
            ]
            for wager in standing:
                self.books.expected[plans[0].seat.player] += wager.payout
                self.books.paid += wager.payout
            if plans[0].seat.player == finished:
                continue  # lost on its last bet, which ended the round: no win follows
            duplicate = rng.random() < chaos.duplicate_call
            settle.append(
                self.driver.settle(plans[0].seat, round_id, standing, duplicate=duplicate)
            )
        await asyncio.gather(*settle)
        self.rounds_played += 1

    async def _place(self, round_id: str, plans: list[_Planned]) -> None:
        """One player's bets in order (a player clicks one chip after another)."""
        for plan in plans:
            self._offered(plan)
            if plan.fate == "rollback_before":
                self.books.pre_rolled_back += 1
                await self.driver.rollback(plan.seat, round_id, plan.wager, early=True)
                await self.driver.bet(plan.seat, round_id, plan.wager, duplicate=plan.duplicate)
                continue
            placed = await self.driver.bet(
                plan.seat, round_id, plan.wager, duplicate=plan.duplicate
            )
            if placed is Placed.ABANDONED:
                # The provider gave up on it and rolled it back: it stands nowhere.
                self.books.abandoned += 1
                plan.fate = "abandoned"
                continue
            if placed is not Placed.TAKEN:
                raise AssertionError(f"bet {plan.wager.bet_id} refused by the bridge")
            if plan.fate == "rollback_after":
                self.books.rolled_back += 1
                await self.driver.rollback(plan.seat, round_id, plan.wager, early=False)
                continue
            self._stands(plan)

    async def _finish_on_bet(
        self,
        round_id: str,
        by_seat: dict[str, list[_Planned]],
        outcome: Outcome,
        rng: random.Random,
    ) -> str:
        """Sometimes, where the dialect does it, a player none of whose standing bets wins
        places one more, losing, bet sent as finishing the round: the bridge settles their
        open bets in it as lost and no win follows (SoftSwiss acceptance scenario C). It
        closes the round, so it comes after every other bet. The player, or ''."""
        if not isinstance(self.driver, FinishesOnBet) or rng.random() >= self.chaos.finish_on_bet:
            return ""
        losers = [
            plans
            for plans in by_seat.values()
            if not any(
                self.game.payout(p.pick, p.wager.stake, outcome)
                for p in plans
                if p.fate == "stands"
            )
        ]
        picks = [self.game.pick(rng) for _ in range(10)]
        pick = next((p for p in picks if not self.game.payout(p, Decimal(1), outcome)), None)
        if not losers or pick is None:
            return ""
        plans = rng.choice(losers)
        seat = plans[0].seat
        wager = Wager(bet_id=f"{round_id}-{seat.player}-{len(plans)}", stake=rng.choice(STAKES))
        plan = _Planned(seat, wager, pick, "stands", rng.random() < self.chaos.duplicate_call)
        plans.append(plan)
        self._offered(plan)
        await self.driver.finish_lost(seat, round_id, wager, duplicate=plan.duplicate)
        self._stands(plan)
        self.books.finished_on_bet += 1
        return seat.player

    def _offered(self, plan: _Planned) -> None:
        self.books.bets += 1
        self.books.bettors.add(plan.seat.player)
        self.books.duplicates += plan.duplicate

    def _stands(self, plan: _Planned) -> None:
        self.books.standing += 1
        self.books.staked += plan.wager.stake
        self.books.expected[plan.seat.player] -= plan.wager.stake

    async def _push_messy(self, events: list[AnyProviderEvent], rng: random.Random) -> None:
        """Push events one batch at a time, some twice, some swapped with their neighbour."""
        batches = [[e] for e in events]
        for i in range(len(batches) - 1):
            if rng.random() < self.chaos.reorder_events:
                batches[i], batches[i + 1] = batches[i + 1], batches[i]
        duplicated = [rng.random() < self.chaos.duplicate_event for _ in batches]
        for batch, twice in zip(batches, duplicated, strict=True):
            await self.push(batch)
            if twice:
                await self.push(batch)
