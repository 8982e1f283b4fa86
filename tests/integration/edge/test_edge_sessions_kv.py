"""Sessions in JetStream KV pass the session conformance suite against a real nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats
import pytest

from services.edge.sessions import KvSessionStore
from tests.unit.edge.support.session_store_suite import SessionStoreSuite


class TestKvSessionStore(SessionStoreSuite):
    @pytest.fixture
    async def store(self, nats_url: str, stream_prefix: str) -> AsyncIterator[KvSessionStore]:
        nc = await nats.connect(nats_url)
        try:
            yield await KvSessionStore.open(nc.jetstream(), f"sessions_{stream_prefix.lower()}")
        finally:
            await nc.drain()
