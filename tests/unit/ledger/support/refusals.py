"""What the ledger's tests expect of a refusal: its code, and nothing stored for it."""

from __future__ import annotations

import pytest

from contracts.wallet import AnyWalletCommand
from contracts.wallet import Refusal
from services.ledger.application import Ledger
from services.ledger.errors import LedgerRefused
from tests.unit.ledger.support.builders import log_position
from tests.unit.ledger.support.builders import logged_since


def refused(code: Refusal) -> pytest.RaisesExc[LedgerRefused]:
    """Expect the ledger to refuse with `code`."""
    return pytest.raises(LedgerRefused, check=lambda e: e.code is code)


def assert_refused_storing_nothing(
    ledger: Ledger, command: AnyWalletCommand, code: Refusal
) -> None:
    """`command` is refused with `code`, and the ledger stores nothing for it."""
    start = log_position(ledger)
    with refused(code):
        ledger.execute(command)
    assert logged_since(ledger, start) == [], "a refused command stores nothing"
