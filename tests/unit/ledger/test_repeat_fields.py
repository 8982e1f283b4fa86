"""A repeated transaction id must carry every field its provider names, the game included.

Hub88's status table: RS_ERROR_DUPLICATE_TRANSACTION when "a transaction with same
transaction_uuid was sent, but there was a different reference transactionID, amount,
currency, round, user or game". The ledger refuses such a repeat (DUPLICATE_CONFLICT)
and stores nothing; an unchanged repeat is still replayed.
"""

from __future__ import annotations

import msgspec

from contracts.wallet import AnyWalletCommand
from contracts.wallet import Refusal
from services.ledger.application import Ledger
from tests.unit.ledger.support.builders import credit
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import p1_funded
from tests.unit.ledger.support.builders import rollback
from tests.unit.ledger.support.refusals import assert_refused_storing_nothing


def _refused_as_conflict(ledger: Ledger, command: AnyWalletCommand) -> None:
    assert_refused_storing_nothing(ledger, command, Refusal.DUPLICATE_CONFLICT)


def _ledger_with_a_settled_bet() -> Ledger:
    ledger = p1_funded()
    ledger.execute(msgspec.structs.replace(debit("b1", "10"), game="roulette"))
    ledger.execute(msgspec.structs.replace(credit("w1", "20", bet_id="b1"), game="roulette"))
    return ledger


def test_a_bet_repeated_with_another_game_is_a_conflict() -> None:
    ledger = _ledger_with_a_settled_bet()
    _refused_as_conflict(ledger, msgspec.structs.replace(debit("b1", "10"), game="baccarat"))
    again = ledger.execute(msgspec.structs.replace(debit("b1", "10"), game="roulette"))
    assert again.replayed


def test_a_win_repeated_with_another_game_is_a_conflict() -> None:
    ledger = _ledger_with_a_settled_bet()
    other = msgspec.structs.replace(credit("w1", "20", bet_id="b1"), game="baccarat")
    _refused_as_conflict(ledger, other)


def test_a_rollback_repeated_with_another_round_or_game_is_a_conflict() -> None:
    ledger = p1_funded()
    ledger.execute(debit("b1", "10"))
    first = msgspec.structs.replace(rollback("rb1", "b1"), round_id="r1", game="roulette")
    ledger.execute(first)
    _refused_as_conflict(ledger, msgspec.structs.replace(first, round_id="r2"))
    _refused_as_conflict(ledger, msgspec.structs.replace(first, game="baccarat"))
    assert ledger.execute(first).replayed
