"""Promotions, jackpots and adjustments: provider payments that settle no bet.

Each is an `Award` with its cause, taken exactly once by the provider's transaction id
(I3), posted between the player and its account (I1: promotions from `promo`, jackpots
and adjustments against the house), and a negative adjustment never overdraws (I2).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from contracts.wallet import AwardCause
from contracts.wallet import Refusal
from tests.unit.ledger.support.builders import award
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import p1_funded
from tests.unit.ledger.support.builders import rollback
from tests.unit.ledger.support.refusals import assert_refused_storing_nothing
from tests.unit.ledger.support.refusals import refused

D = Decimal


def test_a_promotion_is_paid_once_from_the_promotions_account() -> None:
    ledger = p1_funded()
    first = ledger.execute(award("promo-1", "5.50", reference="FreeRoundPlayableSpent"))
    again = ledger.execute(award("promo-1", "5.50", reference="FreeRoundPlayableSpent"))

    assert (first.kind, first.balance, first.replayed) == ("award", D("105.50"), False)
    assert (again.balance, again.replayed) == (D("105.50"), True)
    assert ledger.balance("p1", "EUR").available == D("105.50")
    totals = ledger.postings_total("EUR")
    assert totals["promo"] == D("-5.50") and totals["player:p1"] == D("105.50")
    assert sum(totals.values()) == 0


def test_a_jackpot_is_paid_by_the_house_and_a_changed_repeat_is_a_conflict() -> None:
    ledger = p1_funded()
    ledger.execute(award("jp-1", "1000", AwardCause.JACKPOT))
    changed = award("jp-1", "999", AwardCause.JACKPOT)
    assert_refused_storing_nothing(ledger, changed, Refusal.DUPLICATE_CONFLICT)
    assert ledger.postings_total("EUR")["house"] == D("-1000")


def test_an_adjustment_may_take_money_but_never_more_than_is_available() -> None:
    ledger = p1_funded()
    ledger.execute(debit("b1", "30"))  # 30 held: 70 available
    taken = ledger.execute(award("adj-1", "-20", AwardCause.ADJUSTMENT))
    assert taken.available == D("50")
    overdrawing = award("adj-2", "-50.01", AwardCause.ADJUSTMENT)
    assert_refused_storing_nothing(ledger, overdrawing, Refusal.INSUFFICIENT_FUNDS)
    assert ledger.postings_total("EUR")["house"] == D("20")


@pytest.mark.parametrize("amount", ["-1", "NaN", "0.001"])
def test_a_promotion_that_is_not_a_payment_is_refused(amount: str) -> None:
    ledger = p1_funded()
    with refused(Refusal.INVALID_AMOUNT):
        ledger.execute(award("promo-x", amount))


def test_a_free_bet_is_remembered_and_its_win_must_name_a_standing_one() -> None:
    ledger = p1_funded()
    free = ledger.execute(award("fb-1", "0", round_id="r1"))
    assert free.balance == D("100")
    won = ledger.execute(award("fbw-1", "7", round_id="r1", ref_tx_id="fb-1"))
    assert won.balance == D("107")
    with refused(Refusal.BET_NOT_FOUND):
        ledger.execute(award("fbw-2", "7", round_id="r1", ref_tx_id="never"))
    ledger.execute(award("fb-2", "0", round_id="r2"))
    ledger.execute(rollback("rb-fb-2", "fb-2"))
    with refused(Refusal.TRANSACTION_ROLLED_BACK):
        ledger.execute(award("fbw-3", "7", round_id="r2", ref_tx_id="fb-2"))


def test_a_rollback_of_an_award_takes_it_back_once() -> None:
    ledger = p1_funded()
    ledger.execute(award("promo-1", "5"))
    undone = ledger.execute(rollback("rb-1", "promo-1"))
    again = ledger.execute(rollback("rb-1", "promo-1"))
    assert (undone.balance, undone.absorbed, again.replayed) == (D("100"), False, True)
    assert ledger.postings_total("EUR").get("promo") == D("0")


def test_a_free_bets_win_in_another_currency_is_refused() -> None:
    ledger = p1_funded()
    ledger.execute(award("fb-1", "0", round_id="r1"))
    usd = msgspec.structs.replace(award("fbw-1", "7", ref_tx_id="fb-1"), currency="USD")
    with refused(Refusal.CURRENCY_MISMATCH):
        ledger.execute(usd)


def test_a_free_bet_is_paid_out_once_and_again_only_after_its_win_is_rolled_back() -> None:
    ledger = p1_funded()
    ledger.execute(award("fb-1", "0", round_id="r1"))
    ledger.execute(award("fbw-1", "7", round_id="r1", ref_tx_id="fb-1"))
    second = award("fbw-2", "7", round_id="r1", ref_tx_id="fb-1")
    assert_refused_storing_nothing(ledger, second, Refusal.BET_ALREADY_SETTLED)

    ledger.execute(rollback("rb-fbw-1", "fbw-1"))
    corrected = ledger.execute(award("fbw-3", "5", round_id="r1", ref_tx_id="fb-1"))
    assert corrected.balance == D("105")
    assert ledger.postings_total("EUR")["promo"] == D("-5")
