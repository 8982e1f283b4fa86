"""The ledger application, command by command and refusal by refusal, on in-memory storage."""

from __future__ import annotations

import time
from dataclasses import replace
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import project_aggregate
from eventsourcing.persistence import IntegrityError
from eventsourcing.persistence import Recording

from contracts.events import AnyProviderEvent
from contracts.events import round_digest
from contracts.wallet import Balance
from contracts.wallet import Debit
from contracts.wallet import Outcome
from contracts.wallet import Refusal
from services.ledger import book
from services.ledger.application import Ledger
from services.ledger.domain import Bet
from services.ledger.domain import Wallet
from services.ledger.domain import wallet_id
from services.ledger.views import BetStatus
from services.ledger.views import RoundStatus
from services.ledger.views import Verification
from tests.unit.ledger.support.builders import POPO
from tests.unit.ledger.support.builders import ContendedLedger
from tests.unit.ledger.support.builders import RacingLedger
from tests.unit.ledger.support.builders import closed
from tests.unit.ledger.support.builders import credit
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import declared
from tests.unit.ledger.support.builders import funded
from tests.unit.ledger.support.builders import log_position
from tests.unit.ledger.support.builders import logged_since
from tests.unit.ledger.support.builders import opened
from tests.unit.ledger.support.builders import popo_ledger
from tests.unit.ledger.support.builders import rollback
from tests.unit.ledger.support.builders import voided
from tests.unit.ledger.support.refusals import refused

D = Decimal


@pytest.fixture
def ledger() -> Ledger:
    ledger = popo_ledger()
    funded(ledger, "p1", "100.00")
    return ledger


def available(ledger: Ledger, player: str = "p1", currency: str = "EUR") -> Decimal:
    return ledger.balance(player, currency).available


def assert_books_balance(ledger: Ledger, currency: str = "EUR") -> None:
    totals = ledger.postings_total(currency)
    assert sum(totals.values(), D(0)) == 0
    for account, amount in totals.items():
        if account.startswith("player:"):
            assert ledger.balance(account.removeprefix("player:"), currency).balance == amount


# ---- wallets and the cashier --------------------------------------------------------


def test_a_wallet_is_opened_once_per_player_and_currency() -> None:
    ledger = popo_ledger()
    ledger.open_wallet("p1", "EUR")
    ledger.open_wallet("p1", "EUR")
    ledger.open_wallet("p1", "JPY")
    ledger.deposit("p1", "JPY", D(500), tx_id="c1")
    assert ledger.balance("p1", "EUR").balance == 0
    assert ledger.balance("p1", "JPY").balance == D(500)


def test_a_wallet_in_an_unknown_currency_is_refused() -> None:
    with refused(Refusal.UNKNOWN_CURRENCY):
        popo_ledger().open_wallet("p1", "XXX")


def test_the_balance_of_an_unknown_wallet_is_refused_naming_the_player() -> None:
    with refused(Refusal.UNKNOWN_WALLET) as caught:
        popo_ledger().balance("nobody", "EUR")
    assert "nobody" in str(caught.value)


def test_a_deposit_then_a_withdrawal_move_money_through_the_cashier(ledger: Ledger) -> None:
    after = ledger.withdraw("p1", "EUR", D("30.00"), tx_id="w1")
    assert (after.balance, after.available) == (D("70.00"), D("70.00"))
    assert ledger.postings_total("EUR") == {"player:p1": D("70.00"), "cashier": D("-70.00")}


def test_a_transfer_wallet_moves_money_into_and_out_of_a_table_bank(ledger: Ledger) -> None:
    ledger.withdraw("p1", "EUR", D("40"), tx_id="tb1", account="provider:evo")
    ledger.deposit("p1", "EUR", D("15"), tx_id="tb2", account="provider:evo")
    assert ledger.postings_total("EUR")["provider:evo"] == D("25")
    assert_books_balance(ledger)


def test_a_repeated_deposit_moves_money_once(ledger: Ledger) -> None:
    ledger.deposit("p1", "EUR", D("5"), tx_id="c9")
    again = ledger.deposit("p1", "EUR", D("5"), tx_id="c9")
    assert again.balance == D("105.00")


def test_a_repeated_cashier_transaction_gets_its_original_answer(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "10"))
    first = ledger.deposit("p1", "EUR", D("5"), tx_id="c9")
    ledger.deposit("p1", "EUR", D("20"), tx_id="c10")
    assert ledger.deposit("p1", "EUR", D("5"), tx_id="c9") == first
    withdrawn = ledger.withdraw("p1", "EUR", D("3"), tx_id="w1")
    ledger.deposit("p1", "EUR", D("1"), tx_id="c11")
    again = ledger.withdraw("p1", "EUR", D("3"), tx_id="w1")
    assert again == withdrawn
    assert (again.balance, again.held, again.available) == (D("122.00"), D("10.00"), D("112.00"))
    assert ledger.balance("p1", "EUR").balance == D("123.00")


def test_a_repeated_deposit_with_another_amount_is_refused(ledger: Ledger) -> None:
    ledger.deposit("p1", "EUR", D("5"), tx_id="c9")
    with refused(Refusal.DUPLICATE_CONFLICT):
        ledger.deposit("p1", "EUR", D("6"), tx_id="c9")


