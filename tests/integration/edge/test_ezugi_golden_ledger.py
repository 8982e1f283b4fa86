"""Ezugi golden fixtures on the real ledger over JetStream."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from services.simulate.clients.base import PreparedCall
from services.simulate.clients.ezugi import EzugiClient
from tests.integration.edge.support.golden_ledger import real_rig
from tests.unit.edge.support.golden_fixtures import play_on, scenarios
from tests.unit.edge.support.wallet_gateway import provider
from tests.unit.edge.test_ezugi_golden import OPERATOR, SECRET, normalise

SCENARIOS = scenarios("ezugi")
_ENCODER = msgspec.json.Encoder(decimal_format="number")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
async def test_ezugi_scenario_answers_as_recorded_on_the_ledger(
    scenario: dict[str, Any], nats_url: str, stream_prefix: str
) -> None:
    config = provider("ezugi", SECRET.encode(), options={"operator_id": OPERATOR})
    async with real_rig(nats_url, stream_prefix, config) as rig:
        await rig.set_up("ezugi", scenario)
        client = EzugiClient(rig.transport("ezugi"), SECRET, OPERATOR)

        def encode(step: dict[str, Any]) -> PreparedCall:
            body = _ENCODER.encode(step["request"])
            return client.prepare_raw(step["path"], body, signature=step.get("signature"))

        await play_on(rig.transport("ezugi"), scenario, encode, normalise, rig.snapshot)
