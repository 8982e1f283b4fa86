"""`Ledger.answered`: whether a transaction was answered before, read without writing."""

from __future__ import annotations

import pytest

from services.ledger.errors import LedgerRefused
from tests.unit.ledger.support.builders import debit, p1_funded


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