@pytest.mark.parametrize("amount", ["-1", "0", "0.001", "NaN", "Infinity", "1e30"])
def test_a_deposit_of_no_valid_amount_is_refused(ledger: Ledger, amount: str) -> None:
    with refused(Refusal.INVALID_AMOUNT):
        ledger.deposit("p1", "EUR", D(amount), tx_id="c9")


def test_a_withdrawal_beyond_what_is_available_is_refused(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "60"))
    with refused(Refusal.INSUFFICIENT_FUNDS):
        ledger.withdraw("p1", "EUR", D("41"), tx_id="w1")


# ---- debits -----------------------------------------------------------------------------


def test_a_debit_holds_the_stake_and_answers_with_the_balance(ledger: Ledger) -> None:
    reply = ledger.execute(debit("t1", "10"))
    assert (reply.balance, reply.available, reply.kind, reply.replayed) == (
        D("100.00"),
        D("90.00"),
        "debit",
        False,
    )
    assert reply.tx_ref.startswith("trn_") and reply.log_position > 0
    assert ledger.balance("p1", "EUR").held == D("10.00")


def test_a_repeated_debit_gets_the_original_reply_and_moves_nothing(ledger: Ledger) -> None:
    first = ledger.execute(debit("t1", "10"))
    again = ledger.execute(debit("t1", "10"))
    assert again.replayed and again.tx_ref == first.tx_ref
    assert (again.balance, again.available) == (first.balance, first.available)
    assert available(ledger) == D("90.00")


def test_a_repeated_debit_is_replayed_even_after_the_money_is_gone(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "10"))
    ledger.withdraw("p1", "EUR", D("90"), tx_id="w1")
    assert ledger.execute(debit("t1", "10")).replayed


def test_a_repeated_debit_with_another_payload_is_refused(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "10"))
    with refused(Refusal.DUPLICATE_CONFLICT):
        ledger.execute(debit("t1", "11"))
    assert available(ledger) == D("90.00")


def test_a_second_transaction_for_the_same_bet_is_refused(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "10", bet_id="b1"))
    with refused(Refusal.DUPLICATE_CONFLICT):
        ledger.execute(debit("t2", "10", bet_id="b1"))


def test_a_debit_beyond_what_is_available_is_refused(ledger: Ledger) -> None:
    with refused(Refusal.INSUFFICIENT_FUNDS):
        ledger.execute(debit("t1", "100.01"))


def test_a_debit_on_an_unknown_wallet_is_refused(ledger: Ledger) -> None:
    with refused(Refusal.UNKNOWN_WALLET):
        ledger.execute(debit("t1", "1", player="ghost"))


@pytest.mark.parametrize("amount", ["0", "-5", "1.001", "1e30"])
def test_a_debit_of_no_valid_stake_is_refused(ledger: Ledger, amount: str) -> None:
    with refused(Refusal.INVALID_AMOUNT):
        ledger.execute(debit("t1", amount))


def test_a_debit_in_an_unknown_currency_is_refused(ledger: Ledger) -> None:
    with refused(Refusal.UNKNOWN_CURRENCY):
        ledger.execute(debit("t1", "1", currency="XXX"))


def test_a_debit_for_a_round_known_closed_is_refused_fast(ledger: Ledger) -> None:
    ledger.record_event(opened())
    ledger.record_event(closed())
    with refused(Refusal.BETTING_CLOSED):
        ledger.execute(debit("t1", "10"))
    assert available(ledger) == D("100.00")


# ---- credits ---------------------------------------------------------------------------


def test_a_win_captures_the_stake_and_credits_the_payout(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "10", bet_id="b1"))
    reply = ledger.execute(credit("w1", "360", bet_id="b1"))
    assert (reply.balance, reply.available, reply.kind) == (D("450.00"), D("450.00"), "credit")
    [bet] = ledger.round_state("evo", "r1").bets
    assert (bet.status, bet.outcome, bet.payout) == (BetStatus.SETTLED, Outcome.WIN, D("360.00"))
    assert_books_balance(ledger)


def test_a_loss_is_a_credit_of_zero(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "10", bet_id="b1"))
    reply = ledger.execute(credit("w1", "0", bet_id="b1"))
    assert reply.balance == D("90.00")
    assert ledger.round_state("evo", "r1").bets[0].outcome is Outcome.LOSE


def test_a_credit_returning_the_stake_is_a_push(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "10", bet_id="b1"))
    ledger.execute(credit("w1", "10", bet_id="b1"))
    assert ledger.round_state("evo", "r1").bets[0].outcome is Outcome.PUSH


def test_a_credit_without_a_bet_settles_every_open_bet_of_the_player_in_the_round(
    ledger: Ledger,
) -> None:
    ledger.execute(debit("t1", "10"))
    ledger.execute(debit("t2", "30"))
    ledger.execute(debit("t3", "5", round_id="other"))
    ledger.execute(credit("w1", "80"))
    state = ledger.round_state("evo", "r1")
    assert sorted(b.payout for b in state.bets) == [D("20.00"), D("60.00")]
    assert ledger.balance("p1", "EUR").held == D("5.00")
    assert_books_balance(ledger)


