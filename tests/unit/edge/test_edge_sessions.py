"""The in-memory session store passes the session conformance suite."""

from __future__ import annotations

import pytest

from services.edge.sessions import MemorySessionStore
from tests.unit.edge.support.session_store_suite import SessionStoreSuite


class TestMemorySessionStore(SessionStoreSuite):
    @pytest.fixture
    def store(self) -> MemorySessionStore:
        return MemorySessionStore()
