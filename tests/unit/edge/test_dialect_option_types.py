"""A dialect option of the wrong type stops the bridge at its start, naming the option,
instead of being read as something else and silently doing nothing."""

from __future__ import annotations

import pytest

from services.edge.config import ConfigError
from services.edge.config import OptionValue
from tests.unit.edge.support.wallet_gateway import provider
from tests.unit.edge.support.wallet_gateway import rig


@pytest.mark.parametrize("value", ["true", "yes", 1, 0.0])
def test_an_evolution_test_sid_that_is_not_true_or_false_is_refused(value: OptionValue) -> None:
    with pytest.raises(ConfigError, match="test_sid must be true or false"):
        rig(provider("evolution", b"s", options={"test_sid": value}))


@pytest.mark.parametrize("value", [True, False])
def test_an_evolution_test_sid_true_or_false_mounts_sid_or_not(value: bool) -> None:
    gate = rig(provider("evolution", b"s", options={"test_sid": value})).gate("evolution")
    assert (("POST", "sid") in gate.endpoints) is value
