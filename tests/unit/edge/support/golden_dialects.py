"""How each dialect's golden fixtures are played: its provider, how a step's request is
signed as the provider signs it, and how an answer is read for comparison.

The same table serves the fake-ledger tests (`tests/unit/edge/test_golden.py`) and the
real-ledger ones (`tests/integration/edge/test_golden_ledger.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from services.edge.config import OptionValue
from services.edge.config import ProviderConfig
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.base import Transport
from services.simulate.clients.evolution import EvolutionClient
from services.simulate.clients.ezugi import EzugiClient
from services.simulate.clients.hub88 import Hub88Client
from services.simulate.clients.hub88 import load_private_key
from services.simulate.clients.pragmatic import PragmaticClient
from services.simulate.clients.softswiss import SoftSwissClient
from tests.unit.edge.support.golden_fixtures import Encode
from tests.unit.edge.support.golden_fixtures import scenarios
from tests.unit.edge.support.wallet_gateway import HUB88_PRIVATE_PEM
from tests.unit.edge.support.wallet_gateway import HUB88_PUBLIC_PEM
from tests.unit.edge.support.wallet_gateway import provider

SECRETS: dict[str, bytes] = {
    "evolution": b"evo-auth-token-TEST-ONLY",
    "ezugi": b"ezugi-TEST-ONLY-secret",
    "hub88": HUB88_PUBLIC_PEM,
    "pragmatic": b"pp-secret-key-TEST-ONLY",
    "softswiss": b"softswiss-TEST-ONLY-token",
}
"""What each golden provider is configured with (Hub88: the public key it verifies with)."""
OPERATOR = 10178001
"""The Ezugi operator id of the fixtures."""

_ENCODER = msgspec.json.Encoder(decimal_format="number")
_DECODER = msgspec.json.Decoder(float_hook=Decimal)

Read = Callable[[bytes], Any]


def _ezugi_answer(body: bytes) -> Any:
    """The clock and freshly issued tokens become `*`, as the fixtures write them."""
    answer = _DECODER.decode(body)
    answer["timestamp"] = "*"
    if "playerTokenAtLaunch" in answer and answer.get("token"):
        answer["token"] = "*"
    return answer


class _SoftSwissAnswer:
    """Free-text and clock fields become `*`; the ledger's transaction references become
    `trn_1`, `trn_2`... in order of first appearance, so a repeat must show the same one."""

    def __init__(self) -> None:
        self.refs: dict[str, str] = {}

    def __call__(self, body: bytes) -> Any:
        answer = _DECODER.decode(body)
        for tx in answer.get("transactions") or []:
            tx["processed_at"] = "*"
            if tx["tx_id"]:
                tx["tx_id"] = self.refs.setdefault(tx["tx_id"], f"trn_{len(self.refs) + 1}")
        if "message" in answer:
            answer["message"] = "*"
        return answer


def _evolution(transport: Transport) -> Encode:
    client = EvolutionClient(transport, SECRETS["evolution"].decode())
    return lambda step: client.prepare_raw(
        step["path"], _ENCODER.encode(step["request"]), auth=step.get("auth")
    )


def _ezugi(transport: Transport) -> Encode:
    client = EzugiClient(transport, SECRETS["ezugi"].decode(), OPERATOR)
    return lambda step: client.prepare_raw(
        step["path"], _ENCODER.encode(step["request"]), signature=step.get("signature")
    )


def _hub88(transport: Transport) -> Encode:
    client = Hub88Client(transport, load_private_key(HUB88_PRIVATE_PEM))
    return lambda step: client.prepare_raw(
        step["path"], msgspec.json.encode(step["request"]), signature=step.get("signature")
    )


def _pragmatic(transport: Transport) -> Encode:
    client = PragmaticClient(transport, SECRETS["pragmatic"].decode())

    def signed(step: dict[str, Any]) -> PreparedCall:
        return client.prepare(step["path"], step["request"], hash_=step.get("hash"))

    return signed


def _softswiss(transport: Transport) -> Encode:
    client = SoftSwissClient(transport, SECRETS["softswiss"].decode())
    return lambda step: client.prepare_raw(
        step["path"], _ENCODER.encode(step["request"]), signature=step.get("signature")
    )


@dataclass(frozen=True)
class GoldenDialect:
    name: str
    signer: Callable[[Transport], Encode]
    """Given the way to the edge, signs each step's request as the provider does."""
    reader: Callable[[], Read]
    """A fresh reader of answers for one scenario (some number what they see)."""
    options: dict[str, OptionValue] | None = None

    def provider(self) -> ProviderConfig:
        return provider(self.name, SECRETS[self.name], options=self.options)


DIALECTS: dict[str, GoldenDialect] = {
    d.name: d
    for d in (
        GoldenDialect("evolution", _evolution, lambda: _DECODER.decode),
        GoldenDialect("ezugi", _ezugi, lambda: _ezugi_answer, {"operator_id": OPERATOR}),
        GoldenDialect("hub88", _hub88, lambda: msgspec.json.decode),
        GoldenDialect("pragmatic", _pragmatic, lambda: _DECODER.decode),
        GoldenDialect("softswiss", _softswiss, _SoftSwissAnswer),
    )
}

SCENARIOS = [
    pytest.param(dialect, scenario, id=f"{dialect}-{scenario['name']}")
    for dialect in DIALECTS
    for scenario in scenarios(dialect)
]
"""Every dialect's every golden scenario, for `pytest.mark.parametrize("dialect, scenario")`."""
