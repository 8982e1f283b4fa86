"""`Ledger.answered`: whether a transaction was answered before, read without writing."""

from __future__ import annotations

import pytest

from contracts.wallet import Refusal
from contracts.wallet import Rollback
from services.ledger.errors import LedgerRefused
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import p1_funded
from tests.unit.ledger.support.builders import rollback


def test_a_transaction_is_answered_once_taken_and_not_before() -> None:
    ledger = p1_funded()
    assert not ledger.answered("evo", "t1")
    ledger.execute(debit("t1"))
    assert ledger.answered("evo", "t1")
    assert not ledger.answered("pp", "t1"), "another provider's id space"


def test_a_refused_transaction_was_never_answered_and_asking_writes_nothing() -> None:
    ledger = p1_funded()
    with pytest.raises(LedgerRefused):
        ledger.execute(debit("t1", "1000.00"))
    before = ledger.recorder.max_notification_id()
    assert not ledger.answered("evo", "t1")
    assert ledger.recorder.max_notification_id() == before


def cancel_first(late_original: str) -> Rollback:
    return rollback("cancel:t1", "t1", round_id="r1", late_original=late_original)


def test_a_late_original_absorbed_after_its_rollback_is_answered() -> None:
    ledger = p1_funded()
    ledger.execute(cancel_first("absorb"))
    assert not ledger.answered("evo", "t1"), "a tombstone only"
    assert ledger.execute(debit("t1")).absorbed
    assert ledger.answered("evo", "t1")
    assert ledger.execute(debit("t1")).replayed


def test_a_late_original_refused_after_its_rollback_is_not_answered() -> None:
    ledger = p1_funded()
    ledger.execute(cancel_first("refuse"))
    with pytest.raises(LedgerRefused) as refused:
        ledger.execute(debit("t1"))
    assert refused.value.code is Refusal.TRANSACTION_ROLLED_BACK
    assert not ledger.answered("evo", "t1")
