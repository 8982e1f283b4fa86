"""Hub88 golden fixtures on the real ledger over JetStream."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from services.simulate.clients.base import PreparedCall
from services.simulate.clients.hub88 import Hub88Client, load_private_key
from tests.integration.edge.support.golden_ledger import real_rig
from tests.unit.edge.support.golden_fixtures import play_on, scenarios
from tests.unit.edge.support.wallet_gateway import HUB88_PRIVATE_PEM, HUB88_PUBLIC_PEM, provider

SCENARIOS = scenarios("hub88")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
async def test_hub88_scenario_answers_as_recorded_on_the_ledger(
    scenario: dict[str, Any], nats_url: str, stream_prefix: str
) -> None:
    async with real_rig(nats_url, stream_prefix, provider("hub88", HUB88_PUBLIC_PEM)) as rig:
        await rig.set_up("hub88", scenario)
        client = Hub88Client(rig.transport("hub88"), load_private_key(HUB88_PRIVATE_PEM))

        def encode(step: dict[str, Any]) -> PreparedCall:
            body = msgspec.json.encode(step["request"])
            return client.prepare_raw(step["path"], body, signature=step.get("signature"))

        await play_on(rig.transport("hub88"), scenario, encode, msgspec.json.decode, rig.snapshot)
