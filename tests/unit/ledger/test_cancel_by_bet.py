"""A cancel that names its bet (`Rollback.ref_bet_id`, Evolution's `refId`) under a
transaction id the ledger has never seen: the bet's debit is what it cancels."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts.wallet import Refusal
from services.ledger.application import Ledger
from services.ledger.views import BetStatus
from tests.unit.ledger.support.builders import credit
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import funded
from tests.unit.ledger.support.builders import popo_ledger
from tests.unit.ledger.support.builders import rollback
from tests.unit.ledger.support.refusals import refused


@pytest.fixture
def ledger() -> Ledger:
    ledger = popo_ledger()
    funded(ledger, "p1", "100.00")
    funded(ledger, "p2", "100.00")
    return ledger


def bet_status(ledger: Ledger) -> BetStatus:
    [bet] = ledger.round_state("evo", "r1").bets
    return bet.status


def test_a_cancel_under_a_new_id_naming_an_open_bet_releases_its_stake(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "10", bet_id="b1"))
    reply = ledger.execute(rollback("c-new", "new", ref_bet_id="b1", only_open=True))
    assert (reply.available, reply.absorbed) == (Decimal("100.00"), False)
    assert bet_status(ledger) is BetStatus.REFUNDED
    late = ledger.execute(rollback("c-t1", "t1", ref_bet_id="b1", only_open=True))
    assert late.absorbed and late.available == Decimal("100.00"), "nothing moves twice"


def test_a_second_cancel_under_a_new_id_is_refused_as_the_bet_is_refunded(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "10", bet_id="b1"))
    ledger.execute(rollback("c-t1", "t1", ref_bet_id="b1", only_open=True))
    with refused(Refusal.BET_REFUNDED):
        ledger.execute(rollback("c-new", "new", ref_bet_id="b1", only_open=True))
    assert ledger.balance("p1", "EUR").available == Decimal("100.00")


def test_a_cancel_under_a_new_id_of_a_settled_bet_is_refused_and_moves_nothing(
    ledger: Ledger,
) -> None:
    ledger.execute(debit("t1", "10", bet_id="b1"))
    ledger.execute(credit("w1", "25", bet_id="b1"))
    with refused(Refusal.BET_ALREADY_SETTLED):
        ledger.execute(rollback("c-new", "new", ref_bet_id="b1", only_open=True))
    assert bet_status(ledger) is BetStatus.SETTLED
    assert ledger.balance("p1", "EUR").balance == Decimal("115.00")


def test_a_cancel_naming_another_players_bet_cancels_nothing(ledger: Ledger) -> None:
    ledger.execute(debit("t1", "10", bet_id="b1"))
    reply = ledger.execute(rollback("c-new", "new", ref_bet_id="b1", player="p2", only_open=True))
    assert reply.absorbed and reply.available == Decimal("100.00")
    assert bet_status(ledger) is BetStatus.OPEN
    assert ledger.balance("p1", "EUR").available == Decimal("90.00")