def test_a_repeated_credit_gets_the_original_reply_and_pays_once(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "10", bet_id="b1"))
    first = ledger.execute(credit("w1", "20", bet_id="b1"))
    again = ledger.execute(credit("w1", "20", bet_id="b1"))
    assert again.replayed and again.balance == first.balance == D("110.00")
    assert ledger.balance("p1", "EUR").balance == D("110.00")


def test_a_second_credit_for_a_settled_bet_is_refused(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "10", bet_id="b1"))
    ledger.execute(credit("w1", "20", bet_id="b1"))
    with refused(Refusal.BET_ALREADY_SETTLED):
        ledger.execute(credit("w2", "20", bet_id="b1"))


def test_a_credit_for_an_unknown_bet_is_refused(ledger: Ledger) -> None:
    with refused(Refusal.BET_NOT_FOUND):
        ledger.execute(credit("w1", "20", bet_id="nope"))
    with refused(Refusal.BET_NOT_FOUND):
        ledger.execute(credit("w1", "20"))


def test_a_credit_in_another_currency_than_its_bet_is_refused(ledger: Ledger) -> None:
    funded(ledger, "p1", "10", currency="USD")
    ledger.execute(debit("t1", "10", bet_id="b1"))
    with refused(Refusal.CURRENCY_MISMATCH):
        ledger.execute(credit("w1", "20", bet_id="b1", currency="USD"))


def test_a_credit_for_another_players_bet_is_refused(ledger: Ledger) -> None:
    funded(ledger, "p2", "10")
    ledger.execute(debit("t1", "10", bet_id="b1"))
    with refused(Refusal.BET_NOT_FOUND):
        ledger.execute(credit("w1", "20", bet_id="b1", player="p2"))


def test_a_provider_payout_that_differs_from_the_rules_is_paid_and_flagged(
    ledger: Ledger,
) -> None:
    ledger.record_event(opened())
    ledger.execute(debit("t1", "10", bet_id="b1"))
    ledger.record_event(closed())
    ledger.record_event(declared({"number": "17"}))
    ledger.execute(credit("w1", "300", bet_id="b1"))
    [bet] = ledger.round_state("evo", "r1").bets
    assert (bet.payout, bet.expected_payout, bet.flagged) == (D("300.00"), D("360.00"), True)
    assert ledger.balance("p1", "EUR").balance == D("390.00")


def test_a_payout_credited_before_the_result_is_checked_once_the_result_is_known(
    ledger: Ledger,
) -> None:
    ledger.execute(debit("t1", "10", bet_id="b1"))
    ledger.execute(credit("w1", "360", bet_id="b1"))
    ledger.record_event(declared({"number": "17"}))
    [bet] = ledger.round_state("evo", "r1").bets
    assert (bet.expected_payout, bet.flagged) == (D("360.00"), False)


RED = (("roulette_red", ""),)
BLACK = (("roulette_black", ""),)


def red_and_black(ledger: Ledger) -> None:
    ledger.record_event(opened())
    ledger.execute(debit("t1", "10", bet_id="on-red", picks=RED))
    ledger.execute(debit("t2", "10", bet_id="on-black", picks=BLACK))
    ledger.record_event(closed())


def red_wins_paid_by_one_credit(ledger: Ledger, paid: str) -> None:
    """`red_and_black`, 1 declared (red), then one credit of `paid` for both bets."""
    red_and_black(ledger)
    ledger.record_event(declared({"number": "1"}))
    ledger.execute(credit("w1", paid))


def test_one_credit_for_several_bets_that_pays_their_sum_flags_none(ledger: Ledger) -> None:
    red_wins_paid_by_one_credit(ledger, "20")
    bets = {b.bet_id: b for b in ledger.round_state("evo", "r1").bets}
    assert {k: (b.outcome, b.payout, b.flagged) for k, b in bets.items()} == {
        "on-red": (Outcome.WIN, D("20.00"), False),
        "on-black": (Outcome.LOSE, D("0.00"), False),
    }
    assert ledger.balance("p1", "EUR").balance == D("100.00")


def test_one_credit_for_several_bets_that_differs_from_their_sum_flags_them_all(
    ledger: Ledger,
) -> None:
    red_wins_paid_by_one_credit(ledger, "30")
    bets = ledger.round_state("evo", "r1").bets
    assert {(b.bet_id, b.expected_payout, b.flagged) for b in bets} == {
        ("on-red", D("20.00"), True),
        ("on-black", D("0.00"), True),
    }
    assert sum(b.payout for b in bets) == D("30.00")


@pytest.mark.parametrize(("paid", "flagged"), [("20", False), ("25", True)])
def test_one_credit_for_several_bets_before_the_result_is_checked_as_one_once_it_is_known(
    ledger: Ledger, paid: str, flagged: bool
) -> None:
    red_and_black(ledger)
    ledger.execute(credit("w1", paid))
    ledger.record_event(declared({"number": "1"}))
    bets = ledger.round_state("evo", "r1").bets
    assert {(b.bet_id, b.expected_payout, b.flagged) for b in bets} == {
        ("on-red", D("20.00"), flagged),
        ("on-black", D("0.00"), flagged),
    }


