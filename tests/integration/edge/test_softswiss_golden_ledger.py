"""SoftSwiss golden fixtures on the real ledger over JetStream."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from services.simulate.clients.base import PreparedCall
from services.simulate.clients.softswiss import SoftSwissClient
from tests.integration.edge.support.golden_ledger import real_rig
from tests.unit.edge.support.golden_fixtures import play_on, scenarios
from tests.unit.edge.support.wallet_gateway import provider
from tests.unit.edge.test_softswiss_golden import SECRET, Normaliser

SCENARIOS = scenarios("softswiss")
_ENCODER = msgspec.json.Encoder(decimal_format="number")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
async def test_softswiss_scenario_answers_as_recorded_on_the_ledger(
    scenario: dict[str, Any], nats_url: str, stream_prefix: str
) -> None:
    async with real_rig(nats_url, stream_prefix, provider("softswiss", SECRET.encode())) as rig:
        await rig.set_up("softswiss", scenario)
        client = SoftSwissClient(rig.transport("softswiss"), SECRET)

        def encode(step: dict[str, Any]) -> PreparedCall:
            body = _ENCODER.encode(step["request"])
            return client.prepare_raw(step["path"], body, signature=step.get("signature"))

        await play_on(rig.transport("softswiss"), scenario, encode, Normaliser(), rig.snapshot)
