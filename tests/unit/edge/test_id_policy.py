"""One id policy (`contracts.ids`) for every dialect: a bad id is refused before money moves.

Each dialect's golden debit is sent correctly signed with one id field replaced: by an id
at the limit (accepted, money moves) and by ids outside the policy (a NUL, a control
character, a bidirectional override, one character too many), which must be answered
in the dialect without touching the ledger.
"""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import ids
from tests.unit.edge.support.signed_debits import Path
from tests.unit.edge.support.signed_debits import send_with

_ID = msgspec.json.Decoder(ids.Id)

POISON = {
    "nul": "tx\u00001",
    "control": "tx\u00071",
    "newline": "tx\n1",
    "trailing newline": "tx1\n",
    "bidi override": "tx\u202e1",
    "too long": "x" * (ids.MAX_LENGTH + 1),
}

FIELDS: dict[str, list[Path]] = {
    "evolution": [
        ("transaction", "id"),
        ("transaction", "refId"),
        ("game", "id"),
        ("game", "type"),
        ("game", "details", "table", "id"),
    ],
    "ezugi": [("transactionId",), ("roundId",), ("gameId",), ("tableId",), ("seatId",)],
    "hub88": [("transaction_uuid",), ("round",), ("game_code",)],
    "pragmatic": [("reference",), ("roundId",), ("gameId",)],
    "softswiss": [("actions", 0, "action_id"), ("game_id",), ("game",)],
}


CASES = [(dialect, path) for dialect, paths in FIELDS.items() for path in paths]


@pytest.mark.parametrize(("dialect", "path"), CASES, ids=[f"{d}:{p}" for d, p in CASES])
def test_an_id_at_the_limit_moves_money_and_one_outside_the_policy_moves_nothing(
    dialect: str, path: Path
) -> None:
    moved, answer = send_with(dialect, path, "é" + "x" * (ids.MAX_LENGTH - 1))
    assert moved, f"a {ids.MAX_LENGTH}-character id was refused: {answer!r}"
    for label, value in POISON.items():
        moved, answer = send_with(dialect, path, value)
        assert not moved, f"{dialect} {path} with a {label} id moved money: {answer!r}"


@given(st.text(max_size=ids.MAX_LENGTH + 2))
def test_the_wire_type_and_the_check_function_agree_on_every_id(value: str) -> None:
    problem = ids.problem(value)
    try:
        _ID.decode(msgspec.json.encode(value))
    except msgspec.ValidationError:
        assert problem is not None
    except msgspec.DecodeError:  # a lone surrogate is not even JSON text
        assert problem is not None
    else:
        assert problem is None, problem
        assert "\x00" not in value and 1 <= len(value) <= ids.MAX_LENGTH
        value.encode()  # storable as UTF-8


def test_a_bad_id_is_refused_with_a_message_naming_the_field_and_the_rule() -> None:
    with pytest.raises(ids.InvalidId, match=r"round id holds U\+0000 at position 2"):
        ids.check("r-\u00001", "round id")
    with pytest.raises(ids.InvalidId, match="129 characters long; at most 128"):
        ids.check("r" * 129, "round id")
    assert ids.check("", "provider", optional=True) == ""
    assert ids.problem("", "provider") == "provider must not be empty"
