"""The ledger's commands in given / when / then form, on in-memory storage.

Given the events a few earlier commands stored, when one command runs, then either the
events it stored are these (by name, and the fields that matter), or it is refused with
this code and stored nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from contracts.wallet import Refusal
from services.ledger.application import Ledger
from services.ledger.errors import LedgerRefused
from tests.unit.ledger.support.builders import credit
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import declared
from tests.unit.ledger.support.builders import funded
from tests.unit.ledger.support.builders import log_position
from tests.unit.ledger.support.builders import logged_since
from tests.unit.ledger.support.builders import opened
from tests.unit.ledger.support.builders import p1_funded
from tests.unit.ledger.support.builders import rollback
from tests.unit.ledger.support.builders import voided

D = Decimal
Step = Callable[[Ledger], object]
Events = list[tuple[str, dict[str, Any]]]


def given(*steps: Step) -> Ledger:
    """A ledger holding the events of p1's EUR wallet funded with 100, then of `steps`."""
    ledger = p1_funded()
    for step in steps:
        step(ledger)
    ledger.drain_round_book()  # what the round book makes of the past is past too
    return ledger


def when(ledger: Ledger, command: Step) -> Events:
    start = log_position(ledger)
    command(ledger)
    return logged_since(ledger, start)


def when_refused(ledger: Ledger, command: Step, code: Refusal) -> LedgerRefused:
    start = log_position(ledger)
    with pytest.raises(LedgerRefused) as caught:
        command(ledger)
    assert caught.value.code is code, caught.value
    assert logged_since(ledger, start) == [], "a refused command stores nothing"
    return caught.value


def names(events: Events) -> list[str]:
    return [name for name, _ in events]


def placed(tx_id: str, amount: str = "10", **kwargs: Any) -> Step:
    return lambda ledger: ledger.execute(debit(tx_id, amount, **kwargs))


def paid(tx_id: str, amount: str, **kwargs: Any) -> Step:
    return lambda ledger: ledger.execute(credit(tx_id, amount, **kwargs))


def rolled_back(tx_id: str, ref: str, **kwargs: Any) -> Step:
    return lambda ledger: ledger.execute(rollback(tx_id, ref, **kwargs))


def cashier(kind: str, amount: str, tx_id: str = "c1", player: str = "p1") -> Step:
    """A deposit or withdrawal through the platform's cashier."""
    return lambda ledger: getattr(ledger, kind)(player, "EUR", D(amount), tx_id=tx_id)


def wallet_of(player: str, amount: str = "50") -> Step:
    return lambda ledger: funded(ledger, player, amount)


# ---- what each command stores -----------------------------------------------------------


def test_a_deposit_stores_the_money_movement_and_its_transaction_record() -> None:
    ledger = given()
    events = when(ledger, cashier("deposit", "5"))
    assert names(events) == ["Wallet.Deposited", "TxRecord.Created"]
    assert events[0][1]["postings"] == {"player:p1": D("5.00"), "cashier": D("-5.00")}


def test_a_withdrawal_stores_the_money_movement_and_its_transaction_record() -> None:
    ledger = given()
    events = when(ledger, cashier("withdraw", "5"))
    assert names(events) == ["Wallet.Withdrawn", "TxRecord.Created"]
    assert events[1][1]["kind"] == "withdraw"


def test_a_debit_stores_a_hold_a_bet_and_its_transaction_record() -> None:
    events = when(given(), placed("t1", bet_id="b1", session_id="s1"))
    assert names(events) == ["Wallet.StakeHeld", "Bet.Placed", "TxRecord.Created"]
    assert (events[1][1]["bet_id"], events[1][1]["stake"], events[1][1]["session_id"]) == (
        "b1",
        D("10.00"),
        "s1",
    )


def test_a_credit_stores_the_capture_the_win_the_settlement_and_its_record() -> None:
    events = when(given(placed("t1", bet_id="b1")), paid("w1", "20", bet_id="b1"))
    assert names(events) == [
        "Wallet.HoldCaptured",
        "Wallet.WinCredited",
        "Bet.Settled",
        "TxRecord.Created",
    ]
    assert (events[2][1]["outcome"], events[2][1]["payout"]) == ("WIN", D("20.00"))


def test_a_rollback_of_a_debit_stores_the_release_and_the_refund() -> None:
    events = when(given(placed("t1")), rolled_back("rb1", "t1"))
    assert names(events) == [
        "Wallet.HoldReleased",
        "Bet.Refunded",
        "TxRecord.RolledBack",
        "TxRecord.Created",
    ]


def test_a_rollback_of_a_credit_stores_its_reversal_and_reopens_the_bet() -> None:
    events = when(
        given(placed("t1", bet_id="b1"), paid("w1", "20", bet_id="b1")), rolled_back("rb1", "w1")
    )
    assert names(events) == [
        "Wallet.SettlementReversed",
        "Wallet.StakeHeld",
        "Bet.Reopened",
        "TxRecord.RolledBack",
        "TxRecord.Created",
    ]
    assert events[2][1]["undone_tx_id"] == "w1"


