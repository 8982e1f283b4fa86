"""round.settle from the ledger's own log (in-memory persistence): what is emitted, and when."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from contracts.platform import DECODER
from contracts.platform import ENCODER
from contracts.platform import TransactionType
from contracts.wallet import Outcome
from services.platform.publisher import log_reader
from services.platform.settle import SettleTracker
from tests.unit.ledger.support.builders import opened
from tests.unit.ledger.support.builders import player_bet
from tests.unit.ledger.support.builders import player_credit
from tests.unit.ledger.support.builders import player_rollback
from tests.unit.ledger.support.builders import voided
from tests.unit.platform.support.settle_log import ledger
from tests.unit.platform.support.settle_log import logged
from tests.unit.platform.support.settle_log import played
from tests.unit.platform.support.settle_log import settlements


def test_a_players_round_settles_once_every_bet_is_paid_with_the_balance_after() -> None:
    app = ledger()
    app.execute(player_bet("d1", "alice", "5.00"))
    app.execute(player_bet("d2", "alice", "3.00"))
    app.execute(player_bet("d3", "bob", "10.00"))
    assert settlements(app) == []
    app.execute(player_credit("c1", "alice", "12.00"))  # both of alice's bets, one credit
    app.execute(player_credit("c2", "bob", "0.00"))  # bob lost

    alice, bob = settlements(app)

    assert alice.player == "alice" and alice.round_id == "R-1" and alice.provider == "evo"
    assert [(b.bet_id, b.stake, b.payout, b.outcome) for b in alice.bets] == [
        ("bet-d1", Decimal("5.00"), Decimal("7.50"), Outcome.WIN),
        ("bet-d2", Decimal("3.00"), Decimal("4.50"), Outcome.WIN),
    ]
    assert [(t.type, t.amount, t.provider_tx_id) for t in alice.transactions] == [
        ("DEBIT", Decimal("5.00"), "d1"),
        ("DEBIT", Decimal("3.00"), "d2"),
        ("CREDIT", Decimal("12.00"), "c1"),
    ]
    assert alice.balance_after == app.balance("alice", "EUR").balance == Decimal("104.00")
    assert [b.outcome for b in bob.bets] == [Outcome.LOSE]
    assert bob.balance_after == Decimal("90.00")
    assert alice.event_id != bob.event_id
    assert alice.log_position < bob.log_position


def test_the_wire_body_is_the_documented_camel_case_json() -> None:
    app = ledger()
    app.execute(player_bet("d1", "alice", "5.00"))
    app.execute(player_credit("c1", "alice", "7.50"))
    (settle,) = settlements(app)
    body = msgspec.json.decode(ENCODER.encode(settle))
    assert body["event"] == "round.settle"
    assert body["roundId"] == "R-1"
    assert body["bets"] == [
        {
            "betId": "bet-d1",
            "stake": "5.00",
            "payout": "7.50",
            "outcome": "WIN",
            "cause": "",
            "status": "SETTLED",
        }
    ]
    assert body["transactions"][1] == {
        "id": settle.transactions[1].id,
        "type": "CREDIT",
        "amount": "7.50",
        "providerTxId": "c1",
    }
    assert body["balanceAfter"] == "102.50"
    assert body["eventId"].startswith("rs_")
    assert DECODER.decode(ENCODER.encode(settle)) == settle


def test_replaying_the_log_gives_the_same_event_ids() -> None:
    app = ledger()
    app.execute(player_bet("d1", "alice", "5.00"))
    app.execute(player_bet("d2", "bob", "5.00"))
    app.execute(player_credit("c1", "alice", "0.00"))
    app.execute(player_credit("c2", "bob", "10.00"))
    first, again = settlements(app), settlements(app)
    assert [s.player for s in first] == ["alice", "bob"]
    assert len({s.event_id for s in first}) == 2
    assert [s.event_id for s in again] == [s.event_id for s in first]


def test_a_rolled_back_credit_reopens_the_bet_and_its_correction_settles_it_again() -> None:
    app = ledger()
    app.execute(player_bet("d1", "alice", "5.00"))
    app.execute(player_rollback("r1", "alice", "d1", "R-1"))
    app.execute(player_bet("d2", "alice", "4.00", round_id="R-2"))
    app.execute(player_credit("c2", "alice", "8.00", round_id="R-2"))
    # The provider rolls its credit back: the bet is open again, and the platform is told
    # (tests/unit/platform/test_settle_reopen.py); nothing is settled yet.
    app.execute(player_rollback("r2", "alice", "c2", "R-2"))
    void, win, reopened = settlements(app)
    # Then the corrected credit settles it again.
    app.execute(player_credit("c2-fixed", "alice", "6.00", round_id="R-2"))

    *_, corrected = settlements(app)

    assert [(b.outcome, b.payout) for b in void.bets] == [(Outcome.VOID, Decimal("5.00"))]
    assert void.balance_after == Decimal("100.00")
    assert [(b.outcome, b.payout) for b in win.bets] == [(Outcome.WIN, Decimal("8.00"))]
    assert win.balance_after == Decimal("104.00")
    assert corrected.round_id == "R-2"
    assert [(b.outcome, b.payout) for b in corrected.bets] == [(Outcome.WIN, Decimal("6.00"))]
    moves = [(t.type, t.amount, t.provider_tx_id) for t in reopened.transactions]
    assert moves == [
        (TransactionType.DEBIT, Decimal("8.00"), "r2"),  # the reversed credit, taken back
        (TransactionType.CREDIT, Decimal("4.00"), ""),  # the stake, held again
    ]
    moves = [(t.type, t.amount, t.provider_tx_id) for t in corrected.transactions]
    assert moves == [
        (TransactionType.DEBIT, Decimal("4.00"), ""),  # the stake, taken again
        (TransactionType.CREDIT, Decimal("6.00"), "c2-fixed"),
    ]
    # The platform's sum of the round's movements lands on the ledger's balance.
    assert win.balance_after - Decimal("8.00") + Decimal("4.00") == reopened.balance_after
    assert reopened.balance_after - Decimal("4.00") + Decimal("6.00") == corrected.balance_after
    assert corrected.balance_after == app.balance("alice", "EUR").balance == Decimal("102.00")
    assert corrected.event_id != win.event_id


def test_a_win_refunded_after_it_was_reported_settles_again_as_void() -> None:
    app = ledger(BRIDGE_SETTLED_PROVIDERS="evo")

    bet = player_bet("d9", "alice", "5.00", round_id="R-9", picks=(("roulette_red", ""),))
    played(app, "R-9", {"number": "1"}, bet)
    app.record_event(voided("DEALER_ERROR", "R-9", seq=4))

    win, void = settlements(app)

    assert [(b.outcome, b.payout) for b in win.bets] == [(Outcome.WIN, Decimal("10.00"))]
    assert [(b.outcome, b.payout) for b in void.bets] == [(Outcome.VOID, Decimal("5.00"))]
    assert void.balance_after == app.balance("alice", "EUR").balance == Decimal("100.00")
    assert void.event_id != win.event_id


def test_a_round_the_bridge_settles_and_a_voided_round_settle_every_player() -> None:
    app = ledger(BRIDGE_SETTLED_PROVIDERS="evo")

    red, black = (("roulette_red", ""),), (("roulette_black", ""),)
    played(
        app,
        "R-1",
        {"number": "1"},
        player_bet("d1", "alice", "5.00", picks=red),
        player_bet("d2", "bob", "2.00", picks=black),
    )
    app.record_event(opened("R-2"))
    app.execute(player_bet("d3", "alice", "1.00", round_id="R-2"))
    app.record_event(voided("DEALER_ERROR", "R-2", seq=2))

    got = {(s.round_id, s.player): s for s in settlements(app)}

    assert set(got) == {("R-1", "alice"), ("R-1", "bob"), ("R-2", "alice")}
    assert got["R-1", "alice"].bets[0].outcome is Outcome.WIN
    assert got["R-1", "alice"].game == "roulette" and got["R-1", "alice"].table == "T1"
    assert got["R-1", "bob"].bets[0].outcome is Outcome.LOSE
    assert got["R-1", "bob"].balance_after == Decimal("98.00")
    assert got["R-2", "alice"].bets[0].outcome is Outcome.VOID
    assert got["R-2", "alice"].balance_after == app.balance("alice", "EUR").balance
    # The round's result and a void's cause travel with the settlement.
    assert got["R-1", "bob"].result == {"number": "1"} and got["R-1", "bob"].void_cause == ""
    assert got["R-1", "alice"].bets[0].cause == ""
    assert got["R-2", "alice"].void_cause == "DEALER_ERROR"
    assert got["R-2", "alice"].bets[0].cause == "DEALER_ERROR"
    assert got["R-2", "alice"].result == {}


def test_the_publisher_decodes_only_what_the_tracker_needs_and_gets_the_same_settlements() -> None:
    app = ledger(BRIDGE_SETTLED_PROVIDERS="evo")
    app.execute(player_bet("d1", "alice", "5.00"))
    app.execute(player_bet("d2", "bob", "5.00"))
    app.execute(player_credit("c1", "alice", "10.00"))
    app.execute(player_rollback("r2", "bob", "d2"))
    tracker, out = SettleTracker(), []
    for position, event, _trace in log_reader(app)(1, 10_000):
        if event is not None:
            out += tracker.apply(position, event)
    assert out == settlements(app)
    assert len(out) == 2


def test_a_tracker_restored_from_a_checkpoint_anywhere_carries_on_identically() -> None:
    app = ledger()
    app.execute(player_bet("d1", "alice", "5.00"))
    app.execute(player_bet("d2", "bob", "5.00"))
    app.execute(player_bet("d3", "alice", "1.00", round_id="R-2"))
    app.execute(player_credit("c1", "alice", "10.00"))
    app.execute(player_credit("c3", "alice", "0.00", round_id="R-2"))
    app.execute(player_rollback("r1", "alice", "c1", "R-1"))
    app.execute(player_credit("c2", "bob", "2.50"))
    app.record_event(opened("R-3"))
    app.execute(player_bet("d4", "bob", "1.00", round_id="R-3"))
    app.record_event(voided("NO_DEALER", "R-3", seq=2))
    events = logged(app)
    whole = settlements(app)
    for cut in range(len(events) + 1):
        first, rest = SettleTracker(), []
        for position, event in events[:cut]:
            rest += first.apply(position, event)
        resumed, position = SettleTracker.restore(
            first.checkpoint(events[cut - 1][0] if cut else 0)
        )
        assert resumed == first
        assert position == (events[cut - 1][0] if cut else 0)
        for p, event in events[cut:]:
            rest += resumed.apply(p, event)
        assert rest == whole, cut
