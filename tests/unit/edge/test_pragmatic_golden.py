"""Pragmatic Play golden fixtures: each scenario gets exactly the recorded answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from services.simulate.clients.base import PreparedCall
from services.simulate.clients.pragmatic import PragmaticClient
from tests.unit.edge.support.golden_fixtures import play_on, scenarios, set_up
from tests.unit.edge.support.wallet_gateway import GatewayTransport, provider, rig

SCENARIOS = scenarios("pragmatic")
SECRET = "pp-secret-key-TEST-ONLY"
_DECODER = msgspec.json.Decoder(float_hook=Decimal)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
async def test_pragmatic_scenario_answers_as_recorded(scenario: dict[str, Any]) -> None:
    r = rig(provider("pragmatic", SECRET.encode()))
    set_up(r, "pragmatic", scenario)
    client = PragmaticClient(GatewayTransport(r.gate("pragmatic")), SECRET)

    def encode(step: dict[str, Any]) -> PreparedCall:
        return client.prepare(step["path"], step["request"], hash_=step.get("hash"))

    await play_on(
        GatewayTransport(r.gate("pragmatic")), scenario, encode, _DECODER.decode, r.ledger.snapshot
    )
