"""Pragmatic Play golden fixtures on the real ledger over JetStream."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from services.simulate.clients.base import PreparedCall
from services.simulate.clients.pragmatic import PragmaticClient
from tests.integration.edge.support.golden_ledger import real_rig
from tests.unit.edge.support.golden_fixtures import play_on, scenarios
from tests.unit.edge.support.wallet_gateway import provider

SCENARIOS = scenarios("pragmatic")
SECRET = "pp-secret-key-TEST-ONLY"
_DECODER = msgspec.json.Decoder(float_hook=Decimal)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
async def test_pragmatic_scenario_answers_as_recorded_on_the_ledger(
    scenario: dict[str, Any], nats_url: str, stream_prefix: str
) -> None:
    async with real_rig(nats_url, stream_prefix, provider("pragmatic", SECRET.encode())) as rig:
        await rig.set_up("pragmatic", scenario)
        client = PragmaticClient(rig.transport("pragmatic"), SECRET)

        def encode(step: dict[str, Any]) -> PreparedCall:
            return client.prepare(step["path"], step["request"], hash_=step.get("hash"))

        await play_on(rig.transport("pragmatic"), scenario, encode, _DECODER.decode, rig.snapshot)
