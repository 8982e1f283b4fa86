"""The JetStream KV cursor store honours the `CursorStore` contract, on a real nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats
import pytest

from services.edge.feeds.cursors import JetStreamCursorStore
from tests.unit.edge.support.cursor_store_suite import CursorStoreSuite


class TestJetStreamCursorStore(CursorStoreSuite):
    @pytest.fixture
    async def store(self, nats_url: str, stream_prefix: str) -> AsyncIterator[JetStreamCursorStore]:
        nc = await nats.connect(nats_url)
        try:
            yield await JetStreamCursorStore.open(nc.jetstream(), f"cursors_{stream_prefix}")
        finally:
            await nc.drain()

    async def test_positions_survive_a_new_connection(
        self, store: JetStreamCursorStore, nats_url: str, stream_prefix: str
    ) -> None:
        await store.put("cursor.evo.socket", "c-99")
        nc = await nats.connect(nats_url)
        try:
            again = await JetStreamCursorStore.open(nc.jetstream(), f"cursors_{stream_prefix}")
            assert await again.get("cursor.evo.socket") == "c-99"
        finally:
            await nc.drain()
