"""One id policy (`contracts.ids`) for every dialect: a bad id is refused before money moves.

Each dialect's golden debit is sent correctly signed with one id field replaced: by an id
at the limit (accepted, money moves) and by ids outside the policy (a NUL, a control
character, a bidirectional override, one character too many), which must be answered
in the dialect without touching the ledger.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import ids
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.evolution import EvolutionClient
from services.simulate.clients.ezugi import EzugiClient
from services.simulate.clients.hub88 import Hub88Client, load_private_key
from services.simulate.clients.pragmatic import PragmaticClient
from services.simulate.clients.softswiss import SoftSwissClient
from tests.unit.edge.support.golden_fixtures import GOLDEN, set_up
from tests.unit.edge.support.wallet_gateway import (
    HUB88_PRIVATE_PEM,
    HUB88_PUBLIC_PEM,
    GatewayTransport,
    Rig,
    provider,
    rig,
)

_ENCODER = msgspec.json.Encoder(decimal_format="number")
_ID = msgspec.json.Decoder(ids.Id)

POISON = {
    "nul": "tx\u00001",
    "control": "tx\u00071",
    "newline": "tx\n1",
    "bidi override": "tx\u202e1",
    "too long": "x" * (ids.MAX_LENGTH + 1),
}

Path = tuple[str | int, ...]
FIELDS: dict[str, tuple[str, list[Path]]] = {
    "evolution": (
        "debit",
        [
            ("transaction", "id"),
            ("transaction", "refId"),
            ("game", "id"),
            ("game", "type"),
            ("game", "details", "table", "id"),
        ],
    ),
    "ezugi": ("debit", [("transactionId",), ("roundId",), ("gameId",), ("tableId",), ("seatId",)]),
    "hub88": ("transaction/bet", [("transaction_uuid",), ("round",), ("game_code",)]),
    "pragmatic": ("bet.html", [("reference",), ("roundId",), ("gameId",)]),
    "softswiss": (
        "play",
        [("actions", 0, "action_id"), ("game_id",), ("game",)],
    ),
}


def _debit_scenario(dialect: str) -> tuple[dict[str, Any], dict[str, Any]]:
    document = json.loads((GOLDEN / f"{dialect}.json").read_text(), parse_float=Decimal)
    scenario = next(s for s in document["scenarios"] if s["name"] == "debit")
    path = FIELDS[dialect][0]
    step = next(s for s in scenario["steps"] if s["path"] == path)
    return scenario, step["request"]


def _encoder(dialect: str, r: Rig) -> Callable[[str, dict[str, Any]], PreparedCall]:
    transport = GatewayTransport(r.gate(dialect))
    match dialect:
        case "evolution":
            evolution = EvolutionClient(transport, "evo-auth-token-TEST-ONLY")
            return lambda path, body: evolution.prepare_raw(path, _ENCODER.encode(body))
        case "ezugi":
            ezugi = EzugiClient(transport, "ezugi-TEST-ONLY-secret", 10178001)
            return lambda path, body: ezugi.prepare_raw(path, _ENCODER.encode(body))
        case "hub88":
            hub88 = Hub88Client(transport, load_private_key(HUB88_PRIVATE_PEM))
            return lambda path, body: hub88.prepare_raw(path, _ENCODER.encode(body))
        case "pragmatic":
            pragmatic = PragmaticClient(transport, "pp-secret-key-TEST-ONLY")
            return lambda path, body: pragmatic.prepare(path, {k: str(v) for k, v in body.items()})
        case _:
            softswiss = SoftSwissClient(transport, "softswiss-TEST-ONLY-token")
            return lambda path, body: softswiss.prepare_raw(path, _ENCODER.encode(body))


def _rig(dialect: str) -> Rig:
    secrets: dict[str, bytes] = {
        "evolution": b"evo-auth-token-TEST-ONLY",
        "ezugi": b"ezugi-TEST-ONLY-secret",
        "hub88": HUB88_PUBLIC_PEM,
        "pragmatic": b"pp-secret-key-TEST-ONLY",
        "softswiss": b"softswiss-TEST-ONLY-token",
    }
    options: dict[str, Any] = {"operator_id": 10178001} if dialect == "ezugi" else {}
    return rig(provider(dialect, secrets[dialect], options=options))


def _replaced(body: dict[str, Any], path: Path, value: str) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    node: Any = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return changed


def _send(dialect: str, path: Path, value: str) -> tuple[bool, bytes]:
    """Send the dialect's debit with `path` set to `value`: (whether money moved, answer)."""
    r = _rig(dialect)
    scenario, body = _debit_scenario(dialect)
    set_up(r, dialect, scenario)
    encode = _encoder(dialect, r)
    before = r.ledger.snapshot()
    call = encode(FIELDS[dialect][0], _replaced(body, path, value))
    answer = asyncio.run(GatewayTransport(r.gate(dialect)).send(call))
    assert answer.status != 500, answer.body
    return r.ledger.snapshot() != before, answer.body


CASES = [(dialect, path) for dialect, (_, paths) in FIELDS.items() for path in paths]


@pytest.mark.parametrize(("dialect", "path"), CASES, ids=[f"{d}:{p}" for d, p in CASES])
def test_an_id_at_the_limit_moves_money_and_one_outside_the_policy_moves_nothing(
    dialect: str, path: Path
) -> None:
    moved, answer = _send(dialect, path, "é" + "x" * (ids.MAX_LENGTH - 1))
    assert moved, f"a {ids.MAX_LENGTH}-character id was refused: {answer!r}"
    for label, value in POISON.items():
        moved, answer = _send(dialect, path, value)
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
