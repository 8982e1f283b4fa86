"""round.settle tells the platform when a reported win is rolled back and its bet reopens.

The ledger's rollback of a win undoes that credit only: the payout goes back, the stake is
held again and the bet awaits a corrected credit. The platform heard the earlier
settlement, so it hears, exactly once, that it no longer stands; the movements of every
settlement of the player add up to the ledger's balance, and no transaction id repeats.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from contracts.platform import BetState
from contracts.platform import RoundSettle
from contracts.platform import TransactionType
from contracts.wallet import Outcome
from services.ledger.application import Ledger
from services.ledger.application import record_ref
from services.platform.settle import SettleTracker
from tests.unit.ledger.support.builders import player_bet
from tests.unit.ledger.support.builders import player_credit
from tests.unit.ledger.support.builders import player_rollback
from tests.unit.platform.support.settle_log import ledger
from tests.unit.platform.support.settle_log import logged
from tests.unit.platform.support.settle_log import settlements


def moved(settle: RoundSettle) -> Decimal:
    return sum(
        (t.amount if t.type is TransactionType.CREDIT else -t.amount for t in settle.transactions),
        Decimal(0),
    )


def assert_adds_up(app: Ledger, seen: Sequence[RoundSettle]) -> None:
    """From the deposit on, the platform's sum of movements is each balanceAfter in turn."""
    balance = Decimal("100.00")
    for settle in seen:
        balance += moved(settle)
        assert settle.balance_after == balance, settle
    assert balance == app.balance("alice", "EUR").balance
    ids = [t.id for s in seen for t in s.transactions]
    assert len(ids) == len(set(ids)), ids


def test_a_reported_win_rolled_back_is_told_at_once_with_the_reversed_payout() -> None:
    app = ledger()
    app.execute(player_bet("d2", "alice", "4.00", "R-2"))
    app.execute(player_credit("c2", "alice", "8.00", "R-2"))
    app.execute(player_rollback("r2", "alice", "c2", "R-2"))

    win, reopened = settlements(app)

    assert [(b.bet_id, b.status) for b in win.bets] == [("bet-d2", BetState.SETTLED)]
    assert reopened.round_id == "R-2" and reopened.player == "alice"
    assert [(b.bet_id, b.stake, b.payout, b.outcome, b.status) for b in reopened.bets] == [
        ("bet-d2", Decimal("4.00"), Decimal("0"), Outcome.LOSE, BetState.REOPENED)
    ]
    assert [(t.id, t.type, t.amount, t.provider_tx_id) for t in reopened.transactions] == [
        (record_ref("evo", "r2"), TransactionType.DEBIT, Decimal("8.00"), "r2"),
        (reopened.transactions[1].id, TransactionType.CREDIT, Decimal("4.00"), ""),  # held again
    ]
    assert reopened.balance_after == Decimal("100.00")
    assert reopened.event_id != win.event_id
    assert_adds_up(app, [win, reopened])


def test_the_corrected_credit_settles_the_reopened_bet_and_everything_adds_up() -> None:
    app = ledger()
    app.execute(player_bet("d2", "alice", "4.00", "R-2"))
    app.execute(player_credit("c2", "alice", "8.00", "R-2"))
    app.execute(player_rollback("r2", "alice", "c2", "R-2"))
    app.execute(player_credit("c2-fixed", "alice", "6.00", "R-2"))
    app.execute(player_rollback("r3", "alice", "c2-fixed", "R-2"))  # reopened a second time
    app.execute(player_credit("c2-final", "alice", "0.00", "R-2"))

    win, reopened, corrected, again, lost = settlements(app)

    assert [(b.payout, b.outcome, b.status) for b in corrected.bets] == [
        (Decimal("6.00"), Outcome.WIN, BetState.SETTLED)
    ]
    assert [b.status for b in again.bets] == [BetState.REOPENED]
    assert [(b.payout, b.outcome) for b in lost.bets] == [(Decimal("0.00"), Outcome.LOSE)]
    assert corrected.transactions[-1].provider_tx_id == "c2-fixed"
    assert_adds_up(app, [win, reopened, corrected, again, lost])


def test_a_reopened_bet_then_refunded_adds_up() -> None:
    app = ledger()
    app.execute(player_bet("d2", "alice", "4.00", "R-2"))
    app.execute(player_credit("c2", "alice", "8.00", "R-2"))
    app.execute(player_rollback("r2", "alice", "c2", "R-2"))
    app.execute(player_rollback("r4", "alice", "d2", "R-2"))  # the bet itself cancelled

    win, reopened, void = settlements(app)

    assert [(b.outcome, b.payout) for b in void.bets] == [(Outcome.VOID, Decimal("4.00"))]
    assert_adds_up(app, [win, reopened, void])


def test_each_reopening_is_told_once_across_replays_and_restarts() -> None:
    app = ledger()
    app.execute(player_bet("d2", "alice", "4.00", "R-2"))
    app.execute(player_credit("c2", "alice", "8.00", "R-2"))
    app.execute(player_rollback("r2", "alice", "c2", "R-2"))
    first = settlements(app)
    events = logged(app)
    # A restart from a checkpoint taken between the reopening and its transaction record.
    reopened_at = next(p for p, event in events if type(event).__name__ == "Reopened")
    tracker, out = SettleTracker(), []
    for p, event in events:
        if p <= reopened_at:
            out += tracker.apply(p, event)
    tracker, position = SettleTracker.restore(tracker.checkpoint(reopened_at))
    for p, event in events:
        if p > position:
            out += tracker.apply(p, event)

    assert [s.event_id for s in settlements(app)] == [s.event_id for s in first]
    assert out == first
    assert len({s.event_id for s in first}) == 2
