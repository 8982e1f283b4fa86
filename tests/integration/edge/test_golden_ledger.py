"""Golden fixtures on the real ledger over JetStream: each dialect's recorded scenarios
get exactly the recorded answers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.edge.support.golden_ledger import real_rig
from tests.unit.edge.support.golden_dialects import DIALECTS
from tests.unit.edge.support.golden_dialects import SCENARIOS
from tests.unit.edge.support.golden_fixtures import play_on


@pytest.mark.parametrize(("dialect", "scenario"), SCENARIOS)
async def test_each_scenario_answers_as_recorded_on_the_ledger(
    dialect: str, scenario: dict[str, Any], nats_url: str, stream_prefix: str
) -> None:
    golden = DIALECTS[dialect]
    async with real_rig(nats_url, stream_prefix, golden.provider()) as rig:
        await rig.set_up(dialect, scenario)
        transport = rig.transport(dialect)
        await play_on(transport, scenario, golden.signer(transport), golden.reader(), rig.snapshot)
