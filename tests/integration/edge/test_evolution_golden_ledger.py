"""Evolution golden fixtures on the real ledger over JetStream."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from services.simulate.clients.base import PreparedCall
from services.simulate.clients.evolution import EvolutionClient
from tests.integration.edge.support.golden_ledger import real_rig
from tests.unit.edge.support.golden_fixtures import play_on, scenarios
from tests.unit.edge.support.wallet_gateway import provider

SCENARIOS = scenarios("evolution")
SECRET = "evo-auth-token-TEST-ONLY"
_ENCODER = msgspec.json.Encoder(decimal_format="number")
_DECODER = msgspec.json.Decoder(float_hook=Decimal)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
async def test_evolution_scenario_answers_as_recorded_on_the_ledger(
    scenario: dict[str, Any], nats_url: str, stream_prefix: str
) -> None:
    async with real_rig(nats_url, stream_prefix, provider("evolution", SECRET.encode())) as rig:
        await rig.set_up("evolution", scenario)
        client = EvolutionClient(rig.transport("evolution"), SECRET)

        def encode(step: dict[str, Any]) -> PreparedCall:
            body = _ENCODER.encode(step["request"])
            return client.prepare_raw(step["path"], body, auth=step.get("auth"))

        await play_on(rig.transport("evolution"), scenario, encode, _DECODER.decode, rig.snapshot)
