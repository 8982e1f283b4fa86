"""Payout rules: what a bet returns for a declared result, stake included.

`ratio` gives the return per unit staked on one selection: 36 for a winning roulette
straight-up (35:1 plus the stake), 1 for a push, 0.5 for half the stake back, 0 for a loss,
None when the selection or the result cannot be read (the bet is then settled by hand or by
the provider, and never flagged). Published rules implemented:

- European roulette (single zero, no la partage): every inside bet pays 36/n - 1 to 1 for
  the n numbers it covers (straight 35, split 17, street and trio 11, corner and first four
  8, six line 5), dozen and column 2:1, red/black/odd/even/low/high 1:1; zero loses every
  outside bet. Inside bets must be shaped as on the layout (a split is two adjacent numbers).
- Baccarat (punto banco): player 1:1, banker 0.95:1 (5% commission), both pushed on a tie;
  tie 8:1; player pair and banker pair 11:1.
- Blackjack main bet: win 1:1, blackjack 3:2, push on equal totals or both blackjack,
  a player bust loses even when the dealer busts.
- Dragon tiger: dragon or tiger 1:1, tie 8:1; on a tie, dragon and tiger bets lose half
  their stake (half back). Ace is low (1), king high (13); suits do not count.

Payouts are rounded down to the currency's unit (the house keeps a fraction of a cent on a
banker win of an odd stake).

Selection markets are `<game>_<bet>`: `roulette_straight` `17`, `roulette_split` `17-20`,
`roulette_dozen` `2`, `baccarat_banker`, `blackjack_main` (value: the seat; default the
bet id), `dragon_tiger_tie`.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from decimal import ROUND_DOWN
from decimal import Decimal

from contracts.money import quantum

RED = frozenset({1, 3, 5, 7, 9, 12, 14, 16, 18, 19, 21, 23, 25, 27, 30, 32, 34, 36})
ONE = Decimal(1)


def _numbers(value: str) -> list[int] | None:
    try:
        numbers = [int(part) for part in value.replace(",", "-").split("-") if part.strip()]
    except ValueError:
        return None
    if not numbers or any(not 0 <= n <= 36 for n in numbers) or len(set(numbers)) != len(numbers):
        return None
    return sorted(numbers)


def _inside(market: str, value: str) -> frozenset[int] | None:
    """The numbers an inside bet covers, or None when it is not a bet on the layout."""
    numbers = _numbers(value)
    if numbers is None:
        return None
    n = numbers[0]
    shaped: bool
    match market, len(numbers):
        case "straight", 1:
            shaped = True
        case "split", 2:
            a, b = numbers
            shaped = (
                (a == 0 and b in (1, 2, 3))
                or (a >= 1 and b == a + 1 and a % 3 != 0)
                or (a >= 1 and b == a + 3)
            )
        case "street", 3:
            shaped = n >= 1 and n % 3 == 1 and numbers == [n, n + 1, n + 2]
        case "trio", 3:
            shaped = numbers in ([0, 1, 2], [0, 2, 3])
        case "corner", 4:
            shaped = n >= 1 and n % 3 != 0 and numbers == [n, n + 1, n + 3, n + 4]
        case "basket" | "first_four", 4:
            shaped = numbers == [0, 1, 2, 3]
        case "line" | "six_line", 6:
            shaped = n >= 1 and n % 3 == 1 and numbers == list(range(n, n + 6))
        case _:
            shaped = False
    return frozenset(numbers) if shaped else None


def _outside(market: str, value: str) -> frozenset[int] | None:
    numbers = range(1, 37)
    match market:
        case "red":
            return RED
        case "black":
            return frozenset(numbers) - RED
        case "odd":
            return frozenset(n for n in numbers if n % 2)
        case "even":
            return frozenset(n for n in numbers if not n % 2)
        case "low":
            return frozenset(range(1, 19))
        case "high":
            return frozenset(range(19, 37))
        case "dozen" if value in ("1", "2", "3"):
            first = 12 * (int(value) - 1) + 1
            return frozenset(range(first, first + 12))
        case "column" if value in ("1", "2", "3"):
            return frozenset(n for n in numbers if (n - int(value)) % 3 == 0)
    return None


def roulette(market: str, value: str, result: Mapping[str, str]) -> Decimal | None:
    covered = _outside(market, value)
    if covered is None:
        covered = _inside(market, value)
    try:
        number = int(result["number"])
    except (KeyError, ValueError):
        return None
    if covered is None or not 0 <= number <= 36:
        return None
    return Decimal(36) / len(covered) if number in covered else Decimal(0)


def _flag(result: Mapping[str, str], key: str) -> bool:
    return result.get(key, "false").strip().lower() in ("true", "1", "yes")


def baccarat(market: str, result: Mapping[str, str]) -> Decimal | None:
    try:
        player, banker = int(result["player"]), int(result["banker"])
    except (KeyError, ValueError):
        return None
    tie = player == banker
    match market:
        case "player":
            return ONE if tie else (Decimal(2) if player > banker else Decimal(0))
        case "banker":
            return ONE if tie else (Decimal("1.95") if banker > player else Decimal(0))
        case "tie":
            return Decimal(9) if tie else Decimal(0)
        case "player_pair":
            return Decimal(12) if _flag(result, "player_pair") else Decimal(0)
        case "banker_pair":
            return Decimal(12) if _flag(result, "banker_pair") else Decimal(0)
    return None


def _hand(text: str | None) -> int | str | None:
    if text is None:
        return None
    text = text.strip().lower()
    if text in ("bust", "blackjack"):
        return text
    if text == "bj":
        return "blackjack"
    try:
        total = int(text)
    except ValueError:
        return None
    return "bust" if total > 21 else total


def blackjack(market: str, seat: str, result: Mapping[str, str]) -> Decimal | None:
    player, dealer = _hand(result.get(f"seat:{seat}")), _hand(result.get("dealer"))
    if market != "main" or player is None or dealer is None:
        return None
    if player == "bust":
        return Decimal(0)
    if player == "blackjack":
        return ONE if dealer == "blackjack" else Decimal("2.5")
    if dealer == "blackjack":
        return Decimal(0)
    if dealer == "bust":
        return Decimal(2)
    assert isinstance(player, int) and isinstance(dealer, int)
    return Decimal(2) if player > dealer else (ONE if player == dealer else Decimal(0))


RANKS = {"A": 1, "J": 11, "Q": 12, "K": 13, "T": 10}


def card_rank(card: str) -> int | None:
    """`KH`, `10S`, `9`, `A` -> 13, 10, 9, 1; a trailing suit letter is ignored."""
    text = card.strip().upper()
    if len(text) > 1 and text[-1] in "SHDC":
        text = text[:-1]
    if text in RANKS:
        return RANKS[text]
    return int(text) if text.isdigit() and 2 <= int(text) <= 10 else None


def dragon_tiger(market: str, result: Mapping[str, str]) -> Decimal | None:
    dragon, tiger = card_rank(result.get("dragon", "")), card_rank(result.get("tiger", ""))
    if dragon is None or tiger is None:
        return None
    tie = dragon == tiger
    match market:
        case "dragon":
            return Decimal("0.5") if tie else (Decimal(2) if dragon > tiger else Decimal(0))
        case "tiger":
            return Decimal("0.5") if tie else (Decimal(2) if tiger > dragon else Decimal(0))
        case "tie":
            return Decimal(9) if tie else Decimal(0)
    return None


def ratio(market: str, value: str, result: Mapping[str, str], *, bet_id: str) -> Decimal | None:
    """Return per unit staked on one selection; None when it cannot be computed."""
    game, _, bet = market.partition("_")
    if market.startswith("dragon_tiger_"):
        return dragon_tiger(market.removeprefix("dragon_tiger_"), result)
    match game:
        case "roulette":
            return roulette(bet, value, result)
        case "baccarat":
            return baccarat(bet, result)
        case "blackjack":
            return blackjack(bet, value or bet_id, result)
    return None


def expected_payout(
    selections: Sequence[Mapping[str, str]],
    stake: Decimal,
    currency: str,
    result: Mapping[str, str],
    *,
    game: str = "",
    bet_id: str = "",
) -> Decimal | None:
    """What a bet returns for `result`, stake included; None when it cannot be computed.

    Each selection may carry its own `amount`; without amounts the stake is split evenly
    (it must split exactly). A bet without selections on a blackjack table is a main bet.
    """
    if not result:
        return None
    picks = list(selections)
    if not picks and game == "blackjack":
        picks = [{"market": "blackjack_main", "value": ""}]
    if not picks:
        return None
    amounts: list[Decimal]
    if all(p.get("amount") for p in picks):
        amounts = [Decimal(p["amount"]) for p in picks]
        parts = all(_is_part(a, stake, currency) for a in amounts)
        if not parts or sum(amounts, Decimal(0)) != stake:
            return None
    else:
        share = stake / len(picks)
        if share * len(picks) != stake or share != share.quantize(quantum(currency)):
            return None
        amounts = [share] * len(picks)
    total = Decimal(0)
    for pick, amount in zip(picks, amounts, strict=True):
        unit = ratio(pick.get("market", ""), pick.get("value", ""), result, bet_id=bet_id)
        if unit is None:
            return None
        total += amount * unit
    return total.quantize(quantum(currency), rounding=ROUND_DOWN)


def _is_part(amount: Decimal, stake: Decimal, currency: str) -> bool:
    """A part of `stake` that can be paid at its ratio: money above zero, at most the stake,
    in `currency`'s minor unit. The ledger refuses a debit with any other (1000 on 17 and
    -900 on red), and a bet stored before it did is left open for the provider rather than
    paid a negative part or ten times a fair win."""
    return (
        amount.is_finite()
        and 0 < amount <= stake
        and amount == amount.quantize(quantum(currency), rounding=ROUND_DOWN)
    )


def outcome_for(stake: Decimal, payout: Decimal) -> str:
    """WIN when more than the stake comes back, PUSH when exactly it, else LOSE."""
    if payout > stake:
        return "WIN"
    return "PUSH" if payout == stake else "LOSE"
