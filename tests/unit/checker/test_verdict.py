"""The checker judges a real ledger's log clean, and catches every defect planted in it.

The log is written by the real `Ledger` (in memory): a round of two bets, settled, with a
rollback that came first; the history says what a provider offered and was answered.
Then one defect at a time is planted in the log, the history or the view, and the
checker must report it: a checker that cannot fail is worthless.
"""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import msgspec

from services.checker.history import Attempt
from services.checker.log import StoredEvent
from services.checker.log import decode
from services.checker.verdict import judge
from services.ledger.application import Ledger
from tests.unit.checker.support.attempts import wallet_call
from tests.unit.ledger.support.builders import closed
from tests.unit.ledger.support.builders import credit
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import declared
from tests.unit.ledger.support.builders import opened
from tests.unit.ledger.support.builders import popo_ledger
from tests.unit.ledger.support.builders import rollback


def run_a_round() -> Ledger:
    ledger = popo_ledger()
    for player, amount in (("p1", "100.00"), ("p2", "20.00")):
        ledger.open_wallet(player, "EUR")
        ledger.deposit(player, "EUR", Decimal(amount), tx_id=f"casino:dep-{player}")
    ledger.record_event(opened())
    ledger.execute(debit("t1", "10.00", player="p1"))
    ledger.execute(debit("t2", "5.00", player="p2"))
    ledger.execute(rollback("rb-t9", "t9", player="p2"))
    ledger.record_event(closed())
    ledger.record_event(declared({"number": "17"}))
    ledger.execute(credit("w1", "360.00", player="p1"))
    ledger.execute(credit("w2", "0", player="p2"))
    return ledger


def log_of(ledger: Ledger) -> list[StoredEvent]:
    events = []
    for n in ledger.recorder.select_notifications(1, 100_000):
        headers = {"ES-Topic": n.topic, "ES-Version": str(n.originator_version)}
        event = decode(n.id, f"LB_LEDGER.e.{n.originator_id}", headers, n.state)
        assert event is not None
        events.append(event)
    return events


def cashier(player: str) -> Attempt:
    """A deposit through the platform API by operator `casino` (kept as `casino:<key>`)."""
    body = {"idempotencyKey": f"dep-{player}", "currency": "EUR", "amount": "1.00"}
    return Attempt(kind="cashier", provider="casino", body=json.dumps(body), status=201)


def feed(round_id: str, *seqs: int, status: int | None = 200) -> Attempt:
    events = [{"type": "round.game_event", "round_id": round_id, "seq": s} for s in seqs]
    return Attempt(
        kind="feed",
        provider="evo",
        body=json.dumps({"events": events}),
        status=status,
        error="" if status else "timeout",
    )


HISTORY = [
    cashier("p1"),
    cashier("p2"),
    feed("r1", 1, 2, 3),
    Attempt(kind="cashier", provider="cashier", body=json.dumps({"tx_id": "never"}), error="x"),
    wallet_call("t1"),
    wallet_call("t1"),  # the provider resent it: one operation, one effect
    wallet_call("t2", error="timeout"),  # indefinite, and it landed: fine once
    wallet_call("rb-t9"),
    wallet_call("w1"),
    wallet_call("w2", error="connection reset"),  # indefinite, in the log once
    wallet_call("t8", "RS_ERROR_NOT_ENOUGH_MONEY"),  # refused, absent
    wallet_call("t9", error="timeout"),  # indefinite and absent (a tombstone is no effect)
]


def view_of(ledger: Ledger) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    rows = {}
    for player in ("p1", "p2"):
        balance = ledger.balance(player, "EUR")
        rows[player, "EUR"] = (balance.balance, balance.balance - balance.available)
    return rows


def test_a_clean_run_is_judged_clean_with_every_operation_counted() -> None:
    ledger = run_a_round()
    verdict = judge(HISTORY, log_of(ledger), view_of(ledger))
    assert verdict.summary()["examples"] == []
    assert verdict.ok
    assert (verdict.offered, verdict.acknowledged, verdict.refused, verdict.indefinite) == (
        13,
        8,
        1,
        4,
    )
    assert verdict.indefinite_present == 2


def test_a_duplicated_debit_written_into_the_log_is_reported() -> None:
    log = log_of(run_a_round())
    write = [e for e in log if e.state.get("tx_id") == "t1" or e.state.get("bet") == "evo:t1"]
    kinds = sorted(e.kind for e in write)
    assert "TxRecord.Created" in kinds and "Bet.Placed" in kinds, kinds
    again = [replace(e, seq=1000 + i, aggregate=f"{e.aggregate}-twin") for i, e in enumerate(write)]
    verdict = judge(HISTORY, log + again)
    assert not verdict.ok
    assert any("t1" in line and "twice" in line for line in verdict.duplicated), verdict.duplicated
    assert any("times" in line for line in verdict.duplicated)


