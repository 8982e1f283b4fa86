"""Rounds the bridge ends in its own words, judged: the transactions it adds or matches by
bet are explained by what the provider offered.

The log is written by the real `Ledger` (in memory) with the commands the edge makes of
each call; the history holds the calls as the simulator's clients build them.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from contracts.wallet import Credit
from contracts.wallet import Refusal
from services.checker.history import Attempt
from services.checker.verdict import judge
from services.ledger.application import Ledger
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.evolution import EvolutionClient
from services.simulate.clients.softswiss import SoftSwissClient
from services.simulate.clients.softswiss import bet as ss_bet
from services.simulate.clients.softswiss import rollback as ss_rollback
from services.simulate.clients.softswiss import win as ss_win
from tests.unit.checker.test_dialects import Canned
from tests.unit.checker.test_verdict import log_of
from tests.unit.checker.test_verdict import view_of
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import opened
from tests.unit.ledger.support.builders import popo_ledger
from tests.unit.ledger.support.builders import rollback
from tests.unit.ledger.support.refusals import refused

STAKE = Decimal("10.00")
SOFTSWISS = SoftSwissClient(Canned(None), "ss-token")
EVOLUTION = EvolutionClient(Canned(None), "evo-token")


def answered(
    provider: str, dialect: str, call: PreparedCall, status: int, answer: dict[str, Any]
) -> Attempt:
    """`call` as `provider` sent it in `dialect`, and its answer."""
    return Attempt(
        kind="wallet",
        provider=provider,
        dialect=dialect,
        path=call.path,
        query=dict(call.query),
        body=call.body.decode(),
        status=status,
        answer=json.dumps(answer),
    )


def evolution(path: str, tx_id: str, status: str) -> Attempt:
    """p1's Evolution `path` call under `tx_id` for bet b1 in round r1, answered `status`."""
    call = EVOLUTION.transaction_call(
        path,
        sid="s",
        user="p1",
        currency="EUR",
        game_id="r1",
        tx_id=tx_id,
        ref_id="b1",
        amount=STAKE,
    )
    return answered("evo", "evolution", call, 200, {"status": status})


def funded_ledger(provider: str) -> Ledger:
    """p1 (100 EUR) and p2 (20 EUR), round r1 of `provider` open for bets."""
    ledger = popo_ledger()
    for player, amount in (("p1", "100.00"), ("p2", "20.00")):
        ledger.open_wallet(player, "EUR")
        ledger.deposit(player, "EUR", Decimal(amount), tx_id=f"casino:dep-{player}")
    ledger.record_event(opened(provider=provider))
    return ledger


def closing_zero_credit(tx_id: str, player: str) -> Credit:
    """A zero credit closing round r1 at SoftSwiss: a `/play` finished on a zero win, or
    the one the edge adds to a `/play` finished on a bet (`finished:<game_id>:<user_id>`),
    which settles the player's open bets in it as lost."""
    return Credit(
        provider="softswiss",
        tx_id=tx_id,
        player=player,
        currency="EUR",
        amount=Decimal(0),
        round_id="r1",
        closes_round=True,
    )


def softswiss_play(player: str, *actions: dict[str, Any], done: bool) -> Attempt:
    call = SOFTSWISS.play_call(
        user=player, currency="EUR", round_id="r1", actions=actions, finished=done
    )
    return answered("softswiss", "softswiss", call, 200, {"balance": 0, "transactions": []})


def test_a_softswiss_round_finished_on_its_bet_is_judged_clean_with_its_zero_credit_offered() -> (
    None
):
    # Acceptance scenario C for p1: one bet, `finished`, no win; p2 bets, then wins nothing.
    ledger = funded_ledger("softswiss")
    ledger.execute(debit("a2", "10.00", player="p2", provider="softswiss"))
    ledger.execute(debit("a1", "10.00", player="p1", provider="softswiss"))
    ledger.execute(closing_zero_credit("finished:r1:p1", "p1"))
    ledger.execute(closing_zero_credit("w2", "p2"))
    # The round is over: a rollback of p1's lost bet still gives the stake back.
    ledger.execute(rollback("rb-a1", "a1", player="p1", provider="softswiss"))
    undo = SOFTSWISS.rollback_call(
        user="p1", currency="EUR", round_id="r1", actions=[ss_rollback("rb-a1", "a1")]
    )
    history = [
        softswiss_play("p2", ss_bet("a2", STAKE, "EUR"), done=False),
        softswiss_play("p1", ss_bet("a1", STAKE, "EUR"), done=True),
        softswiss_play("p1", ss_bet("a1", STAKE, "EUR"), done=True),  # resent: one operation
        softswiss_play("p2", ss_win("w2", Decimal(0), "EUR"), done=True),
        answered("softswiss", "softswiss", undo, 200, {"balance": 10000, "transactions": []}),
    ]
    verdict = judge(history, log_of(ledger), view_of(ledger))
    assert verdict.summary()["examples"] == []
    assert (verdict.offered, verdict.acknowledged) == (5, 5), "a2, a1, finished:r1:p1, w2, rb-a1"
    assert ledger.balance("p1", "EUR").available == Decimal("100.00")


def test_a_softswiss_zero_credit_no_play_finished_on_a_bet_asked_for_is_reported() -> None:
    ledger = funded_ledger("softswiss")
    ledger.execute(debit("a1", "10.00", player="p1", provider="softswiss"))
    ledger.execute(closing_zero_credit("finished:r1:p1", "p1"))
    unfinished = softswiss_play("p1", ss_bet("a1", STAKE, "EUR"), done=False)
    verdict = judge([unfinished], log_of(ledger))
    assert verdict.violations == ["tx softswiss/finished:r1:p1: in the log, never offered"]


def test_an_evolution_cancel_under_a_new_id_is_the_offered_cancel_that_refunded_the_bet() -> None:
    ledger = funded_ledger("evo")
    ledger.execute(debit("d1", "10.00", bet_id="b1"))
    # Evolution's test tool cancels the bet under a fresh id, then again under another.
    ledger.execute(rollback("cancel:c1", "c1", ref_bet_id="b1", only_open=True))
    with refused(Refusal.BET_REFUNDED):
        ledger.execute(rollback("cancel:c2", "c2", ref_bet_id="b1", only_open=True))
    history = [
        evolution("debit", "d1", "OK"),
        evolution("cancel", "c1", "OK"),
        evolution("cancel", "c2", "BET_ALREADY_SETTLED"),
    ]
    verdict = judge(history, log_of(ledger), view_of(ledger))
    assert verdict.summary()["examples"] == []
    assert (verdict.acknowledged, verdict.indefinite, verdict.indefinite_present) == (2, 1, 0)
    assert ledger.balance("p1", "EUR").available == Decimal("100.00"), "the stake came back"