# ---- rollbacks ------------------------------------------------------------------------------


def test_a_rollback_of_a_debit_releases_the_stake(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "10"))
    reply = ledger.execute(rollback("rb1", "t1"))
    assert (reply.available, reply.kind) == (D("100.00"), "rollback")
    [bet] = ledger.round_state("evo", "r1").bets
    assert (bet.status, bet.outcome, bet.cause) == (
        BetStatus.REFUNDED,
        Outcome.VOID,
        "PROVIDER_CANCELLED",
    )


def test_a_repeated_rollback_moves_money_once(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "10"))
    ledger.execute(rollback("rb1", "t1"))
    assert ledger.execute(rollback("rb1", "t1")).replayed
    ledger.execute(rollback("rb2", "t1"))
    assert ledger.balance("p1", "EUR").balance == D("100.00")


def test_a_rollback_of_a_credit_takes_the_win_back_and_reopens_the_bet(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "10", bet_id="b1"))
    ledger.execute(credit("w1", "25", bet_id="b1"))
    reply = ledger.execute(rollback("rb1", "w1"))
    assert (reply.balance, reply.available, reply.absorbed) == (D("100.00"), D("90.00"), False)
    [bet] = ledger.round_state("evo", "r1").bets
    assert (bet.status, bet.outcome, bet.payout) == (BetStatus.OPEN, None, D(0))
    assert ledger.balance("p1", "EUR").held == D("10.00")  # the stake, held again
    assert_books_balance(ledger)


def test_a_bet_whose_credit_was_rolled_back_takes_a_corrected_credit(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "10", bet_id="b1"))
    ledger.execute(credit("w1", "25", bet_id="b1"))
    ledger.execute(rollback("rb1", "w1"))
    ledger.execute(credit("w2", "20", bet_id="b1"))
    [bet] = ledger.round_state("evo", "r1").bets
    assert (bet.status, bet.payout) == (BetStatus.SETTLED, D("20.00"))
    assert ledger.balance("p1", "EUR").balance == D("110.00")
    assert ledger.execute(rollback("rb1", "w1")).replayed
    assert ledger.execute(rollback("rb2", "w1")).absorbed  # w1 is undone already
    assert ledger.balance("p1", "EUR").balance == D("110.00")
    assert_books_balance(ledger)


def test_a_bet_whose_credit_was_rolled_back_can_then_be_rolled_back_itself(
    ledger: Ledger,
) -> None:
    ledger.execute(debit("t1", "10", bet_id="b1"))
    ledger.execute(credit("w1", "25", bet_id="b1"))
    ledger.execute(rollback("rb1", "w1"))
    ledger.execute(rollback("rb2", "t1"))
    assert ledger.balance("p1", "EUR") == Balance(
        player="p1", currency="EUR", balance=D(100), held=D(0), available=D(100)
    )
    assert ledger.round_state("evo", "r1").bets[0].status is BetStatus.REFUNDED


def test_a_rollback_of_a_credit_the_player_has_spent_is_refused_and_moves_nothing(
    ledger: Ledger,
) -> None:
    ledger.execute(debit("t1", "10", bet_id="b1"))
    ledger.execute(credit("w1", "25", bet_id="b1"))
    ledger.withdraw("p1", "EUR", D("100"), tx_id="cash-out")
    with refused(Refusal.INSUFFICIENT_FUNDS):
        ledger.execute(rollback("rb1", "w1"))
    assert ledger.round_state("evo", "r1").bets[0].status is BetStatus.SETTLED
    assert ledger.balance("p1", "EUR").balance == D("15.00")


def test_a_rollback_of_a_credit_for_a_whole_round_reopens_every_bet_it_paid(
    ledger: Ledger,
) -> None:
    red_wins_paid_by_one_credit(ledger, "20")
    assert ledger.round_state("evo", "r1").status is RoundStatus.SETTLED
    ledger.execute(rollback("rb1", "w1"))
    state = ledger.round_state("evo", "r1")
    assert {b.status for b in state.bets} == {BetStatus.OPEN}
    assert state.status is RoundStatus.RESULT  # its bets await a corrected credit
    assert ledger.balance("p1", "EUR").held == D("20.00")
    assert_books_balance(ledger)


def test_a_cancel_of_a_settled_bet_is_refused_and_moves_nothing(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "10", bet_id="b1"))
    ledger.execute(credit("w1", "25", bet_id="b1"))
    with refused(Refusal.BET_ALREADY_SETTLED) as caught:
        ledger.execute(rollback("rb1", "t1", only_open=True))
    assert "b1" in str(caught.value) and "settled" in str(caught.value)
    [bet] = ledger.round_state("evo", "r1").bets
    assert (bet.status, bet.payout) == (BetStatus.SETTLED, D("25.00"))
    assert ledger.balance("p1", "EUR").balance == D("115.00")
    assert_books_balance(ledger)


def test_a_cancel_of_an_open_bet_releases_its_stake(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "10", bet_id="b1"))
    reply = ledger.execute(rollback("rb1", "t1", only_open=True))
    assert (reply.available, reply.absorbed) == (D("100.00"), False)
    assert ledger.round_state("evo", "r1").bets[0].status is BetStatus.REFUNDED


