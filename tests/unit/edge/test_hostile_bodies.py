"""A signed body that can never succeed gets the dialect's final error, never its retryable one.

Each dialect's golden debit is sent correctly signed with one field (or an extra one)
replaced by something no decoder should choke on: JSON nested 5,000 levels deep (msgspec
raises `RecursionError`, not `DecodeError`), an integer of 5,000 digits (`str()` refuses
it), a number beyond any float. Each must be answered in the dialect as a bad request:
the gateway logs no internal failure (which it would answer with the dialect's retryable
error), nothing answers 500, and the ledger is untouched.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import pytest

from tests.unit.edge.support.signed_debits import DEBIT_PATH
from tests.unit.edge.support.signed_debits import debit_scenario
from tests.unit.edge.support.signed_debits import replaced
from tests.unit.edge.support.signed_debits import send

DEPTH = 5000
HOSTILE: dict[str, bytes] = {
    "deep array": b"[" * DEPTH + b"]" * DEPTH,
    "deep object": b'{"a":' * DEPTH + b"1" + b"}" * DEPTH,
    "5,000-digit integer": b"9" * 5000,
    "number beyond a float": b"1e999999",
}
IGNORED = {"someFakeField", "someUnknownField", "meta"}
"""Fields the dialects ignore (Hub88 `meta` is free-form)."""
_PLACEHOLDER = "\u2603hostile\u2603"


def _body(dialect: str, key: str, raw: bytes) -> bytes:
    body: dict[str, Any] = replaced(debit_scenario(dialect)[1], (key,), _PLACEHOLDER)
    encoded = msgspec.json.encode(body)
    return encoded.replace(msgspec.json.encode(_PLACEHOLDER), raw)


CASES = [
    (dialect, key, label)
    for dialect in sorted(DEBIT_PATH)
    if dialect != "pragmatic"  # a form: no nesting, no numbers (see the last test)
    for key in [*debit_scenario(dialect)[1], "someUnknownField"]
    for label in HOSTILE
]


@pytest.mark.parametrize(("dialect", "key", "label"), CASES)
def test_a_hostile_value_in_any_field_gets_a_final_error_in_the_dialect(
    dialect: str, key: str, label: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="services.edge.gateway"):
        moved, answer, _ = send(dialect, _body(dialect, key, HOSTILE[label]))
    if key in IGNORED and not label.startswith("deep"):
        pass  # a field the dialect ignores may hold any number: the debit goes through
    else:
        assert not moved, answer.body
    internal = [r.getMessage() for r in caplog.records if r.name == "services.edge.gateway"]
    assert not internal, f"answered as an internal failure: {internal}"


@pytest.mark.parametrize("dialect", sorted(DEBIT_PATH))
@pytest.mark.parametrize("label", sorted(HOSTILE))
def test_a_hostile_document_as_the_whole_body_gets_a_final_error(
    dialect: str, label: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="services.edge.gateway"):
        moved, answer, _ = send(dialect, HOSTILE[label])
    assert not moved, answer.body
    internal = [r.getMessage() for r in caplog.records if r.name == "services.edge.gateway"]
    assert not internal, f"answered as an internal failure: {internal}"