def test_an_acknowledged_operation_missing_from_the_log_is_lost() -> None:
    log = [e for e in log_of(run_a_round()) if e.state.get("tx_id") != "w1"]
    verdict = judge(HISTORY, log)
    assert verdict.lost == ["tx evo/w1: acknowledged, not in the log (I6)"]


def test_an_acknowledged_game_event_missing_from_the_log_is_lost() -> None:
    verdict = judge([*HISTORY, feed("r1", 4)], log_of(run_a_round()))
    assert verdict.lost == ["event evo/r1/4: acknowledged, not in the log (I6)"]
    assert judge([*HISTORY, feed("r1", 4, status=None)], log_of(run_a_round())).ok


def test_a_game_event_the_push_feed_held_is_acknowledged_and_lost_when_never_recorded() -> None:
    held = msgspec.structs.replace(
        feed("r1", 4), answer=json.dumps({"accepted": 0, "duplicates": 0, "held": 1})
    )
    verdict = judge([*HISTORY, held], log_of(run_a_round()))
    assert verdict.lost == ["event evo/r1/4: acknowledged, not in the log (I6)"]


def test_an_overdraft_is_a_violation() -> None:
    log = log_of(run_a_round())
    opened_p2 = next(e for e in log if e.kind == "Wallet.Opened" and e.state["player"] == "p2")
    amount = Decimal("1000.00")
    overdraw = StoredEvent(
        seq=999,
        aggregate=opened_p2.aggregate,
        version=99,
        kind="Wallet.Withdrawn",
        state={
            "tx_ref": "trn_x",
            "amount": amount,
            "account": "cashier",
            "postings": {"player:p2": -amount, "cashier": amount},
        },
    )
    verdict = judge(HISTORY, [*log, overdraw])
    assert any("overdrawn" in v and "(I2)" in v for v in verdict.violations), verdict.violations


def test_postings_that_do_not_balance_break_conservation() -> None:
    log = log_of(run_a_round())
    win = next(e for e in log if e.kind == "Wallet.WinCredited")
    bent = replace(win, state={**win.state, "postings": {"player:p1": win.state["amount"]}})
    verdict = judge(HISTORY, [bent if e is win else e for e in log])
    assert sum("(I1)" in v for v in verdict.violations) >= 2, verdict.violations


def test_a_refused_operation_found_in_the_log_is_a_violation() -> None:
    history = [
        msgspec.structs.replace(a, answer=json.dumps({"status": "RS_ERROR_X"}))
        if "t1" in a.body
        else a
        for a in HISTORY
    ]
    verdict = judge(history, log_of(run_a_round()))
    assert verdict.violations == ["tx evo/t1: refused, yet in the log (I3)"]


def test_a_hold_resolved_twice_and_a_bet_settled_twice_are_violations() -> None:
    log = log_of(run_a_round())
    captured = next(e for e in log if e.kind == "Wallet.HoldCaptured")
    settled = next(e for e in log if e.kind == "Bet.Settled")
    verdict = judge(HISTORY, [*log, replace(captured, seq=998), replace(settled, seq=999)])
    assert any("holds nothing (I4)" in v for v in verdict.violations), verdict.violations
    assert any("settled while settled (I4)" in v for v in verdict.violations)


def test_a_bet_the_log_puts_after_its_round_closed_must_end_refunded() -> None:
    log = log_of(run_a_round())
    placed = next(e for e in log if e.kind == "Bet.Placed")
    late = replace(placed, seq=997, aggregate="late", state={**placed.state, "bet_id": "late"})
    verdict = judge(HISTORY, [*log, late])
    assert any("after its round closed" in v and "(I5)" in v for v in verdict.violations)


def test_a_view_that_differs_from_the_log_is_a_violation() -> None:
    ledger = run_a_round()
    view = view_of(ledger)
    view["p1", "EUR"] = (view["p1", "EUR"][0] + 1, view["p1", "EUR"][1])
    view["ghost", "EUR"] = (Decimal(0), Decimal(0))
    verdict = judge(HISTORY, log_of(ledger), view)
    assert len(verdict.violations) == 2
    assert all("(I7)" in v for v in verdict.violations)


def test_money_in_the_log_that_no_one_offered_is_a_violation() -> None:
    history = [a for a in HISTORY if "w1" not in a.body]
    verdict = judge(history, log_of(run_a_round()))
    assert verdict.violations == ["tx evo/w1: in the log, never offered"]
