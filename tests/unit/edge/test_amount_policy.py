"""Every amount of every dialect goes through `contracts.money`: lenient spellings move nothing.

Each dialect's golden debit is sent correctly signed with its amount spelled another way.
`Decimal` (and msgspec's `Decimal` decoding of JSON strings) takes `1_0`, ` 1`, `+1`,
`1e2`, Arabic-Indic and full-width digits; the money parser takes none of them.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.edge.support.signed_debits import AMOUNT
from tests.unit.edge.support.signed_debits import send_with

LENIENT = ["1_0", " 1", "1 ", "+1", "1e2", "1E0", "\u0661", "\uff11", "0x1", "NaN", "Infinity", ""]
"""Strings `Decimal` reads (or nearly): none is an amount on the wire."""

PLAIN: dict[str, Any] = {
    "evolution": "2.50",
    "ezugi": "2.50",
    "pragmatic": "2.50",
    "hub88": 250000,
    "softswiss": 250,
}
"""The golden debit's amount as each dialect may spell it (a decimal string in the JSON
dialects is read by the same parser)."""


@pytest.mark.parametrize("dialect", sorted(AMOUNT))
def test_an_amount_in_plain_notation_moves_money(dialect: str) -> None:
    moved, answer = send_with(dialect, AMOUNT[dialect], PLAIN[dialect])
    assert moved, answer


@pytest.mark.parametrize("dialect", sorted(AMOUNT))
@pytest.mark.parametrize("spelling", LENIENT, ids=[repr(s) for s in LENIENT])
def test_an_amount_decimal_would_read_leniently_moves_nothing(dialect: str, spelling: str) -> None:
    moved, answer = send_with(dialect, AMOUNT[dialect], spelling)
    assert not moved, f"{dialect} debited {spelling!r}: {answer!r}"
