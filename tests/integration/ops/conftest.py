"""The front door's whole bridge (operator keys, own database), for the operations routes,
with the metrics pipeline `livebridge run` installs first."""

import os

import pytest

from services.bridge.telemetry import install_metrics
from tests.integration.frontdoor.conftest import KEYS
from tests.integration.frontdoor.conftest import Bridge
from tests.integration.frontdoor.conftest import bridge
from tests.integration.frontdoor.conftest import bridge_settings
from tests.integration.frontdoor.conftest import own_database_url

__all__ = ["KEYS", "Bridge", "bridge", "bridge_settings", "own_database_url"]


@pytest.fixture(autouse=True)
def metrics_installed() -> None:
    install_metrics(os.environ)  # as `livebridge run` does before it builds the app
