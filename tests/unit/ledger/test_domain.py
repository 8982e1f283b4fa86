"""The ledger's aggregates: given past events, a command yields new events or a refusal."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from decimal import Decimal
from typing import Any

import pytest

from contracts.events import AnyProviderEvent
from contracts.events import BettingClosed
from contracts.events import BettingOpened
from contracts.events import GameEvent
from contracts.events import ResultDeclared
from contracts.events import round_digest
from contracts.wallet import Refusal
from services.ledger.domain import Bet
from services.ledger.domain import TxRecord
from services.ledger.domain import Wallet
from services.ledger.rounds import BookCursor
from services.ledger.rounds import Round
from services.ledger.rounds import RoundBook
from services.ledger.rounds import encode_provider_event
from tests.unit.ledger.support import builders
from tests.unit.ledger.support.given_events import given
from tests.unit.ledger.support.given_events import history
from tests.unit.ledger.support.given_events import then
from tests.unit.ledger.support.given_events import wallet_with
from tests.unit.ledger.support.refusals import refused

D = Decimal
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


# ---- Wallet --------------------------------------------------------------------------


def test_opening_a_wallet_starts_it_empty_in_one_currency() -> None:
    wallet = Wallet(player="p1", currency="EUR")
    assert then(wallet) == [("Opened", {"player": "p1", "currency": "EUR"})]
    assert (wallet.balance, wallet.held, wallet.available) == (D(0), D(0), D(0))


@pytest.mark.parametrize(
    ("deposited", "move", "event", "account", "amount", "to_player"),
    [
        ("0", Wallet.deposit, "Deposited", "cashier", D("10.00"), D("10.00")),
        ("10", Wallet.withdraw, "Withdrawn", "provider:evo", D("4"), D("-4")),
    ],
    ids=[
        "a deposit posts from the cashier to the player",
        "a transfer wallet withdrawal posts to the provider's table bank",
    ],
)
def test_a_cash_move_posts_between_the_player_and_its_account(
    deposited: str,
    move: Callable[[Wallet, str, Decimal, str], None],
    event: str,
    account: str,
    amount: Decimal,
    to_player: Decimal,
) -> None:
    wallet = given(Wallet, wallet_with(deposited))
    move(wallet, "trn_1", amount, account)
    assert then(wallet) == [
        (
            event,
            {
                "tx_ref": "trn_1",
                "amount": amount,
                "account": account,
                "postings": {"player:p1": to_player, account: -to_player},
            },
        )
    ]
    assert wallet.balance == wallet.available == D(deposited) + to_player


@pytest.mark.parametrize(
    ("wallet_events", "command"),
    [
        (wallet_with("10"), lambda w: w.withdraw("trn_2", D("10.01"), "cashier")),
        (wallet_with("10", ("bet-1", "6")), lambda w: w.withdraw("trn_2", D("5"), "cashier")),
        (wallet_with("10", ("bet-1", "6")), lambda w: w.hold("bet-2", D("4.01"), "round-1")),
        (wallet_with("5"), lambda w: w.reverse_settlement("bet-1", D(4), D(10), "DEALER_ERROR")),
        (
            wallet_with("9"),
            lambda w: w.take_back_win("bet-1", D(4), D(10), "round-1", "PROVIDER_CANCELLED"),
        ),
    ],
    ids=[
        "a withdrawal beyond the balance",
        "a withdrawal of held money",
        "a stake beyond what is available",
        "reversing a win the player no longer has",
        "taking back a credit the player no longer has",
    ],
)
def test_what_the_player_does_not_have_available_is_refused_and_changes_nothing(
    wallet_events: list[Any], command: Callable[[Wallet], object]
) -> None:
    wallet = given(Wallet, wallet_events)
    with refused(Refusal.INSUFFICIENT_FUNDS):
        command(wallet)
    assert then(wallet) == []


def test_holding_a_stake_lowers_what_is_available_but_not_the_balance() -> None:
    wallet = given(Wallet, wallet_with("10"))
    wallet.hold("bet-1", D("4"), "round-1")
    assert then(wallet) == [
        ("StakeHeld", {"bet": "bet-1", "amount": D("4"), "round_key": "round-1"})
    ]
    assert (wallet.balance, wallet.held, wallet.available) == (D(10), D(4), D(6))


def test_a_second_hold_for_the_same_bet_is_refused() -> None:
    wallet = given(Wallet, wallet_with("10", ("bet-1", "1")))
    with refused(Refusal.DUPLICATE_CONFLICT):
        wallet.hold("bet-1", D("1"), "round-1")


def test_capturing_a_hold_posts_the_stake_to_the_house() -> None:
    wallet = given(Wallet, wallet_with("10", ("bet-1", "4")))
    assert wallet.capture("bet-1") == D(4)
    assert then(wallet) == [
        (
            "HoldCaptured",
            {"bet": "bet-1", "amount": D(4), "postings": {"player:p1": D(-4), "house": D(4)}},
        )
    ]
    assert (wallet.balance, wallet.held) == (D(6), D(0))


def test_a_hold_is_captured_once() -> None:
    wallet = given(Wallet, wallet_with("10", ("bet-1", "4")))
    wallet.capture("bet-1")
    wallet.collect_events()
    with refused(Refusal.BET_ALREADY_SETTLED):
        wallet.capture("bet-1")
    with refused(Refusal.BET_ALREADY_SETTLED):
        wallet.release("bet-1", "X")
    assert then(wallet) == []


def test_crediting_a_win_posts_from_the_house_to_the_player() -> None:
    wallet = given(Wallet, wallet_with("10"))
    wallet.credit_win("bet-1", D("8"))
    assert then(wallet) == [
        (
            "WinCredited",
            {"bet": "bet-1", "amount": D(8), "postings": {"house": D(-8), "player:p1": D(8)}},
        )
    ]


def test_crediting_nothing_writes_nothing() -> None:
    wallet = given(Wallet, wallet_with("10"))
    wallet.credit_win("bet-1", D("0"))
    assert then(wallet) == []


def test_releasing_a_hold_gives_the_stake_back_to_what_is_available() -> None:
    wallet = given(Wallet, wallet_with("10", ("bet-1", "4")))
    wallet.release("bet-1", "LATE_BET")
    assert then(wallet) == [("HoldReleased", {"bet": "bet-1", "cause": "LATE_BET"})]
    assert wallet.available == D(10)


def test_a_hold_is_released_once() -> None:
    wallet = given(Wallet, wallet_with("10", ("bet-1", "4")))
    wallet.release("bet-1", "LATE_BET")
    wallet.collect_events()
    with refused(Refusal.BET_ALREADY_SETTLED):
        wallet.release("bet-1", "LATE_BET")


def test_reversing_a_settled_win_returns_the_stake_and_takes_the_payout_back() -> None:
    wallet = given(Wallet, wallet_with("20"))
    wallet.reverse_settlement("bet-1", D(4), D(10), "DEALER_ERROR")
    assert then(wallet) == [
        (
            "SettlementReversed",
            {
                "bet": "bet-1",
                "stake": D(4),
                "payout": D(10),
                "cause": "DEALER_ERROR",
                "postings": {"player:p1": D(-6), "house": D(6)},
            },
        )
    ]
    assert wallet.balance == D(14)


def test_taking_back_a_credit_returns_the_payout_and_holds_the_stake_again() -> None:
    wallet = given(Wallet, wallet_with("20"))  # a bet of 4 paid 10: 20 includes the win
    wallet.take_back_win("bet-1", D(4), D(10), "round-1", "PROVIDER_CANCELLED")
    assert then(wallet) == [
        (
            "SettlementReversed",
            {
                "bet": "bet-1",
                "stake": D(4),
                "payout": D(10),
                "cause": "PROVIDER_CANCELLED",
                "postings": {"player:p1": D(-6), "house": D(6)},
            },
        ),
        ("StakeHeld", {"bet": "bet-1", "amount": D(4), "round_key": "round-1"}),
    ]
    assert (wallet.balance, wallet.held, wallet.available) == (D(14), D(4), D(10))


def test_every_money_event_posts_a_balanced_entry() -> None:
    events = history(
        Wallet(player="p1", currency="EUR"),
        lambda w: w.deposit("t", D(50), "cashier"),
        lambda w: w.hold("b", D(10), "r"),
        lambda w: w.capture("b"),
        lambda w: w.credit_win("b", D(35)),
        lambda w: w.reverse_settlement("b", D(10), D(35), "X"),
        lambda w: w.withdraw("t2", D(5), "provider:evo"),
    )
    wallet = given(Wallet, events)
    postings = [getattr(e, "postings", {}) for e in events]
    assert all(sum(p.values(), D(0)) == 0 for p in postings)
    assert sum((p.get("player:p1", D(0)) for p in postings), D(0)) == wallet.balance == D(45)


# ---- Bet -----------------------------------------------------------------------------


def placed(**changes: object) -> list[object]:
    return history(Bet(**placed_fields(**changes)))


def placed_fields(**changes: object) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "provider": "evo",
        "bet_id": "b1",
        "tx_id": "t1",
        "player": "p1",
        "currency": "EUR",
        "stake": D("10.00"),
        "round_id": "r1",
        "game": "roulette",
        "table": "T",
        "selections": [{"market": "roulette_straight", "value": "17"}],
    }
    fields.update(changes)
    return fields


def test_placing_a_bet_records_its_stake_round_and_selections() -> None:
    bet = Bet(**placed_fields(selections=[]))
    [(name, fields)] = then(bet)
    assert name == "Placed"
    assert fields["stake"] == D("10.00") and fields["round_id"] == "r1"
    assert bet.status == "OPEN"


def test_settling_a_bet_at_the_ledgers_own_payout_does_not_flag_it() -> None:
    bet = given(Bet, placed())
    bet.settle("WIN", D("360.00"), D("360.00"), "w1")
    assert then(bet) == [
        (
            "Settled",
            {
                "outcome": "WIN",
                "payout": D("360.00"),
                "expected_payout": D("360.00"),
                "flagged": False,
                "tx_id": "w1",
            },
        )
    ]


def test_a_provider_payout_that_differs_from_the_rules_flags_the_bet_but_settles_it() -> None:
    bet = given(Bet, placed())
    bet.settle("WIN", D("300.00"), D("360.00"), "w1")
    [(_, fields)] = then(bet)
    assert fields["flagged"] is True
    assert bet.status == "SETTLED"


def test_a_bet_paid_by_a_credit_that_differs_for_the_bets_it_covers_is_flagged() -> None:
    bet = given(Bet, placed())
    bet.settle("WIN", D("15.00"), D("15.00"), "w1", flagged=True)  # its share of a wrong sum
    [(_, fields)] = then(bet)
    assert (fields["flagged"], bet.flagged, bet.settled_by) == (True, True, "w1")


def test_a_settled_bet_whose_credit_is_rolled_back_is_open_again() -> None:
    bet = given(Bet, history(Bet(**placed_fields()), lambda b: b.settle("WIN", D(20), None, "w1")))
    bet.reopen("PROVIDER_CANCELLED", "rb1")
    assert then(bet) == [
        (
            "Reopened",
            {
                "cause": "PROVIDER_CANCELLED",
                "tx_id": "rb1",
                "undone_tx_id": "w1",
                "payout": D(20),
            },
        )
    ]
    assert (bet.status, bet.payout, bet.outcome, bet.settled_by) == ("OPEN", D(0), "", "")
    bet.settle("WIN", D(15), None, "w2")
    assert bet.settled_by == "w2"


@pytest.mark.parametrize(
    ("resolve", "code"),
    [
        (lambda b: None, Refusal.BET_ALREADY_SETTLED),
        (lambda b: b.refund("DISPUTE"), Refusal.BET_REFUNDED),
    ],
)
def test_only_a_settled_bet_can_be_reopened(
    resolve: Callable[[Bet], object], code: Refusal
) -> None:
    bet = given(Bet, history(Bet(**placed_fields()), resolve))
    with refused(code):
        bet.reopen("PROVIDER_CANCELLED", "rb1")
    assert then(bet) == []


def test_refunding_a_bet_records_the_cause() -> None:
    bet = given(Bet, placed())
    bet.refund("DEALER_ERROR", "rb1")
    assert then(bet) == [
        ("Refunded", {"cause": "DEALER_ERROR", "tx_id": "rb1", "reversed_payout": D(0)})
    ]
    assert (bet.status, bet.outcome) == ("REFUNDED", "VOID")


def test_a_bet_is_refunded_once() -> None:
    bet = given(Bet, placed())
    bet.refund("DEALER_ERROR")
    bet.collect_events()
    with refused(Refusal.BET_REFUNDED):
        bet.refund("DISPUTE")


@pytest.mark.parametrize(
    ("resolve", "code"),
    [
        (lambda b: b.settle("LOSE", D(0), None, "w1"), Refusal.BET_ALREADY_SETTLED),
        (lambda b: b.refund("DEALER_ERROR", "rb1"), Refusal.BET_REFUNDED),
        (lambda b: b.refund("LATE_BET"), Refusal.BETTING_CLOSED),
    ],
    ids=["settled", "refunded", "refunded as late"],
)
def test_a_resolved_bet_refuses_another_settlement_and_changes_nothing(
    resolve: Callable[[Bet], object], code: Refusal
) -> None:
    bet = given(Bet, history(Bet(**placed_fields()), resolve))
    with refused(code):
        bet.settle("WIN", D(20), None, "w2")
    assert then(bet) == []


# ---- TxRecord -------------------------------------------------------------------------


def test_a_transaction_is_remembered_with_its_reply_and_session() -> None:
    record = TxRecord.record("evo", "t1", "debit", "f", {"tx_ref": "trn"}, ["b"], "sess-1")
    [(name, fields)] = then(record)
    assert name == "Created"
    assert fields["reply"] == {"tx_ref": "trn"} and fields["tombstone_by"] == ""
    assert fields["session_id"] == record.session_id == "sess-1"


def test_a_rollback_before_its_transaction_leaves_a_tombstone() -> None:
    record = TxRecord.tombstone("evo", "t1", "rb1", "absorb")
    [(_, fields)] = then(record)
    assert (fields["reply"], fields["tombstone_by"], fields["late_original"]) == (
        None,
        "rb1",
        "absorb",
    )


def test_a_late_original_absorbed_by_its_tombstone_keeps_its_reply() -> None:
    record = given(TxRecord, history(TxRecord.tombstone("evo", "t1", "rb1", "absorb")))
    record.absorb("debit", "f", {"absorbed": True}, "sess-1")
    assert then(record) == [
        (
            "Absorbed",
            {
                "kind": "debit",
                "fingerprint": "f",
                "reply": {"absorbed": True},
                "session_id": "sess-1",
            },
        )
    ]


def test_a_rolled_back_transaction_remembers_which_rollback() -> None:
    record = given(TxRecord, history(TxRecord.record("evo", "t1", "debit", "f", {}, [])))
    record.mark_rolled_back("rb1")
    assert then(record) == [("RolledBack", {"by_tx": "rb1"})]


# ---- Round ----------------------------------------------------------------------------


def opened(seq: int = 1) -> BettingOpened:
    return builders.opened(table="T", seq=seq)


def result(seq: int, round_hash: str = "") -> ResultDeclared:
    return builders.declared({"number": "17"}, seq=seq, round_hash=round_hash)


def closed(seq: int = 2) -> BettingClosed:
    return builders.closed(seq=seq)


def ball(seq: int = 3) -> GameEvent:
    return GameEvent(
        provider="evo",
        round_id="r1",
        seq=seq,
        occurred_at=NOW,
        kind="ball_landed",
        data={"number": "17"},
    )


def round_of(*provider_events: AnyProviderEvent) -> Round:
    return given(
        Round,
        history(
            Round(provider="evo", round_id="r1"),
            *[functools.partial(Round.record, provider_event=e) for e in provider_events],
        ),
    )


def test_betting_opened_opens_the_round() -> None:
    round_ = round_of()
    round_.record(opened())
    [(name, fields)] = then(round_)
    assert (name, fields["seq"]) == ("EventRecorded", 1)
    assert (round_.status, round_.game, round_.table) == ("OPEN", "roulette", "T")


def test_betting_closed_closes_the_round() -> None:
    round_ = round_of(opened())
    round_.record(closed())
    assert [name for name, _ in then(round_)] == ["EventRecorded"]
    assert round_.status == "CLOSED" and round_.betting_closed


def test_a_repeated_provider_event_is_absorbed() -> None:
    round_ = round_of(opened(), closed())
    round_.record(closed())
    assert then(round_) == []


def test_a_repeat_written_otherwise_is_the_same_event_and_is_absorbed() -> None:
    """Keys in another order (a Go map) or the same instant at another UTC offset."""
    sent = builders.declared({"player": "6", "banker": "7"}, seq=3, at=NOW)
    round_ = round_of(opened(), closed(), sent)
    later = NOW.astimezone(timezone(timedelta(hours=1)))
    round_.record(builders.declared({"banker": "7", "player": "6"}, seq=3, at=later))
    assert then(round_) == []


def test_a_repeated_seq_with_another_payload_flags_the_round() -> None:
    round_ = round_of(opened(), closed())
    round_.record(ball(seq=2))
    assert then(round_) == [
        ("ConflictFlagged", {"flag": "seq 2 repeated with a different payload"})
    ]


def test_a_result_with_the_providers_matching_hash_verifies_the_round() -> None:
    round_ = round_of(opened(), closed(), ball())
    digest = round_digest([opened(), closed(), ball(), result(4)])
    round_.record(result(4, round_hash=digest))
    assert [name for name, _ in then(round_)] == ["EventRecorded", "Verified"]
    assert (round_.status, round_.verification, round_.audit_flags) == ("RESULT", "VERIFIED", [])


def test_a_result_whose_hash_differs_flags_the_round_for_audit() -> None:
    round_ = round_of(opened(), closed(), ball())
    round_.record(result(4, round_hash="f" * 64))
    assert round_.verification == "FLAGGED"
    assert "differs from the bridge digest" in round_.audit_flags[0]


def test_a_gap_in_the_providers_seq_flags_the_round_for_audit() -> None:
    round_ = round_of(opened(), closed())
    digest = round_digest([opened(), closed(), result(4)])
    round_.record(result(4, round_hash=digest))
    assert round_.verification == "FLAGGED"
    assert round_.audit_flags == ["gap in provider seq: missing 3"]


def test_the_missing_event_arriving_late_verifies_the_round_again() -> None:
    digest = round_digest([opened(), closed(), ball(), result(4)])
    round_ = round_of(opened(), closed(), result(4, round_hash=digest))
    round_.record(ball())
    assert [name for name, _ in then(round_)] == ["EventRecorded", "Verified"]
    assert round_.verification == "VERIFIED"


def test_a_result_without_a_hash_is_unhashed_not_flagged() -> None:
    round_ = round_of(opened(), closed())
    round_.record(result(3))
    assert round_.verification == "UNHASHED"


def test_a_void_closes_the_round_with_its_cause() -> None:
    round_ = round_of(opened())
    void = builders.voided("DEALER_ERROR", seq=2)
    round_.record(void)
    assert then(round_) == [("EventRecorded", {"seq": 2, "raw": encode_provider_event(void)})]
    assert (round_.status, round_.void_cause, round_.betting_closed) == (
        "VOIDED",
        "DEALER_ERROR",
        True,
    )


# ---- RoundBook ------------------------------------------------------------------------


def book_of(*commands: object) -> RoundBook:
    return given(RoundBook, history(RoundBook(provider="evo", round_id="r1"), *commands))  # type: ignore[arg-type]


def test_a_bet_the_log_orders_before_betting_closed_is_booked_on_time() -> None:
    book = book_of()
    assert book.book_bet(5, "bet-a") is False
    assert then(book) == [("BetBooked", {"position": 5, "bet": "bet-a", "late": False})]
    assert book.open_bets() == ["bet-a"]


def test_a_bet_the_log_orders_after_betting_closed_is_booked_late() -> None:
    book = book_of(lambda b: b.close(7))
    assert book.book_bet(8, "bet-a") is True
    assert then(book) == [("BetBooked", {"position": 8, "bet": "bet-a", "late": True})]
    assert book.open_bets() == []


def test_a_result_or_a_void_closes_betting_too() -> None:
    assert book_of(lambda b: b.see_result(3, {"number": "1"})).closed
    assert book_of(lambda b: b.see_void(3, "DISPUTE")).closed


def test_a_result_seen_by_the_book_records_it_and_closes_betting() -> None:
    book = book_of(lambda b: b.book_bet(5, "bet-a"))
    book.see_result(6, {"number": "17"})
    assert then(book) == [("ResultSeen", {"position": 6, "result": {"number": "17"}})]
    assert (book.result, book.closed_at, book.open_bets()) == ({"number": "17"}, 6, ["bet-a"])


def test_a_void_seen_by_the_book_records_its_cause_and_closes_betting() -> None:
    book = book_of(lambda b: b.book_bet(5, "bet-a"), lambda b: b.close(6))
    book.see_void(7, "STREAM_FAILURE")
    assert then(book) == [("VoidSeen", {"position": 7, "cause": "STREAM_FAILURE"})]
    assert (book.void_cause, book.closed_at) == ("STREAM_FAILURE", 6)  # closed at the close
    book.see_void(7, "STREAM_FAILURE")
    assert then(book) == []


def test_a_notification_applied_twice_changes_the_book_once() -> None:
    book = book_of(lambda b: b.book_bet(5, "bet-a"), lambda b: b.close(6))
    assert book.book_bet(5, "bet-a") is False
    book.close(6)
    book.resolve_bet(4, "bet-a")
    assert then(book) == []


def test_a_round_with_a_result_and_every_bet_resolved_is_settled() -> None:
    book = book_of(lambda b: b.book_bet(5, "bet-a"), lambda b: b.see_result(6, {"n": "1"}))
    assert not book.settled
    book.resolve_bet(7, "bet-a")
    assert then(book) == [("BetResolved", {"position": 7, "bet": "bet-a"})]
    assert book.settled


def test_bets_the_book_resolved_itself_are_done_at_once_without_moving_its_position() -> None:
    book = book_of(
        lambda b: b.book_bet(5, "bet-a"),
        lambda b: b.book_bet(6, "bet-b"),
        lambda b: b.see_result(7, {"n": "1"}),
    )
    book.resolve_here(["bet-a", "bet-b"])
    assert then(book) == [("BetsResolved", {"bets": ["bet-a", "bet-b"]})]
    assert (book.settled, book.position) == (True, 7)
    book.resolve_bet(8, "bet-a")  # the log's record of it, read later
    book.resolve_here(["bet-b"])
    assert then(book) == []
    assert book.book_bet(9, "bet-c") is True  # a bet the log put after the result is late


def test_a_bet_the_book_could_not_refund_is_flagged_for_audit_once() -> None:
    book = book_of(lambda b: b.book_bet(5, "bet-a"), lambda b: b.see_void(6, "DISPUTE"))
    book.flag_bet("bet-a", "VOID_UNRECOVERABLE: bet evo/a ...")
    book.flag_bet("bet-a", "VOID_UNRECOVERABLE: bet evo/a, again")
    assert then(book) == [
        ("BetFlagged", {"bet": "bet-a", "flag": "VOID_UNRECOVERABLE: bet evo/a ..."})
    ]
    assert book.audit_flags == ["VOID_UNRECOVERABLE: bet evo/a ..."]


def test_a_book_restored_from_a_snapshot_older_than_bet_flags_has_none() -> None:
    book = book_of(lambda b: b.book_bet(5, "bet-a"))
    del book.__dict__["bet_flags"]  # as a snapshot taken before flags existed restores it
    assert book.audit_flags == []
    book.flag_bet("bet-a", "VOID_UNRECOVERABLE")
    assert book.audit_flags == ["VOID_UNRECOVERABLE"]


def test_a_resolved_bet_whose_credit_is_rolled_back_is_open_in_the_book_again() -> None:
    book = book_of(
        lambda b: b.book_bet(5, "bet-a"),
        lambda b: b.see_result(6, {"n": "1"}),
        lambda b: b.resolve_bet(7, "bet-a"),
    )
    assert book.settled
    book.reopen_bet(8, "bet-a")
    book.reopen_bet(8, "bet-a")
    assert then(book) == [("BetReopened", {"position": 8, "bet": "bet-a"})]
    assert (book.open_bets(), book.settled) == (["bet-a"], False)


def test_the_book_cursor_only_moves_forward() -> None:
    cursor = given(BookCursor, history(BookCursor(), lambda c: c.advance(10)))
    cursor.advance(9)
    assert then(cursor) == []
    cursor.advance(11)
    assert then(cursor) == [("Advanced", {"position": 11})]
