"""The front door's whole bridge (operator keys, own database), for the operations routes."""

from tests.integration.frontdoor.conftest import (
    KEYS,
    Bridge,
    bridge,
    bridge_settings,
    own_database_url,
)

__all__ = ["KEYS", "Bridge", "bridge", "bridge_settings", "own_database_url"]
