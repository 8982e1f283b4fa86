"""Ezugi golden fixtures: each scenario's signed requests get exactly the recorded answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from services.simulate.clients.base import PreparedCall
from services.simulate.clients.ezugi import EzugiClient
from tests.unit.edge.support.golden_fixtures import play, scenarios, set_up
from tests.unit.edge.support.wallet_gateway import GatewayTransport, provider, rig

SECRET = "ezugi-TEST-ONLY-secret"
OPERATOR = 10178001
_ENCODER = msgspec.json.Encoder(decimal_format="number")
_DECODER = msgspec.json.Decoder(float_hook=Decimal)
SCENARIOS = scenarios("ezugi")


def normalise(body: bytes) -> Any:
    """The clock and freshly issued tokens become `*`, as the fixtures write them."""
    answer = _DECODER.decode(body)
    answer["timestamp"] = "*"
    if "playerTokenAtLaunch" in answer and answer.get("token"):
        answer["token"] = "*"
    return answer


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
async def test_ezugi_scenario_answers_as_recorded(scenario: dict[str, Any]) -> None:
    r = rig(provider("ezugi", SECRET.encode(), options={"operator_id": OPERATOR}))
    set_up(r, "ezugi", scenario)
    client = EzugiClient(GatewayTransport(r.gate("ezugi")), SECRET, OPERATOR)

    def encode(step: dict[str, Any]) -> PreparedCall:
        body = _ENCODER.encode(step["request"])
        return client.prepare_raw(step["path"], body, signature=step.get("signature"))

    await play(r, "ezugi", scenario, encode, normalise)
