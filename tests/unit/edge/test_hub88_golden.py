"""Hub88 golden fixtures: each scenario's requests, signed, get exactly the recorded answers."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from services.simulate.clients.base import PreparedCall
from services.simulate.clients.hub88 import Hub88Client, load_private_key
from tests.unit.edge.support.golden_fixtures import play_on, scenarios, set_up
from tests.unit.edge.support.wallet_gateway import (
    HUB88_PRIVATE_PEM,
    HUB88_PUBLIC_PEM,
    GatewayTransport,
    provider,
    rig,
)

SCENARIOS = scenarios("hub88")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
async def test_hub88_scenario_answers_as_recorded(scenario: dict[str, Any]) -> None:
    r = rig(provider("hub88", HUB88_PUBLIC_PEM))
    set_up(r, "hub88", scenario)
    client = Hub88Client(GatewayTransport(r.gate("hub88")), load_private_key(HUB88_PRIVATE_PEM))

    def encode(step: dict[str, Any]) -> PreparedCall:
        body = msgspec.json.encode(step["request"])
        return client.prepare_raw(step["path"], body, signature=step.get("signature"))

    await play_on(
        GatewayTransport(r.gate("hub88")), scenario, encode, msgspec.json.decode, r.ledger.snapshot
    )