def test_a_rollback_naming_the_debits_amount_releases_the_stake(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "2.50"))
    reply = ledger.execute(rollback("rb1", "t1", amount="2.5", only_open=True))
    assert (reply.available, reply.absorbed) == (D("100.00"), False)


@pytest.mark.parametrize("amount", ["2.49", "5.00", "0"])
def test_a_rollback_naming_another_amount_than_its_debits_is_refused_and_moves_nothing(
    ledger: Ledger, amount: str
) -> None:
    ledger.execute(debit("t1", "2.50"))
    with refused(Refusal.INVALID_AMOUNT) as caught:
        ledger.execute(rollback("rb1", "t1", amount=amount, only_open=True))
    assert "t1 took 2.50 EUR" in str(caught.value)
    assert available(ledger) == D("97.50")
    assert ledger.round_state("evo", "r1").bets[0].status is BetStatus.OPEN


@pytest.mark.parametrize("amount", ["-2.50", "NaN", "1.001"])
def test_a_rollback_naming_no_valid_amount_is_refused(ledger: Ledger, amount: str) -> None:
    with refused(Refusal.INVALID_AMOUNT):
        ledger.execute(rollback("rb1", "t1", amount=amount))


def test_a_rollback_before_its_debit_makes_the_late_debit_refused(ledger: Ledger) -> None:
    ledger.execute(rollback("rb1", "t1"))
    with refused(Refusal.TRANSACTION_ROLLED_BACK) as caught:
        ledger.execute(debit("t1", "10"))
    assert "rb1" in str(caught.value)
    assert available(ledger) == D("100.00")


def test_a_rollback_before_its_debit_can_absorb_the_late_debit_instead(ledger: Ledger) -> None:
    ledger.execute(rollback("rb1", "t1", late_original="absorb"))
    late = ledger.execute(debit("t1", "10"))
    assert (late.absorbed, late.available) == (True, D("100.00"))
    again = ledger.execute(debit("t1", "10"))
    assert (again.absorbed, again.replayed, again.tx_ref) == (True, True, late.tx_ref)
    assert available(ledger) == D("100.00")


def test_a_rollback_before_its_original_answers_that_it_found_nothing_to_undo(
    ledger: Ledger,
) -> None:
    first = ledger.execute(rollback("rb1", "t1"))
    assert (first.absorbed, first.available) == (True, D("100.00"))
    again = ledger.execute(rollback("rb1", "t1"))
    assert (again.absorbed, again.replayed) == (True, True)


def test_a_rollback_of_what_is_already_undone_answers_that_it_found_nothing_to_undo(
    ledger: Ledger,
) -> None:
    ledger.execute(debit("t1", "10"))
    assert not ledger.execute(rollback("rb1", "t1")).absorbed
    assert ledger.execute(rollback("rb2", "t1")).absorbed  # rolled back already
    ledger.execute(rollback("rb3", "t2", late_original="absorb"))
    assert ledger.execute(debit("t2", "10")).absorbed
    assert ledger.execute(rollback("rb4", "t2")).absorbed  # its original was absorbed
    assert available(ledger) == D("100.00")


def test_a_rollback_of_a_bet_its_voided_round_refunded_answers_that_it_found_nothing(
    ledger: Ledger,
) -> None:
    ledger.execute(debit("t1", "10"))
    ledger.record_event(voided())
    reply = ledger.execute(rollback("rb1", "t1"))
    assert (reply.absorbed, reply.available) == (True, D("100.00"))


def test_a_rollback_of_a_rollback_is_refused(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "10"))
    ledger.execute(rollback("rb1", "t1"))
    with refused(Refusal.TRANSACTION_NOT_FOUND):
        ledger.execute(rollback("rb2", "rb1"))


def test_a_rollback_in_another_currency_than_its_transaction_is_refused(ledger: Ledger) -> None:
    funded(ledger, "p1", "10", currency="USD")
    ledger.execute(debit("t1", "10"))
    with refused(Refusal.CURRENCY_MISMATCH):
        ledger.execute(rollback("rb1", "t1", currency="USD"))


def test_a_rollback_with_an_unknown_late_original_mode_is_refused(ledger: Ledger) -> None:
    with refused(Refusal.DUPLICATE_CONFLICT):
        ledger.execute(rollback("rb1", "t1", late_original="maybe"))


# ---- sessions, for audit exports ----------------------------------------------------------------


