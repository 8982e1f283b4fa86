"""The settle tracker remembers at most its bound of reported bets, each at its measured cost,
across a checkpoint too."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from decimal import Decimal

from contracts.platform import BetState
from contracts.wallet import Outcome
from services.platform.publisher import placed_reader
from services.platform.settle import REPORTED_BET_BYTES
from services.platform.settle import SettleTracker
from services.platform.settle import _RoundEnd
from tests.unit.ledger.support.builders import declared
from tests.unit.ledger.support.builders import opened
from tests.unit.ledger.support.builders import player_bet
from tests.unit.ledger.support.builders import player_credit
from tests.unit.ledger.support.builders import player_rollback
from tests.unit.ledger.support.builders import rollback
from tests.unit.ledger.support.memory import measured_bytes
from tests.unit.platform.support.settle_log import ledger
from tests.unit.platform.support.settle_log import logged
from tests.unit.platform.support.settle_log import played
from tests.unit.platform.support.settle_log import settlements


def test_reported_bets_are_bounded_and_cost_at_most_their_measured_size() -> None:
    app = ledger()
    for n in range(60):
        app.execute(player_bet(f"d{n}", "alice", "1.00", round_id=f"R-{n}"))
        app.execute(player_credit(f"c{n}", "alice", "0.00", round_id=f"R-{n}"))
    tracker = SettleTracker(reported_limit=40)
    assert len(settlements(app, tracker)) == 60
    assert len(tracker.reported) == 40
    assert "bet-d59" in {bet.bet_id for bet in tracker.reported.values()}  # the newest stay

    per_bet = measured_bytes(list(tracker.reported.values())) / len(tracker.reported)
    per_record = measured_bytes((tracker.records, tracker._record_order)) / len(tracker.records)
    rounds = OrderedDict(  # a roulette round's result, as `rounds` remembers one
        (f"evo\x00R-{n:06d}", _RoundEnd(result={"number": str(n % 37), "color": "red"}))
        for n in range(200)
    )
    per_round = measured_bytes(rounds) / len(rounds)
    assert 200 < per_bet + per_record + per_round / 4 <= REPORTED_BET_BYTES, (
        per_bet,
        per_record,
        per_round,
    )
    assert len(tracker.records) <= tracker.record_limit

    restored, _ = SettleTracker.restore(tracker.checkpoint(1), reported_limit=10)
    assert len(restored.reported) == 10 and restored.reported_limit == 10


def test_a_rounds_result_is_remembered_as_long_as_one_of_its_bets() -> None:
    """Results used to stay for thousands of rounds after their bets were forgotten, filling
    at the pace of rounds for an hour of play (issue 17): now a result goes with its round's
    last remembered bet, and a round nobody here bet on leaves nothing."""
    app = ledger(BRIDGE_SETTLED_PROVIDERS="evo")
    red = (("roulette_red", ""),)
    for n in range(12):
        bet = player_bet(f"d{n}", "alice", "1.00", round_id=f"R-{n}", picks=red)
        played(app, f"R-{n}", {"number": str(n)}, bet)
    for n in range(12, 20):  # rounds without a bet here
        app.record_event(opened(f"R-{n}"))
        app.record_event(declared({"number": str(n)}, f"R-{n}"))
    tracker = SettleTracker(reported_limit=3)

    told = settlements(app, tracker)

    assert [s.result for s in told] == [{"number": str(n)} for n in range(12)]
    assert [key.split("\x1f")[1] for key in tracker.rounds] == ["R-9", "R-10", "R-11"]
    restored, _ = SettleTracker.restore(tracker.checkpoint(1), reported_limit=1)
    assert [key.split("\x1f")[1] for key in restored.rounds] == ["R-11"]


def test_a_reversal_of_a_bet_reported_beyond_the_bound_is_still_told() -> None:
    """The platform hears of a rollback of a win and of a refund of a settled bet however
    long ago the bet was reported: the tracker reads a forgotten bet back from the log."""
    app = ledger()
    for n in range(6):
        app.execute(player_bet(f"d{n}", "alice", "2.00", round_id=f"R-{n}"))
        app.execute(player_credit(f"c{n}", "alice", "5.00", round_id=f"R-{n}"))
    app.execute(rollback("r1", "c1", player="alice"))  # bet-d1's win undone: reopened
    app.execute(player_credit("c1-fixed", "alice", "3.00", round_id="R-1"))
    app.execute(rollback("r0", "d0", player="alice"))  # bet-d0 itself cancelled: refunded

    remembering = settlements(app, SettleTracker())
    forgetful = SettleTracker(reported_limit=1, recall=placed_reader(app))
    told = settlements(app, forgetful)

    assert len(forgetful.reported) == 1
    assert told == remembering
    reversals = told[6:]
    assert [[(b.bet_id, b.status, b.outcome) for b in s.bets] for s in reversals] == [
        [("bet-d1", BetState.REOPENED, Outcome.LOSE)],
        [("bet-d1", BetState.SETTLED, Outcome.WIN)],
        [("bet-d0", BetState.SETTLED, Outcome.VOID)],
    ]
    assert told[-1].transactions[0].amount == Decimal("5.00")  # the payout taken back
    assert placed_reader(app)(uuid.uuid4().hex) is None


def test_a_round_whose_bet_was_refunded_long_before_its_end_is_told_whatever_the_bound() -> None:
    """A bet refunded early by its own rollback is complete on its own state: its round is
    told, and leaves the tracker's memory, however many transaction records (more than
    `record_limit`) pass before the round's last credit, across a checkpoint too."""
    app = ledger()
    app.execute(player_bet("d1", "alice", "5.00"))
    app.execute(player_bet("d2", "alice", "3.00"))
    app.execute(player_rollback("rb1", "alice", "d1"))  # bet-d1 refunded, its record rb1
    for n in range(4):  # bob's rounds: more records than the forgetful tracker keeps
        app.execute(player_bet(f"x{n}", "bob", "0.01", round_id=f"B-{n}"))
        app.execute(player_credit(f"y{n}", "bob", "0.00", round_id=f"B-{n}"))
    app.execute(player_credit("c1", "alice", "6.00"))  # alice's round ends: bet-d2 wins
    *before, last = logged(app)

    forgetful = SettleTracker(reported_limit=2)
    told = [s for position, event in before for s in forgetful.apply(position, event)]
    resumed, _ = SettleTracker.restore(forgetful.checkpoint(before[-1][0]), reported_limit=2)
    told += resumed.apply(*last)

    assert forgetful.record_limit < 8
    assert told == settlements(app)
    alice = told[-1]
    assert alice.player == "alice"
    assert [(b.bet_id, b.outcome) for b in alice.bets] == [
        ("bet-d1", Outcome.VOID),
        ("bet-d2", Outcome.WIN),
    ]
    assert alice.balance_after == app.balance("alice", "EUR").balance
    assert resumed.open_bets == {} and resumed.groups == {} and resumed.waiting == {}
