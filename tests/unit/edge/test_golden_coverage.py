"""The golden files recorded in full hold every scenario the edge must answer as recorded."""

from __future__ import annotations

import pytest

from tests.unit.edge.support.golden_fixtures import REQUIRED_SCENARIOS
from tests.unit.edge.support.golden_fixtures import scenarios


@pytest.mark.parametrize("dialect", ["ezugi", "softswiss"])
def test_the_fixtures_cover_every_required_scenario(dialect: str) -> None:
    names = {s["name"] for s in scenarios(dialect)}
    assert sorted(REQUIRED_SCENARIOS - names) == []
