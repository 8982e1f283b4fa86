"""The simulator's games pay by the published odds (payout includes the stake)."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from services.simulate.games import Baccarat
from services.simulate.games import Blackjack
from services.simulate.games import Outcome
from services.simulate.games import Pick
from services.simulate.games import Roulette
from services.simulate.games import game

TEN = Decimal(10)


def roulette(number: int) -> Outcome:
    return Outcome(events=[], result={"number": str(number)}, facts={"number": number})


@pytest.mark.parametrize(
    ("pick", "number", "payout"),
    [
        (Pick("straight", "17"), 17, 360),
        (Pick("straight", "17"), 18, 0),
        (Pick("red"), 1, 20),
        (Pick("red"), 2, 0),
        (Pick("black"), 2, 20),
        (Pick("red"), 0, 0),
        (Pick("even"), 0, 0),
        (Pick("odd"), 35, 20),
        (Pick("dozen", "3"), 36, 30),
        (Pick("dozen", "1"), 13, 0),
    ],
)
def test_roulette_pays_straight_35_to_1_dozens_2_to_1_and_even_chances_1_to_1(
    pick: Pick, number: int, payout: int
) -> None:
    assert Roulette().payout(pick, TEN, roulette(number)) == payout


@pytest.mark.parametrize(
    ("pick", "winner", "payout"),
    [
        ("player", "player", Decimal(20)),
        ("banker", "banker", Decimal("19.50")),
        ("tie", "tie", Decimal(90)),
        ("player", "tie", TEN),
        ("banker", "tie", TEN),
        ("banker", "player", Decimal(0)),
        ("tie", "banker", Decimal(0)),
    ],
)
def test_baccarat_pays_banker_less_commission_tie_8_to_1_and_pushes_on_a_tie(
    pick: str, winner: str, payout: Decimal
) -> None:
    outcome = Outcome(events=[], result={}, facts={"winner": winner})
    assert Baccarat().payout(Pick(pick), TEN, outcome) == payout


@pytest.mark.parametrize(
    ("seat", "dealer", "seat_bj", "payout"),
    [
        (21, 20, True, Decimal(25)),
        (20, 19, False, Decimal(20)),
        (19, 19, False, TEN),
        (22, 23, False, Decimal(0)),
        (18, 23, False, Decimal(20)),
        (17, 18, False, Decimal(0)),
    ],
)
def test_blackjack_pays_3_to_2_on_blackjack_even_money_on_a_win_and_pushes(
    seat: int, dealer: int, seat_bj: bool, payout: Decimal
) -> None:
    facts: dict[str, object] = {
        "seat": seat, "dealer": dealer, "seat_bj": seat_bj, "dealer_bj": False,
    }  # fmt: skip
    assert Blackjack().payout(Pick("main"), TEN, Outcome([], {}, facts)) == payout


@pytest.mark.parametrize("name", ["roulette", "baccarat", "blackjack"])
def test_every_draw_yields_table_events_and_a_result(name: str) -> None:
    rng = random.Random(3)
    table = game(name)
    for _ in range(200):
        outcome = table.draw(rng)
        assert outcome.events and outcome.result
        assert table.payout(table.pick(rng), TEN, outcome) >= 0


def test_an_unknown_game_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown game"):
        game("craps")