def test_a_bet_and_every_transaction_record_name_the_session_they_came_from(
    ledger: Ledger,
) -> None:
    start = log_position(ledger)
    ledger.execute(debit("t1", "10", bet_id="b1", session_id="sess-1"))
    ledger.execute(credit("w1", "0", bet_id="b1", session_id="sess-2"))
    ledger.execute(rollback("rb1", "t9", session_id="sess-3"))
    # Naming none, a win is its bet's session's, a rollback its transaction's.
    ledger.execute(debit("t2", "10", bet_id="b2", session_id="sess-4"))
    ledger.execute(debit("t3", "10", bet_id="b3", session_id="sess-5"))
    ledger.execute(credit("w2", "20", bet_id="b2"))
    ledger.execute(rollback("rb3", "t3"))
    ledger.execute(rollback("rb2", "w2"))
    sessions = [
        (name, fields.get("tx_id"), fields["session_id"])
        for name, fields in logged_since(ledger, start)
        if "session_id" in fields
    ]
    assert sessions == [
        ("Bet.Placed", "t1", "sess-1"),
        ("TxRecord.Created", "t1", "sess-1"),
        ("TxRecord.Created", "w1", "sess-2"),
        ("TxRecord.Created", "t9", "sess-3"),  # the tombstone the rollback left
        ("TxRecord.Created", "rb1", "sess-3"),
        ("Bet.Placed", "t2", "sess-4"),
        ("TxRecord.Created", "t2", "sess-4"),
        ("Bet.Placed", "t3", "sess-5"),
        ("TxRecord.Created", "t3", "sess-5"),
        ("TxRecord.Created", "w2", "sess-4"),
        ("TxRecord.Created", "rb3", "sess-5"),
        ("TxRecord.Created", "rb2", "sess-4"),
    ]


def test_a_bet_stored_before_sessions_were_recorded_reads_as_no_session(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "10", bet_id="b1"))
    [stored] = [
        n for n in ledger.recorder.select_notifications(1, 100) if n.topic.endswith("Bet.Placed")
    ]
    state = ledger.mapper.transcoder.decode(stored.state)
    del state["session_id"]  # as the event was written before the field existed
    old = ledger.mapper.to_domain_event(
        replace(stored, state=ledger.mapper.transcoder.encode(state))
    )
    assert isinstance(old, Bet.Placed) and old.session_id == ""
    rebuilt = project_aggregate(None, [old])
    assert isinstance(rebuilt, Bet) and (rebuilt.session_id, rebuilt.stake) == ("", D("10.00"))


# ---- the betting window (I5) ---------------------------------------------------------------


def test_a_bet_the_log_orders_after_betting_closed_is_refunded_as_late() -> None:
    ledger = RacingLedger(env=POPO)
    funded(ledger, "p1", "100")
    ledger.record_event(opened())
    ledger.lands_during_next_bet = closed()
    ledger.execute(debit("t1", "10", bet_id="b1"))  # read the round open; the close landed first
    assert available(ledger) == D("90.00")
    ledger.drain_round_book()
    [bet] = ledger.round_state("evo", "r1").bets
    assert (bet.status, bet.cause, bet.late) == (BetStatus.REFUNDED, "LATE_BET", True)
    assert available(ledger) == D("100.00")


def test_a_credit_for_a_late_bet_is_refused_as_betting_closed() -> None:
    ledger = RacingLedger(env=POPO)
    funded(ledger, "p1", "100")
    ledger.record_event(opened())
    ledger.lands_during_next_bet = closed()
    ledger.execute(debit("t1", "10", bet_id="b1"))
    with refused(Refusal.BETTING_CLOSED):
        ledger.execute(credit("w1", "360", bet_id="b1"))
    assert ledger.balance("p1", "EUR").balance == D("100")


def test_bets_the_log_orders_before_betting_closed_stand(ledger: Ledger) -> None:
    ledger.record_event(opened())
    ledger.execute(debit("t1", "10", bet_id="b1"))
    ledger.record_event(closed())
    ledger.drain_round_book()
    [bet] = ledger.round_state("evo", "r1").bets
    assert (bet.status, bet.late) == (BetStatus.OPEN, False)
    ledger.execute(credit("w1", "0", bet_id="b1"))


# ---- voids ----------------------------------------------------------------------------------


def test_a_voided_round_refunds_every_bet_once(ledger: Ledger) -> None:
    funded(ledger, "p2", "50")
    ledger.record_event(opened())
    ledger.execute(debit("t1", "10"))
    ledger.execute(debit("t2", "20", player="p2"))
    ledger.record_event(voided("STREAM_FAILURE"))
    ledger.record_event(voided("STREAM_FAILURE"))
    ledger.drain_round_book()
    state = ledger.round_state("evo", "r1")
    assert state.status is RoundStatus.VOIDED and state.void_cause == "STREAM_FAILURE"
    assert {(b.status, b.cause) for b in state.bets} == {(BetStatus.REFUNDED, "STREAM_FAILURE")}
    assert available(ledger) == D("100.00") and available(ledger, "p2") == D("50")


def test_a_void_after_the_provider_settled_reverses_the_settlement(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "10", bet_id="b1"))
    ledger.execute(credit("w1", "30", bet_id="b1"))
    ledger.record_event(voided("DISPUTE"))
    assert ledger.balance("p1", "EUR").balance == D("100.00")
    assert ledger.round_state("evo", "r1").bets[0].status is BetStatus.REFUNDED
    assert_books_balance(ledger)


