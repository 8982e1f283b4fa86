"""Golden fixtures: each dialect's recorded scenarios, signed as the provider signs them,
get exactly the recorded answers from the edge on the fake ledger."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.edge.support.golden_dialects import DIALECTS
from tests.unit.edge.support.golden_dialects import SCENARIOS
from tests.unit.edge.support.golden_fixtures import play_on
from tests.unit.edge.support.golden_fixtures import set_up
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import rig


@pytest.mark.parametrize(("dialect", "scenario"), SCENARIOS)
async def test_each_scenario_answers_as_recorded(dialect: str, scenario: dict[str, Any]) -> None:
    golden = DIALECTS[dialect]
    r = rig(golden.provider())
    set_up(r, dialect, scenario)
    transport = GatewayTransport(r.gate(dialect))
    await play_on(transport, scenario, golden.signer(transport), golden.reader(), r.ledger.snapshot)
