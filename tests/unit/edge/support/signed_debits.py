"""Each dialect's golden debit, correctly signed, with one field replaced: for the edge's
cross-dialect policies (ids, amounts, bodies that can never succeed)."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from services.simulate.clients.base import Answer
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.evolution import EvolutionClient
from services.simulate.clients.ezugi import EzugiClient
from services.simulate.clients.hub88 import Hub88Client
from services.simulate.clients.hub88 import load_private_key
from services.simulate.clients.pragmatic import PragmaticClient
from services.simulate.clients.softswiss import SoftSwissClient
from tests.unit.edge.support.golden_dialects import DIALECTS
from tests.unit.edge.support.golden_dialects import OPERATOR
from tests.unit.edge.support.golden_dialects import SECRETS
from tests.unit.edge.support.golden_fixtures import GOLDEN
from tests.unit.edge.support.golden_fixtures import set_up
from tests.unit.edge.support.wallet_gateway import HUB88_PRIVATE_PEM
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import Rig
from tests.unit.edge.support.wallet_gateway import rig

_ENCODER = msgspec.json.Encoder(decimal_format="number")

DEBIT_PATH: dict[str, str] = {
    "evolution": "debit",
    "ezugi": "debit",
    "hub88": "transaction/bet",
    "pragmatic": "bet.html",
    "softswiss": "play",
}
AMOUNT: dict[str, tuple[str | int, ...]] = {
    "evolution": ("transaction", "amount"),
    "ezugi": ("debitAmount",),
    "hub88": ("amount",),
    "pragmatic": ("amount",),
    "softswiss": ("actions", 0, "amount"),
}

Path = tuple[str | int, ...]


def debit_scenario(dialect: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The golden `debit` scenario (funds, sessions) and its debit request."""
    document = json.loads((GOLDEN / f"{dialect}.json").read_text(), parse_float=Decimal)
    scenario = next(s for s in document["scenarios"] if s["name"] == "debit")
    step = next(s for s in scenario["steps"] if s["path"] == DEBIT_PATH[dialect])
    return scenario, step["request"]


def signer(dialect: str, r: Rig) -> Callable[[str, dict[str, Any] | bytes], PreparedCall]:
    """Signs a body (a JSON document, or raw bytes as they are) the way the dialect does."""
    transport = GatewayTransport(r.gate(dialect))
    secret = SECRETS[dialect].decode() if dialect != "hub88" else ""

    def raw(body: dict[str, Any] | bytes) -> bytes:
        return body if isinstance(body, bytes) else _ENCODER.encode(body)

    match dialect:
        case "evolution":
            evolution = EvolutionClient(transport, secret)
            return lambda path, body: evolution.prepare_raw(path, raw(body))
        case "ezugi":
            ezugi = EzugiClient(transport, secret, OPERATOR)
            return lambda path, body: ezugi.prepare_raw(path, raw(body))
        case "hub88":
            hub88 = Hub88Client(transport, load_private_key(HUB88_PRIVATE_PEM))
            return lambda path, body: hub88.prepare_raw(path, raw(body))
        case "pragmatic":
            pragmatic = PragmaticClient(transport, secret)

            def form(path: str, body: dict[str, Any] | bytes) -> PreparedCall:
                if isinstance(body, bytes):
                    return pragmatic.prepare_raw(path, body)
                return pragmatic.prepare(path, {k: str(v) for k, v in body.items()})

            return form
        case _:
            softswiss = SoftSwissClient(transport, secret)
            return lambda path, body: softswiss.prepare_raw(path, raw(body))


def dialect_rig(dialect: str) -> Rig:
    """A fake-ledger rig with the dialect's provider, set up for its golden debit."""
    r = rig(DIALECTS[dialect].provider())
    set_up(r, dialect, debit_scenario(dialect)[0])
    return r


def replaced(body: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    node: Any = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return changed


def send(dialect: str, body: dict[str, Any] | bytes) -> tuple[bool, Answer, Rig]:
    """Send `body` signed to the dialect's debit path: (whether money moved, answer, rig)."""
    r = dialect_rig(dialect)
    before = r.ledger.snapshot()
    call = signer(dialect, r)(DEBIT_PATH[dialect], body)
    answer = asyncio.run(GatewayTransport(r.gate(dialect)).send(call))
    assert answer.status != 500, answer.body
    return r.ledger.snapshot() != before, answer, r


def send_with(dialect: str, path: Path, value: Any) -> tuple[bool, bytes]:
    """The golden debit with the field at `path` set to `value`: (money moved, answer)."""
    moved, answer, _ = send(dialect, replaced(debit_scenario(dialect)[1], path, value))
    return moved, answer.body
