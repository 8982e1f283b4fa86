"""Drive the ledger like a set of live tables: the log the projection tests and bench read.

Rounds of European roulette at one provider: betting opens, a few players bet (some
debits repeated, as providers retry), some stakes are rolled back, betting closes (a
late bet now and then), the ball lands, the result comes with the provider's round hash
(now and then a wrong one, to flag the round), and wins are credited (some credits
repeated), or, at a provider the bridge settles for (`credits=False`), the ledger pays
the bets from the result itself. Some rounds are voided instead. Every refusal is part
of the game.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal

import msgspec

from contracts.events import AnyProviderEvent
from contracts.events import BettingClosed
from contracts.events import BettingOpened
from contracts.events import GameEvent
from contracts.events import ResultDeclared
from contracts.events import RoundVoided
from contracts.events import round_digest
from contracts.wallet import AnyWalletCommand
from contracts.wallet import Credit
from contracts.wallet import Debit
from contracts.wallet import Rollback
from contracts.wallet import Selection
from services.ledger.application import Ledger
from services.ledger.errors import LedgerRefused

PROVIDER = "evo"
CURRENCIES = ("EUR", "USD")
START = datetime(2026, 11, 1, 20, 0, tzinfo=UTC)


@dataclass
class Played:
    rounds: list[str] = field(default_factory=list)
    voided: list[str] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)
    refused: int = 0
    commands: int = 0


def players(count: int) -> list[str]:
    return [f"p{n:03d}" for n in range(count)]


def fund(ledger: Ledger, count: int, amount: str = "500.00") -> None:
    for player in players(count):
        for currency in CURRENCIES:
            ledger.open_wallet(player, currency)
            ledger.deposit(player, currency, Decimal(amount), tx_id=f"dep-{player}-{currency}")


def play(
    ledger: Ledger,
    *,
    rounds: int,
    first: int = 0,
    player_count: int = 20,
    seed: int = 7,
    drain: bool = True,
    provider: str = PROVIDER,
    credits: bool = True,
) -> Played:
    """Play `rounds` rounds (ids `r<first>`...); players must be funded first (`fund`).

    `credits=False` plays a provider the ledger settles itself (`BRIDGE_SETTLED_PROVIDERS`):
    no credit is sent.
    """
    rng = random.Random(seed + first)
    played = Played()
    names = players(player_count)

    def send(command: AnyWalletCommand) -> None:
        played.commands += 1
        try:
            ledger.execute(command)
        except LedgerRefused:
            played.refused += 1

    for n in range(first, first + rounds):
        round_id = f"r{n}"
        played.rounds.append(round_id)
        at = START + timedelta(seconds=40 * n)
        sent: list[AnyProviderEvent] = []

        def event(provider_event: AnyProviderEvent, sent: list[AnyProviderEvent] = sent) -> None:
            sent.append(provider_event)
            ledger.record_event(provider_event)

        def timecode(second: int, n: int = n) -> str:
            return f"01:{(n * 40 + second) // 60 % 60:02d}:{(n * 40 + second) % 60:02d}:00"

        event(
            BettingOpened(
                provider=provider,
                round_id=round_id,
                table=f"table-{n % 4}",
                game="roulette",
                seq=1,
                occurred_at=at,
                closes_at=at + timedelta(seconds=15),
                video_timecode=timecode(0),
            )
        )
        bets: list[Debit] = []
        for b in range(rng.randint(1, 4)):
            currency = rng.choice(CURRENCIES)
            debit = Debit(
                provider=provider,
                tx_id=f"{round_id}-d{b}",
                player=rng.choice(names),
                currency=currency,
                amount=Decimal(rng.choice(["1.00", "2.50", "5.00", "10.00"])),
                round_id=round_id,
                bet_id=f"{round_id}-b{b}",
                game="roulette",
                table=f"table-{n % 4}",
                selections=(Selection(market="roulette_straight", value=str(rng.randint(0, 36))),),
            )
            bets.append(debit)
            send(debit)
            if rng.random() < 0.15:
                send(debit)  # the provider retried: a duplicate
        if rng.random() < 0.15:
            cancelled = rng.choice(bets)
            send(
                Rollback(
                    provider=provider,
                    tx_id=f"{cancelled.tx_id}-rb",
                    player=cancelled.player,
                    currency=cancelled.currency,
                    ref_tx_id=cancelled.tx_id,
                    round_id=round_id,
                )
            )
            bets.remove(cancelled)
        if rng.random() < 0.08:
            event(
                RoundVoided(
                    provider=provider,
                    round_id=round_id,
                    seq=2,
                    occurred_at=at + timedelta(seconds=10),
                    cause=rng.choice(["STREAM_FAILURE", "DEALER_ERROR"]),
                    video_timecode=timecode(10),
                )
            )
            played.voided.append(round_id)
            continue
        event(
            BettingClosed(
                provider=provider,
                round_id=round_id,
                seq=2,
                occurred_at=at + timedelta(seconds=15),
                video_timecode=timecode(15),
            )
        )
        if rng.random() < 0.05:
            send(
                Debit(
                    provider=provider,
                    tx_id=f"{round_id}-late",
                    player=rng.choice(names),
                    currency="EUR",
                    amount=Decimal("1.00"),
                    round_id=round_id,
                    bet_id=f"{round_id}-late",
                    game="roulette",
                    selections=(Selection(market="roulette_straight", value="7"),),
                )
            )
        number = rng.randint(0, 36)
        event(
            GameEvent(
                provider=provider,
                round_id=round_id,
                seq=3,
                occurred_at=at + timedelta(seconds=25),
                kind="ball_landed",
                data={"number": str(number)},
                video_timecode=timecode(25),
            )
        )
        result = ResultDeclared(
            provider=provider,
            round_id=round_id,
            seq=4,
            occurred_at=at + timedelta(seconds=26),
            result={"number": str(number)},
            video_timecode=timecode(26),
        )
        digest = round_digest([*sent, result])
        if rng.random() < 0.05:
            digest = "0" * 64
            played.flagged.append(round_id)
        result = msgspec.structs.replace(result, round_hash=digest)
        event(result)
        for debit in bets if credits else ():
            won = debit.selections[0].value == str(number)
            credit = Credit(
                provider=provider,
                tx_id=f"{debit.tx_id}-c",
                player=debit.player,
                currency=debit.currency,
                amount=debit.amount * 36 if won else Decimal("0.00"),
                round_id=round_id,
                bet_id=debit.bet_id,
            )
            send(credit)
            if rng.random() < 0.1:
                send(credit)
    if drain:
        ledger.drain_round_book()
    return played