def test_a_void_that_cannot_take_back_a_spent_win_flags_the_round_for_audit(
    ledger: Ledger,
) -> None:
    ledger.execute(debit("t1", "10", bet_id="b1"))
    ledger.execute(credit("w1", "360", bet_id="b1"))
    ledger.withdraw("p1", "EUR", D("440"), tx_id="cash-out")  # the win is spent
    ledger.record_event(voided("DISPUTE"))
    state = ledger.round_state("evo", "r1")
    [flag] = state.audit_flags
    assert flag.startswith("VOID_UNRECOVERABLE: bet evo/b1 of player 'p1' stays settled")
    assert "INSUFFICIENT_FUNDS" in flag
    assert state.bets[0].status is BetStatus.SETTLED
    assert ledger.balance("p1", "EUR").balance == D("10.00")
    ledger.record_event(voided("DISPUTE", seq=4))  # voided again: flagged once
    assert len(ledger.round_state("evo", "r1").audit_flags) == 1
    assert_books_balance(ledger)


# ---- bridge settlement ------------------------------------------------------------------------


def test_a_bridge_settled_round_pays_every_bet_from_the_declared_result() -> None:
    ledger = popo_ledger()
    for player in ("a", "b", "c"):
        funded(ledger, player, "100")
    ledger.record_event(opened(provider="pp", game="baccarat"))
    ledger.execute(debit("1", "10", player="a", provider="pp", picks=(("baccarat_banker", ""),)))
    ledger.execute(debit("2", "10", player="b", provider="pp", picks=(("baccarat_player", ""),)))
    ledger.execute(debit("3", "10", player="c", provider="pp", picks=(("baccarat_tie", ""),)))
    ledger.record_event(closed(provider="pp"))
    ledger.record_event(declared({"player": "6", "banker": "6"}, provider="pp"))
    state = ledger.round_state("pp", "r1")
    assert state.status is RoundStatus.SETTLED and state.bridge_settled
    outcomes = {b.player: (b.outcome, b.payout) for b in state.bets}
    assert outcomes == {
        "a": (Outcome.PUSH, D("10.00")),
        "b": (Outcome.PUSH, D("10.00")),
        "c": (Outcome.WIN, D("90.00")),
    }
    assert ledger.balance("c", "EUR").balance == D("180.00")
    assert_books_balance(ledger)


def bridge_settled_round(ledger: Ledger, players: int, first_bets: int = 1) -> None:
    """`players` funded players each betting 10 on red in pp's round r1, betting closed;
    the first player bets `first_bets` times, the others once."""
    ledger.record_event(opened(provider="pp"))
    for n in range(players):
        funded(ledger, f"p{n}", "100")
    bettors = [0] * (first_bets - 1) + list(range(players))
    for tx, n in enumerate(bettors):
        ledger.execute(
            debit(f"t{tx}", "10", player=f"p{n}", provider="pp", picks=(("roulette_red", ""),))
        )
    ledger.record_event(closed(provider="pp"))


