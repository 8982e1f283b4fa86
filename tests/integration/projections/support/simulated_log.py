"""The simulator's live tables played straight into a `Ledger`: a log for the view tests.

`services.simulate` plays tables the way a provider does (bets from many seats, calls sent
twice, bets rolled back before and after they are placed, table events repeated and out
of order, results with their round hash) and normally reaches the bridge over HTTP in a
dialect. Here the same tables talk to the ledger in-process: `LedgerDriver` sends each
call as the canonical wallet command the edge would make of it, the feed goes through the
edge's own `Sequencer` (so out-of-order events are ordered as in production), and
`LedgerBank` funds the players. No sockets; the log fills as fast as the ledger writes.

Chaos the simulator does not have is added on the way: `void_rate` of the rounds are
voided by the studio instead of getting their result (the provider's credits for them
are then refused, as the bets were refunded).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal

from contracts.events import AnyProviderEvent
from contracts.events import ResultDeclared
from contracts.events import RoundVoided
from contracts.wallet import AnyWalletCommand
from contracts.wallet import Balance
from contracts.wallet import Credit
from contracts.wallet import Debit
from contracts.wallet import Rollback
from services.edge.feeds.sequencer import Sequencer
from services.ledger.application import Ledger
from services.ledger.errors import LedgerRefused
from services.simulate.drivers import Placed
from services.simulate.drivers import Seat
from services.simulate.drivers import Wager
from services.simulate.simulation import DEFAULT_GAMES
from services.simulate.simulation import Report
from services.simulate.simulation import simulate
from services.simulate.table import Chaos


@dataclass
class Calls:
    """What the in-process provider sent, and what the ledger refused."""

    sent: int = 0
    refused: int = 0
    voided: list[str] = field(default_factory=list)


class LedgerDriver:
    """The table's wallet calls as canonical commands, executed on the ledger directly."""

    dialect = "canonical"

    def __init__(self, ledger: Ledger, provider: str, calls: Calls) -> None:
        self.ledger = ledger
        self.provider = provider
        self.calls = calls

    def _send(self, command: AnyWalletCommand) -> bool:
        self.calls.sent += 1
        try:
            self.ledger.execute(command)
        except LedgerRefused:
            self.calls.refused += 1
            return False
        return True

    async def bet(self, seat: Seat, round_id: str, wager: Wager, *, duplicate: bool) -> Placed:
        debit = Debit(
            provider=self.provider,
            tx_id=f"d-{wager.bet_id}",
            player=seat.player,
            currency=seat.currency,
            amount=wager.stake,
            round_id=round_id,
            bet_id=wager.bet_id,
            session_id=seat.token,
        )
        taken = self._send(debit)
        if duplicate:
            self._send(debit)
        return Placed.TAKEN if taken else Placed.REFUSED

    async def settle(
        self, seat: Seat, round_id: str, wagers: Sequence[Wager], *, duplicate: bool
    ) -> None:
        for wager in wagers:
            credit = Credit(
                provider=self.provider,
                tx_id=f"c-{wager.bet_id}",
                player=seat.player,
                currency=seat.currency,
                amount=wager.payout,
                round_id=round_id,
                bet_id=wager.bet_id,
                session_id=seat.token,
            )
            self._send(credit)
            if duplicate:
                self._send(credit)

    async def rollback(self, seat: Seat, round_id: str, wager: Wager, *, early: bool) -> None:
        self._send(
            Rollback(
                provider=self.provider,
                tx_id=f"rb-{wager.bet_id}",
                player=seat.player,
                currency=seat.currency,
                ref_tx_id=f"d-{wager.bet_id}",
                round_id=round_id,
                session_id=seat.token,
            )
        )

    async def balance(self, seat: Seat) -> Decimal | None:
        return None


class LedgerFeed:
    """The studio's feed: sequenced per round as the edge does, some rounds voided."""

    def __init__(self, ledger: Ledger, calls: Calls, rng: random.Random, void_rate: float):
        self.ledger = ledger
        self.calls = calls
        self.rng = rng
        self.void_rate = void_rate
        self.sequencer = Sequencer()

    async def push(self, events: Sequence[AnyProviderEvent]) -> None:
        for event in events:
            if isinstance(event, ResultDeclared) and self.rng.random() < self.void_rate:
                event = RoundVoided(
                    provider=event.provider,
                    round_id=event.round_id,
                    seq=event.seq,
                    occurred_at=event.occurred_at,
                    cause=self.rng.choice(["STREAM_FAILURE", "DEALER_ERROR"]),
                )
                self.calls.voided.append(event.round_id)
            for ready in self.sequencer.offer(event, time.monotonic()).ready:
                self.ledger.record_event(ready)


class LedgerBank:
    """The platform's side: wallets opened and funded, sessions are plain tokens."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def deposit(self, player: str, currency: str, amount: Decimal, tx_id: str) -> None:
        self.ledger.open_wallet(player, currency)
        self.ledger.deposit(player, currency, amount, tx_id=tx_id)

    async def launch(self, provider: str, player: str, currency: str) -> str:
        return f"session-{provider}-{player}"

    async def balance(self, player: str, currency: str) -> Decimal:
        found: Balance = self.ledger.balance(player, currency)
        return found.available


def simulate_into(
    ledger: Ledger,
    *,
    provider: str,
    rounds: int,
    games: Sequence[str] = DEFAULT_GAMES,
    players: int = 12,
    bettors: int = 2,
    currency: str = "EUR",
    seed: int = 1,
    chaos: Chaos | None = None,
    void_rate: float = 0.04,
    parallel: int = 2,
) -> tuple[Report, Calls]:
    """Play `rounds` rounds at each of `len(games)` tables of `provider` into `ledger`."""
    calls = Calls()
    feed = LedgerFeed(ledger, calls, random.Random(seed * 7919), void_rate)
    # Commands name no game: the ledger takes it from the round (`BettingOpened`).
    driver = LedgerDriver(ledger, provider, calls)
    report = asyncio.run(
        simulate(
            driver=driver,
            push=feed.push,
            bank=LedgerBank(ledger),
            provider=provider,
            tables=len(games),
            players=players,
            rounds=rounds,
            seed=seed,
            currency=currency,
            game_names=games,
            chaos=chaos
            or Chaos(
                duplicate_call=0.08,
                rollback_after=0.05,
                rollback_before=0.03,
                duplicate_event=0.08,
                reorder_events=0.2,
            ),
            run_id=f"{provider}{seed}",
            bettors=bettors,
            parallel=parallel,
        )
    )
    ledger.drain_round_book()
    return report, calls
