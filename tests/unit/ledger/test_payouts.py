"""Payout tables checked against the published odds of every bet type.

Odds are written as the casino publishes them (35:1 means 35 won plus the stake back), and
each table is checked for a winning, a losing and, where the game has one, a pushed result.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.ledger.payouts import RED
from services.ledger.payouts import card_rank
from services.ledger.payouts import expected_payout
from services.ledger.payouts import outcome_for
from services.ledger.payouts import ratio

EUR = "EUR"


def pays(odds: str) -> Decimal:
    """'35:1' -> 36: what one unit staked returns when it wins."""
    won, staked = odds.split(":")
    return Decimal(won) / Decimal(staked) + 1


ROULETTE_INSIDE = [
    # market, value, a winning number, a losing number, published odds
    ("roulette_straight", "17", "17", "18", "35:1"),
    ("roulette_straight", "0", "0", "1", "35:1"),
    ("roulette_split", "17-20", "20", "18", "17:1"),
    ("roulette_split", "17-18", "18", "19", "17:1"),
    ("roulette_split", "0-2", "0", "1", "17:1"),
    ("roulette_street", "16-17-18", "16", "19", "11:1"),
    ("roulette_trio", "0-1-2", "2", "3", "11:1"),
    ("roulette_trio", "0-2-3", "0", "1", "11:1"),
    ("roulette_corner", "17-18-20-21", "21", "19", "8:1"),
    ("roulette_basket", "0-1-2-3", "3", "4", "8:1"),
    ("roulette_line", "31-32-33-34-35-36", "36", "30", "5:1"),
]

ROULETTE_OUTSIDE = [
    ("roulette_dozen", "1", "12", "13", "2:1"),
    ("roulette_dozen", "2", "13", "25", "2:1"),
    ("roulette_dozen", "3", "36", "24", "2:1"),
    ("roulette_column", "1", "34", "35", "2:1"),
    ("roulette_column", "2", "35", "36", "2:1"),
    ("roulette_column", "3", "36", "34", "2:1"),
    ("roulette_red", "", "32", "15", "1:1"),
    ("roulette_black", "", "15", "32", "1:1"),
    ("roulette_odd", "", "35", "36", "1:1"),
    ("roulette_even", "", "36", "35", "1:1"),
    ("roulette_low", "", "18", "19", "1:1"),
    ("roulette_high", "", "19", "18", "1:1"),
]


@pytest.mark.parametrize(("market", "value", "wins", "loses", "odds"), ROULETTE_INSIDE)
def test_european_roulette_inside_bets_pay_the_published_odds(
    market: str, value: str, wins: str, loses: str, odds: str
) -> None:
    assert ratio(market, value, {"number": wins}, bet_id="b") == pays(odds)
    assert ratio(market, value, {"number": loses}, bet_id="b") == 0


@pytest.mark.parametrize(("market", "value", "wins", "loses", "odds"), ROULETTE_OUTSIDE)
def test_european_roulette_outside_bets_pay_the_published_odds_and_lose_on_zero(
    market: str, value: str, wins: str, loses: str, odds: str
) -> None:
    assert ratio(market, value, {"number": wins}, bet_id="b") == pays(odds)
    assert ratio(market, value, {"number": loses}, bet_id="b") == 0
    assert ratio(market, value, {"number": "0"}, bet_id="b") == 0


def test_the_european_wheel_has_eighteen_red_and_eighteen_black_numbers() -> None:
    assert len(RED) == 18
    assert 0 not in RED
    assert {1, 3, 5, 7, 9, 12, 14, 16, 18, 19, 21, 23, 25, 27, 30, 32, 34, 36} == RED


@pytest.mark.parametrize(
    ("market", "value"),
    [
        ("roulette_split", "17-19"),  # not adjacent on the layout
        ("roulette_split", "3-4"),  # end of one row, start of the next
        ("roulette_street", "2-3-4"),
        ("roulette_corner", "3-4-6-7"),
        ("roulette_line", "2-3-4-5-6-7"),
        ("roulette_straight", "37"),
        ("roulette_straight", "x"),
        ("roulette_dozen", "4"),
        ("roulette_five", "0-00-1-2-3"),
    ],
)
def test_a_roulette_bet_not_shaped_as_on_the_layout_has_no_payout(market: str, value: str) -> None:
    assert ratio(market, value, {"number": "17"}, bet_id="b") is None


def test_every_number_on_the_wheel_returns_36_units_to_a_full_complement_of_straights() -> None:
    for number in range(37):
        total = sum(
            ratio("roulette_straight", str(n), {"number": str(number)}, bet_id="b") or 0
            for n in range(37)
        )
        assert total == 36


BACCARAT = [
    # Player pays even, banker even less 5% commission, a tie eight to one (player and
    # banker pushed), either pair eleven to one. Market, result, returns per unit:
    ("baccarat_player", {"player": "8", "banker": "3"}, pays("1:1")),
    ("baccarat_player", {"player": "3", "banker": "8"}, Decimal(0)),
    ("baccarat_player", {"player": "6", "banker": "6"}, Decimal(1)),
    ("baccarat_banker", {"player": "3", "banker": "8"}, pays("0.95:1")),
    ("baccarat_banker", {"player": "8", "banker": "3"}, Decimal(0)),
    ("baccarat_banker", {"player": "6", "banker": "6"}, Decimal(1)),
    ("baccarat_tie", {"player": "6", "banker": "6"}, pays("8:1")),
    ("baccarat_tie", {"player": "6", "banker": "7"}, Decimal(0)),
    ("baccarat_player_pair", {"player": "6", "banker": "7", "player_pair": "true"}, pays("11:1")),
    ("baccarat_player_pair", {"player": "6", "banker": "7", "player_pair": "false"}, Decimal(0)),
    ("baccarat_banker_pair", {"player": "6", "banker": "7", "banker_pair": "true"}, pays("11:1")),
    ("baccarat_banker_pair", {"player": "6", "banker": "7"}, Decimal(0)),
]


BLACKJACK = [
    ({"seat:b": "20", "dealer": "19"}, pays("1:1")),
    ({"seat:b": "blackjack", "dealer": "20"}, pays("3:2")),
    ({"seat:b": "blackjack", "dealer": "blackjack"}, Decimal(1)),
    ({"seat:b": "19", "dealer": "blackjack"}, Decimal(0)),
    ({"seat:b": "18", "dealer": "18"}, Decimal(1)),
    ({"seat:b": "17", "dealer": "20"}, Decimal(0)),
    ({"seat:b": "bust", "dealer": "bust"}, Decimal(0)),
    ({"seat:b": "25", "dealer": "20"}, Decimal(0)),
    ({"seat:b": "12", "dealer": "bust"}, pays("1:1")),
]


@pytest.mark.parametrize(("result", "returns"), BLACKJACK)
def test_blackjack_main_bet_pays_even_blackjack_three_to_two_pushes_and_busts(
    result: dict[str, str], returns: Decimal
) -> None:
    assert ratio("blackjack_main", "", result, bet_id="b") == returns


def test_a_blackjack_seat_is_named_by_the_selection_value_before_the_bet_id() -> None:
    result = {"seat:3": "21", "seat:b": "12", "dealer": "20"}
    assert ratio("blackjack_main", "3", result, bet_id="b") == 2


DRAGON_TIGER = [
    # Dragon and tiger pay even and return half on a tie; a tie pays eight to one.
    ("dragon_tiger_dragon", {"dragon": "KH", "tiger": "9S"}, pays("1:1")),
    ("dragon_tiger_dragon", {"dragon": "AH", "tiger": "2S"}, Decimal(0)),
    ("dragon_tiger_dragon", {"dragon": "7H", "tiger": "7S"}, Decimal("0.5")),
    ("dragon_tiger_tiger", {"dragon": "10D", "tiger": "JC"}, pays("1:1")),
    ("dragon_tiger_tiger", {"dragon": "Q", "tiger": "J"}, Decimal(0)),
    ("dragon_tiger_tiger", {"dragon": "Q", "tiger": "QD"}, Decimal("0.5")),
    ("dragon_tiger_tie", {"dragon": "5H", "tiger": "5C"}, pays("8:1")),
    ("dragon_tiger_tie", {"dragon": "5H", "tiger": "6C"}, Decimal(0)),
]


@pytest.mark.parametrize(("market", "result", "returns"), BACCARAT + DRAGON_TIGER)
def test_baccarat_and_dragon_tiger_bets_return_the_published_multiple_of_their_stake(
    market: str, result: dict[str, str], returns: Decimal
) -> None:
    assert ratio(market, "", result, bet_id="b") == returns


def test_card_ranks_run_from_ace_low_to_king_high_and_ignore_suits() -> None:
    assert [card_rank(c) for c in ("A", "2H", "10S", "T", "JD", "Q", "KC")] == [
        1,
        2,
        10,
        10,
        11,
        12,
        13,
    ]
    assert card_rank("Z") is None
    assert card_rank("1") is None


def test_a_bet_on_several_picks_splits_its_stake_evenly_or_by_the_stated_amounts() -> None:
    picks = [
        {"market": "roulette_straight", "value": "17"},
        {"market": "roulette_red", "value": ""},
    ]
    assert expected_payout(picks, Decimal("10.00"), EUR, {"number": "17"}) == Decimal(
        "180.00"
    )  # 17 is black
    stated = [dict(picks[0], amount="1.00"), dict(picks[1], amount="9.00")]
    assert expected_payout(stated, Decimal("10.00"), EUR, {"number": "17"}) == Decimal("36.00")
    assert expected_payout(stated, Decimal("11.00"), EUR, {"number": "17"}) is None
    assert expected_payout(picks, Decimal("0.03"), EUR, {"number": "17"}) is None


def test_a_banker_win_is_rounded_down_to_the_currency_unit() -> None:
    banker = [{"market": "baccarat_banker", "value": ""}]
    result = {"player": "1", "banker": "9"}
    assert expected_payout(banker, Decimal("0.11"), EUR, result) == Decimal("0.21")
    assert expected_payout(banker, Decimal("5"), "JPY", result) == Decimal("9")


def test_a_blackjack_bet_without_selections_is_a_main_bet_on_the_bets_own_seat() -> None:
    result = {"seat:b7": "blackjack", "dealer": "18"}
    payout = expected_payout([], Decimal("10.00"), EUR, result, game="blackjack", bet_id="b7")
    assert payout == Decimal("25.00")
    assert expected_payout([], Decimal("10.00"), EUR, result, game="roulette") is None


def test_without_a_result_or_with_an_unreadable_one_there_is_no_payout() -> None:
    picks = [{"market": "baccarat_player", "value": ""}]
    assert expected_payout(picks, Decimal(1), EUR, {}) is None
    assert expected_payout(picks, Decimal(1), EUR, {"player": "x", "banker": "1"}) is None


def test_outcomes_compare_the_payout_with_the_stake() -> None:
    assert outcome_for(Decimal(10), Decimal(20)) == "WIN"
    assert outcome_for(Decimal(10), Decimal(10)) == "PUSH"
    assert outcome_for(Decimal(10), Decimal(5)) == "LOSE"
    assert outcome_for(Decimal(10), Decimal(0)) == "LOSE"
