"""SoftSwiss golden fixtures: each scenario's signed requests get exactly the recorded answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from services.simulate.clients.base import PreparedCall
from services.simulate.clients.softswiss import SoftSwissClient
from tests.unit.edge.support.golden_fixtures import play, scenarios, set_up
from tests.unit.edge.support.wallet_gateway import GatewayTransport, provider, rig

SECRET = "softswiss-TEST-ONLY-token"
_ENCODER = msgspec.json.Encoder(decimal_format="number")
_DECODER = msgspec.json.Decoder(float_hook=Decimal)
SCENARIOS = scenarios("softswiss")


class Normaliser:
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


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
async def test_softswiss_scenario_answers_as_recorded(scenario: dict[str, Any]) -> None:
    r = rig(provider("softswiss", SECRET.encode()))
    set_up(r, "softswiss", scenario)
    client = SoftSwissClient(GatewayTransport(r.gate("softswiss")), SECRET)

    def encode(step: dict[str, Any]) -> PreparedCall:
        body = _ENCODER.encode(step["request"])
        return client.prepare_raw(step["path"], body, signature=step.get("signature"))

    await play(r, "softswiss", scenario, encode, Normaliser())