def test_the_round_book_never_reads_back_the_payouts_it_wrote(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(book, "CHUNK", 2)  # three atomic saves for five bets
    ledger = popo_ledger()
    bridge_settled_round(ledger, 5)
    ledger.drain_round_book()
    read: list[str] = []
    select = ledger.recorder.select_notifications

    def reading(*args: Any, **kwargs: Any) -> Any:
        found = select(*args, **kwargs)
        read.extend(n.topic for n in found)
        return found

    monkeypatch.setattr(ledger.recorder, "select_notifications", reading)
    ledger.record_event(declared({"number": "1"}, provider="pp"))  # red wins
    assert {t.rsplit(":", 1)[1] for t in read} == {"Round.EventRecorded", "Round.Verified"}
    state = ledger.round_state("pp", "r1")
    assert state.status is RoundStatus.SETTLED
    assert {(b.status, b.payout) for b in state.bets} == {(BetStatus.SETTLED, D("20.00"))}
    assert_books_balance(ledger)


def test_a_players_bets_in_several_payout_saves_are_paid_once_each_without_a_conflict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(book, "CHUNK", 2)
    ledger = popo_ledger()
    bridge_settled_round(ledger, 2, first_bets=4)  # p0's bets are in two saves
    lost: list[IntegrityError] = []
    save = ledger.save

    def saving(*objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        time.sleep(0.05)  # a save slow enough for the next chunk to be acted on meanwhile
        try:
            return save(*objs, **kwargs)
        except IntegrityError as error:
            lost.append(error)
            raise

    monkeypatch.setattr(ledger, "save", saving)
    ledger.record_event(declared({"number": "1"}, provider="pp"))
    assert lost == []  # each save waited for the one before it that paid the same wallet
    assert {b.status for b in ledger.round_state("pp", "r1").bets} == {BetStatus.SETTLED}
    assert ledger.balance("p0", "EUR").balance == D("140.00")  # 100 - 40 + 4 x 20
    assert_books_balance(ledger)


def test_a_payout_save_lost_to_a_concurrent_write_is_made_again_on_fresh_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(book, "CHUNK", 2)
    ledger = ContendedLedger(env=POPO)
    bridge_settled_round(ledger, 5)
    ledger.player, ledger.contended = "p0", 1  # the first payout save loses to a deposit
    ledger.record_event(declared({"number": "1"}, provider="pp"))
    assert ledger.contended == 0
    assert {b.status for b in ledger.round_state("pp", "r1").bets} == {BetStatus.SETTLED}
    assert ledger.balance("p0", "EUR").balance == D("110.01")
    assert ledger.balance("p4", "EUR").balance == D("110.00")
    assert_books_balance(ledger)


class LateAmidPayouts(Ledger):
    """A ledger in which another process's bet on the round lands between two of the round
    book's payout saves (the bet took the round as open)."""

    name = "Ledger"
    late: Debit | None = None

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        saved = super().save(*objs, **kwargs)
        paying = any(isinstance(o, Bet) and o.status is BetStatus.SETTLED for o in objs)
        if paying and self.late is not None:
            late, self.late = self.late, None
            self._place_bet(late, careful=False, peeked=None)
        return saved


def test_a_bet_landing_amid_the_round_books_payouts_is_refunded_as_late(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(book, "CHUNK", 2)
    ledger = LateAmidPayouts(env=POPO)
    bridge_settled_round(ledger, 4)
    funded(ledger, "late", "100")
    ledger.late = debit("tl", "10", player="late", provider="pp", picks=(("roulette_red", ""),))
    ledger.record_event(declared({"number": "1"}, provider="pp"))
    state = ledger.round_state("pp", "r1")
    assert ledger.late is None  # it landed
    outcomes = {b.player: (b.status, b.cause, b.late) for b in state.bets}
    assert outcomes.pop("late") == (BetStatus.REFUNDED, "LATE_BET", True)
    assert set(outcomes.values()) == {(BetStatus.SETTLED, "", False)}
    assert state.status is RoundStatus.SETTLED
    assert ledger.balance("late", "EUR").balance == D("100.00")
    assert_books_balance(ledger)


def test_a_bridge_settled_bet_without_a_payout_rule_stays_open_for_the_provider() -> None:
    ledger = popo_ledger()
    funded(ledger, "a", "100")
    ledger.execute(debit("1", "10", player="a", provider="pp", picks=(("keno_spot", "7"),)))
    ledger.record_event(declared({"number": "7"}, provider="pp"))
    [bet] = ledger.round_state("pp", "r1").bets
    assert bet.status is BetStatus.OPEN
    assert ledger.round_state("pp", "r1").status is RoundStatus.RESULT


# ---- rounds and verification -------------------------------------------------------------------


def test_a_round_nobody_reported_is_unknown(ledger: Ledger) -> None:
    state = ledger.round_state("evo", "never")
    assert (state.status, state.bets) == (RoundStatus.UNKNOWN, ())


def test_a_round_whose_hash_matches_is_verified(ledger: Ledger) -> None:
    events: list[AnyProviderEvent] = [opened(), closed(), declared({"number": "3"})]
    digest = round_digest(events)
    for event in [*events[:2], declared({"number": "3"}, round_hash=digest)]:
        ledger.record_event(event)
    state = ledger.round_state("evo", "r1")
    assert (state.verification, state.digest, state.audit_flags) == (
        Verification.VERIFIED,
        digest,
        (),
    )


def test_a_round_with_a_wrong_hash_is_flagged_for_audit(ledger: Ledger) -> None:
    ledger.record_event(opened())
    ledger.record_event(closed())
    ledger.record_event(declared({"number": "3"}, round_hash="0" * 64))
    state = ledger.round_state("evo", "r1")
    assert state.verification is Verification.FLAGGED and len(state.audit_flags) == 1


def test_recording_a_provider_event_twice_records_it_once(ledger: Ledger) -> None:
    ledger.record_event(opened())
    ledger.record_event(opened())
    state = ledger.round_state("evo", "r1")
    assert (state.status, state.last_seq, state.game) == (RoundStatus.OPEN, 1, "roulette")


# ---- concurrency and long-lived wallets ---------------------------------------------------


def test_a_command_that_loses_to_a_concurrent_write_is_retried_on_fresh_state() -> None:
    ledger = ContendedLedger(env=POPO)
    funded(ledger, "p1", "100")
    ledger.contended = 3
    reply = ledger.execute(debit("t1", "10"))
    assert reply.available == D("90.03")  # three rival deposits of 0.01 each came first
    assert ledger.contended == 0


def test_a_command_that_keeps_losing_is_refused_once_its_budget_is_spent() -> None:
    ledger = ContendedLedger(env={**POPO, "LEDGER_RETRY_BUDGET": "4"})
    funded(ledger, "p1", "100")
    ledger.contended = 10
    with refused(Refusal.RETRY_EXHAUSTED):
        ledger.execute(debit("t1", "10"))
    ledger.contended = 0
    assert ledger.balance("p1", "EUR").held == 0


def test_a_long_lived_wallet_is_loaded_from_its_latest_snapshot() -> None:
    ledger = popo_ledger()
    ledger.open_wallet("p1", "EUR")
    for n in range(450):
        ledger.deposit("p1", "EUR", D("1"), tx_id=f"c{n}")
    assert ledger.snapshots is not None
    snapshots = list(ledger.snapshots.get(wallet_id("p1", "EUR")))
    assert [s.originator_version for s in snapshots] == [200, 400]
    wallet = ledger.find(Wallet, wallet_id("p1", "EUR"))
    assert wallet is not None and wallet.balance == D(450) and wallet.version == 451
    assert len(list(ledger.events.get(wallet_id("p1", "EUR"), gt=400))) == 51
