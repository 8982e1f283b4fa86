"""A provider's table bank (transfer wallet) is money to play with where the ledger sees
no bet: a blocked player moves none into it, and may always take it back."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts.protection import RiskFlag
from contracts.protection import SelfExclusion
from contracts.protection import TimeOut
from contracts.wallet import Refusal
from services.ledger.domain import provider_account
from services.ledger.protection import AnyChange
from services.ledger.protection import Protection
from tests.unit.ledger.support.builders import p1_funded
from tests.unit.ledger.support.refusals import refused

BANK = provider_account("evo")


@pytest.mark.parametrize(
    "block", [SelfExclusion(), TimeOut(minutes=60), RiskFlag(high_risk=True)], ids=type
)
def test_a_blocked_player_moves_nothing_into_a_table_bank_but_takes_it_back(
    block: AnyChange,
) -> None:
    ledger = p1_funded()
    guard = Protection({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    ledger.policy = guard
    ledger.transfer("withdraw", "p1", "EUR", Decimal(30), tx_id="tb-1", account=BANK)
    guard.change("p1", block, "casino/k1")

    with refused(Refusal.SELF_EXCLUDED):
        ledger.transfer("withdraw", "p1", "EUR", Decimal(10), tx_id="tb-2", account=BANK)
    assert ledger.balance("p1", "EUR").available == Decimal(70)
    back = ledger.transfer("deposit", "p1", "EUR", Decimal(30), tx_id="tb-3", account=BANK)
    assert back.available == Decimal(100)
