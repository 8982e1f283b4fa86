"""Evolution golden fixtures: each scenario gets exactly the recorded answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from services.simulate.clients.base import PreparedCall
from services.simulate.clients.evolution import EvolutionClient
from tests.unit.edge.support.golden_fixtures import play_on, scenarios, set_up
from tests.unit.edge.support.wallet_gateway import GatewayTransport, provider, rig

SCENARIOS = scenarios("evolution")
SECRET = "evo-auth-token-TEST-ONLY"
_ENCODER = msgspec.json.Encoder(decimal_format="number")
_DECODER = msgspec.json.Decoder(float_hook=Decimal)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
async def test_evolution_scenario_answers_as_recorded(scenario: dict[str, Any]) -> None:
    r = rig(provider("evolution", SECRET.encode()))
    set_up(r, "evolution", scenario)
    client = EvolutionClient(GatewayTransport(r.gate("evolution")), SECRET)

    def encode(step: dict[str, Any]) -> PreparedCall:
        body = _ENCODER.encode(step["request"])
        return client.prepare_raw(step["path"], body, auth=step.get("auth"))

    await play_on(
        GatewayTransport(r.gate("evolution")), scenario, encode, _DECODER.decode, r.ledger.snapshot
    )
