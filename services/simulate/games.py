"""Live games as the simulated provider plays them: picks, outcomes, payouts, table events.

The simulator settles bets itself (provider-settled mode): each game draws an outcome with
the table's RNG, turns it into the provider events a studio would send (cards dealt, ball
landed) and a result, and pays every bet by the published odds. Payout includes the
stake: a lost bet pays 0, a push pays the stake back.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from typing import Protocol

RED = frozenset({1, 3, 5, 7, 9, 12, 14, 16, 18, 19, 21, 23, 25, 27, 30, 32, 34, 36})


@dataclass(frozen=True, slots=True)
class Pick:
    market: str
    value: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One round's draw: the table events to send and the result to declare."""

    events: list[tuple[str, dict[str, str]]]
    result: dict[str, str]
    facts: dict[str, object] = field(default_factory=dict)


class Game(Protocol):
    name: str

    def pick(self, rng: random.Random) -> Pick: ...

    def draw(self, rng: random.Random) -> Outcome: ...

    def payout(self, pick: Pick, stake: Decimal, outcome: Outcome) -> Decimal: ...


class Roulette:
    """European roulette: straight 35:1, red/black, even/odd, low/high 1:1, dozens 2:1."""

    name = "roulette"

    def pick(self, rng: random.Random) -> Pick:
        market = rng.choice(["straight", "red", "black", "even", "odd", "dozen"])
        if market == "straight":
            return Pick(market, str(rng.randint(0, 36)))
        if market == "dozen":
            return Pick(market, str(rng.randint(1, 3)))
        return Pick(market)

    def draw(self, rng: random.Random) -> Outcome:
        number = rng.randint(0, 36)
        return Outcome(
            events=[("ball_launched", {}), ("ball_landed", {"number": str(number)})],
            result={"number": str(number)},
            facts={"number": number},
        )

    def payout(self, pick: Pick, stake: Decimal, outcome: Outcome) -> Decimal:
        n = outcome.facts["number"]
        assert isinstance(n, int)
        wins = {
            "straight": pick.value == str(n),
            "red": n in RED,
            "black": n != 0 and n not in RED,
            "even": n != 0 and n % 2 == 0,
            "odd": n % 2 == 1,
            "dozen": n != 0 and (n - 1) // 12 + 1 == int(pick.value or 0),
        }[pick.market]
        multiple = {"straight": 36, "dozen": 3}.get(pick.market, 2)
        return stake * multiple if wins else Decimal(0)


def _card(rng: random.Random) -> tuple[str, int]:
    rank = rng.choice(["A", "2", "3", "4", "5", "6", "7", "8", "9", "T", "J", "Q", "K"])
    suit = rng.choice("SHDC")
    value = 1 if rank == "A" else 10 if rank in "TJQK" else int(rank)
    return rank + suit, value


class Baccarat:
    """Punto banco, simplified third-card rule: player 1:1, banker 0.95:1, tie 8:1 (pushes P/B)."""

    name = "baccarat"

    def pick(self, rng: random.Random) -> Pick:
        return Pick(rng.choices(["player", "banker", "tie"], weights=[45, 45, 10])[0])

    def draw(self, rng: random.Random) -> Outcome:
        events: list[tuple[str, dict[str, str]]] = []
        totals = {"player": 0, "banker": 0}
        for hand in ("player", "banker", "player", "banker"):
            card, value = _card(rng)
            totals[hand] = (totals[hand] + value) % 10
            events.append(("card_dealt", {"hand": hand, "card": card}))
        for hand in ("player", "banker"):
            if totals[hand] <= 5:
                card, value = _card(rng)
                totals[hand] = (totals[hand] + value) % 10
                events.append(("card_dealt", {"hand": hand, "card": card}))
        p, b = totals["player"], totals["banker"]
        winner = "tie" if p == b else "player" if p > b else "banker"
        return Outcome(
            events=events,
            result={"player": str(p), "banker": str(b)},
            facts={"winner": winner},
        )

    def payout(self, pick: Pick, stake: Decimal, outcome: Outcome) -> Decimal:
        winner = outcome.facts["winner"]
        if pick.market == "tie":
            return stake * 9 if winner == "tie" else Decimal(0)
        if winner == "tie":
            return stake
        if pick.market != winner:
            return Decimal(0)
        return stake * 2 if winner == "player" else stake + (stake * Decimal("0.95"))


class Blackjack:
    """One hand per bet against the dealer: win 1:1, blackjack 3:2, push, bust."""

    name = "blackjack"

    def pick(self, rng: random.Random) -> Pick:
        return Pick("main")

    def draw(self, rng: random.Random) -> Outcome:
        # The seat's hand and the dealer's, drawn to a simple strategy (stand on 17).
        events: list[tuple[str, dict[str, str]]] = []

        def hand(who: str) -> tuple[int, bool]:
            total, aces, cards = 0, 0, 0
            while total < 17:
                card, value = _card(rng)
                events.append(("card_dealt", {"hand": who, "card": card}))
                cards += 1
                total += value
                aces += value == 1
                if aces and total + 10 <= 21 and total + 10 >= 17:
                    total += 10
                    break
            return total, cards == 2 and total == 21

        seat, seat_bj = hand("seat")
        dealer, dealer_bj = hand("dealer")
        return Outcome(
            events=events,
            result={"dealer": "bust" if dealer > 21 else str(dealer), "seat": str(seat)},
            facts={"seat": seat, "dealer": dealer, "seat_bj": seat_bj, "dealer_bj": dealer_bj},
        )

    def payout(self, pick: Pick, stake: Decimal, outcome: Outcome) -> Decimal:
        f = outcome.facts
        seat, dealer = f["seat"], f["dealer"]
        assert isinstance(seat, int) and isinstance(dealer, int)
        if seat > 21:
            return Decimal(0)
        if f["seat_bj"] and not f["dealer_bj"]:
            return stake + stake * Decimal("1.5")
        if dealer > 21 or seat > dealer:
            return stake * 2
        return stake if seat == dealer else Decimal(0)


GAMES: dict[str, Game] = {g.name: g for g in (Roulette(), Baccarat(), Blackjack())}


def game(name: str) -> Game:
    try:
        return GAMES[name]
    except KeyError:
        raise ValueError(f"unknown game {name!r}; known: {', '.join(GAMES)}") from None


def games(names: Sequence[str]) -> list[Game]:
    return [game(n) for n in names]