def test_a_rollback_before_its_original_stores_a_tombstone_and_its_record() -> None:
    events = when(given(), rolled_back("rb1", "t9"))
    assert names(events) == ["TxRecord.Created", "TxRecord.Created"]
    assert (events[0][1]["tx_id"], events[0][1]["tombstone_by"]) == ("t9", "rb1")
    assert events[1][1]["reply"]["absorbed"] is True


def test_a_void_stores_the_provider_event_then_the_refund_and_the_books_view() -> None:
    ledger = given(lambda lg: lg.record_event(opened()), placed("t1"))
    events = when(ledger, lambda lg: lg.record_event(voided("DEALER_ERROR")))
    assert names(events) == [
        "Round.EventRecorded",
        "Wallet.HoldReleased",
        "Bet.Refunded",
        "RoundBook.VoidSeen",
        "RoundBook.BetsResolved",  # the refund it made, marked as made: never read back
        "BookCursor.Advanced",
    ]
    assert events[2][1]["cause"] == "DEALER_ERROR"


# ---- refusals: each stores nothing -------------------------------------------------------


@pytest.mark.parametrize("amount", ["-1", "0.001", "NaN", "1e30"])
def test_a_credit_of_no_valid_amount_is_refused(amount: str) -> None:
    ledger = given(placed("t1", bet_id="b1"))
    when_refused(ledger, paid("w1", amount, bet_id="b1"), Refusal.INVALID_AMOUNT)


@pytest.mark.parametrize("amount", ["0", "-1", "0.001", "Infinity"])
def test_a_withdrawal_of_no_valid_amount_is_refused(amount: str) -> None:
    ledger = given()
    when_refused(ledger, cashier("withdraw", amount), Refusal.INVALID_AMOUNT)


@pytest.mark.parametrize("kind", ["deposit", "withdraw"])
def test_the_cashier_refuses_a_player_without_a_wallet(kind: str) -> None:
    ledger = given()
    refusal = when_refused(ledger, cashier(kind, "5", player="ghost"), Refusal.UNKNOWN_WALLET)
    assert "'ghost' has no EUR wallet" in str(refusal)


def test_a_credit_for_a_player_without_a_wallet_is_refused() -> None:
    ledger = given(placed("t1", bet_id="b1"))
    when_refused(ledger, paid("w1", "5", bet_id="b1", player="ghost"), Refusal.UNKNOWN_WALLET)


def test_a_rollback_of_another_players_transaction_is_refused_as_not_found() -> None:
    ledger = given(wallet_of("p2"), placed("t1"))
    refusal = when_refused(
        ledger, rolled_back("rb1", "t1", player="p2"), Refusal.TRANSACTION_NOT_FOUND
    )
    assert "t1" in str(refusal) and "'p2'" in str(refusal)


def test_a_repeated_withdrawal_with_another_amount_is_refused() -> None:
    ledger = given(cashier("withdraw", "5"))
    when_refused(ledger, cashier("withdraw", "6"), Refusal.DUPLICATE_CONFLICT)


def test_a_withdrawal_reusing_a_deposits_id_is_refused() -> None:
    ledger = given(cashier("deposit", "5"))
    when_refused(ledger, cashier("withdraw", "5"), Refusal.DUPLICATE_CONFLICT)


def test_a_repeated_credit_with_another_amount_is_refused() -> None:
    ledger = given(placed("t1", bet_id="b1"), paid("w1", "20", bet_id="b1"))
    when_refused(ledger, paid("w1", "25", bet_id="b1"), Refusal.DUPLICATE_CONFLICT)


def test_a_repeated_rollback_naming_another_transaction_is_refused() -> None:
    ledger = given(placed("t1"), placed("t2"), rolled_back("rb1", "t1"))
    when_refused(ledger, rolled_back("rb1", "t2"), Refusal.DUPLICATE_CONFLICT)


@pytest.mark.parametrize(
    "ended",
    [
        lambda lg: lg.record_event(voided("DEALER_ERROR", seq=2)),
        lambda lg: lg.record_event(declared({"number": "17"}, seq=2)),
    ],
    ids=["voided", "resulted"],
)
def test_a_debit_to_a_round_that_ended_is_refused_as_betting_closed(ended: Step) -> None:
    ledger = given(lambda lg: lg.record_event(opened()), ended)
    refusal = when_refused(ledger, placed("t1"), Refusal.BETTING_CLOSED)
    assert "evo/r1" in str(refusal)


def test_a_cancel_of_a_settled_bet_is_refused_as_already_settled() -> None:
    ledger = given(placed("t1", bet_id="b1"), paid("w1", "20", bet_id="b1"))
    refusal = when_refused(
        ledger, rolled_back("rb1", "t1", only_open=True), Refusal.BET_ALREADY_SETTLED
    )
    assert "evo/b1" in str(refusal)
