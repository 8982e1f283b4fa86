"""A debit's selections may split its stake in stated parts; the round book pays each part
at its ratio for a bridge-settled provider, so a part that is not money above zero (1000 on
17 and -900 on red, 100 staked) would pay ten times a fair win. The ledger refuses such a
debit before anything is held, and never computes a payout from such parts."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from contracts.wallet import Debit
from contracts.wallet import Refusal
from contracts.wallet import Selection
from services.ledger.application import Ledger
from services.ledger.domain import Bet
from services.ledger.domain import bet_uuid
from services.ledger.errors import LedgerRefused
from services.ledger.payouts import expected_payout
from tests.unit.ledger.support.builders import closed
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import declared
from tests.unit.ledger.support.builders import log_position
from tests.unit.ledger.support.builders import opened
from tests.unit.ledger.support.builders import p1_funded

EUR = "EUR"


def parted(*parts: tuple[str, str, str | None], stake: str = "100.00") -> Debit:
    """A bet of `stake` on pp (bridge-settled) split in (market, value, part) selections."""
    selections = tuple(
        Selection(market=m, value=v, amount=None if a is None else Decimal(a)) for m, v, a in parts
    )
    return msgspec.structs.replace(
        debit("t1", stake, provider="pp", bet_id="b1"), selections=selections
    )


def round_open() -> Ledger:
    ledger = p1_funded()
    ledger.record_event(opened(provider="pp"))
    return ledger


BAD_SPLITS = {
    "negative part": (("roulette_straight", "17", "1000"), ("roulette_red", "", "-900")),
    "zero part": (("roulette_straight", "17", "100"), ("roulette_red", "", "0")),
    "not finite": (("roulette_straight", "17", "NaN"), ("roulette_red", "", "100")),
    "infinite": (("roulette_straight", "17", "Infinity"), ("roulette_red", "", "-Infinity")),
    "finer than a cent": (("roulette_straight", "17", "0.001"), ("roulette_red", "", "99.999")),
    "not the stake": (("roulette_straight", "17", "10"), ("roulette_red", "", "10")),
    "some parts only": (("roulette_straight", "17", "100"), ("roulette_red", "", None)),
}


@pytest.mark.parametrize("parts", BAD_SPLITS.values(), ids=BAD_SPLITS.keys())
def test_a_debit_split_in_parts_that_are_not_money_adding_up_to_its_stake_is_refused(
    parts: tuple[tuple[str, str, str | None], ...],
) -> None:
    ledger = round_open()
    before = log_position(ledger)
    with pytest.raises(LedgerRefused) as refused:
        ledger.execute(parted(*parts))
    assert refused.value.code == Refusal.INVALID_AMOUNT
    balance = ledger.balance("p1", EUR)
    assert (balance.balance, balance.held) == (Decimal(100), Decimal(0))
    assert log_position(ledger) == before
    assert ledger.find(Bet, bet_uuid("pp", "b1")) is None


@pytest.mark.parametrize(("number", "paid"), [("17", "3600.00"), ("1", "0.00"), ("2", "0.00")])
def test_a_bet_split_in_fair_parts_is_paid_each_part_at_its_ratio(number: str, paid: str) -> None:
    ledger = round_open()
    ledger.deposit("p1", EUR, Decimal(4000), tx_id="more")
    ledger.execute(
        parted(("roulette_straight", "17", "100"), ("roulette_red", "", "0.01"), stake="100.01")
    )
    ledger.record_event(closed(provider="pp"))
    ledger.record_event(declared({"number": number}, provider="pp"))
    ledger.drain_round_book()
    payout = {"17": Decimal(paid), "1": Decimal("0.02"), "2": Decimal(0)}[number]
    assert ledger.balance("p1", EUR).balance == Decimal("4100") - Decimal("100.01") + payout


STORED_BAD_PARTS = {
    "negative part": [("17", "1000"), ("", "-900")],
    "zero part": [("17", "100"), ("", "0")],
    "finer than a cent": [("17", "99.999"), ("", "0.001")],
    "not finite": [("17", "NaN"), ("", "100")],
    "larger than the stake": [("17", "1E+60"), ("", "-1E+60")],
}


@pytest.mark.parametrize("parts", STORED_BAD_PARTS.values(), ids=STORED_BAD_PARTS.keys())
@pytest.mark.parametrize("number", ["17", "1", "2"])
def test_parts_stored_before_the_refusal_give_no_payout_to_settle_by(
    parts: list[tuple[str, str]], number: str
) -> None:
    markets = ("roulette_straight", "roulette_red")
    picks = [
        {"market": market, "value": value, "amount": amount}
        for market, (value, amount) in zip(markets, parts, strict=True)
    ]
    assert expected_payout(picks, Decimal("100.00"), EUR, {"number": number}) is None
