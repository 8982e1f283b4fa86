"""Rounds the projection tests set up by hand, command by command."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from services.ledger.application import Ledger
from tests.unit.ledger.support.builders import credit
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import funded
from tests.unit.ledger.support.builders import opened
from tests.unit.ledger.support.builders import voided


def unrecoverable_void(ledger: Ledger, round_id: str = "r1") -> None:
    """Round `round_id` at evo, voided after the provider paid two wins that were spent.

    The provider repeats its betting-opened event with another table (a conflict, the
    round's own audit flag). p1 and p2 each win 360 on a 10 bet and cash everything out;
    p1 also has a bet still open. The void refunds the open bet but cannot take back
    either spent win: the round book flags b1, then b2, as VOID_UNRECOVERABLE.
    """
    for player in ("p1", "p2"):
        funded(ledger, player, "100.00")
    ledger.record_event(opened(round_id))
    ledger.record_event(msgspec.structs.replace(opened(round_id), table="T2"))
    for player, bet in (("p1", "b1"), ("p2", "b2")):
        ledger.execute(debit(f"t-{bet}", "10", player=player, round_id=round_id, bet_id=bet))
    ledger.execute(debit("t-b3", "5", player="p1", round_id=round_id, bet_id="b3"))
    for player, bet in (("p1", "b1"), ("p2", "b2")):
        ledger.execute(credit(f"w-{bet}", "360", player=player, round_id=round_id, bet_id=bet))
        spendable = ledger.balance(player, "EUR").available
        ledger.withdraw(player, "EUR", spendable, tx_id=f"cash-out-{player}")
        assert ledger.balance(player, "EUR").available == Decimal(0)
    ledger.record_event(voided("DISPUTE", round_id=round_id, seq=2))
    ledger.drain_round_book()
