"""The JetStream KV cursor store honours the `CursorStore` contract, on a real nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats
import pytest

from contracts.events import AnyProviderEvent
from services.edge.feeds.cursors import JetStreamCursorStore
from services.edge.feeds.processor import FeedProcessor
from tests.integration.edge.support.cursor_store import cursor_store
from tests.unit.edge.support.cursor_store_suite import CursorStoreSuite
from tests.unit.edge.support.feed_events import RecordingSink
from tests.unit.edge.support.feed_events import round_events


class TestJetStreamCursorStore(CursorStoreSuite):
    @pytest.fixture
    async def store(self, nats_url: str, stream_prefix: str) -> AsyncIterator[JetStreamCursorStore]:
        async with cursor_store(nats_url, stream_prefix) as store:
            yield store

    async def test_positions_survive_a_new_connection(
        self, store: JetStreamCursorStore, nats_url: str, stream_prefix: str
    ) -> None:
        await store.put("cursor.evo.socket", "c-99")
        async with cursor_store(nats_url, stream_prefix) as again:
            assert await again.get("cursor.evo.socket") == "c-99"


async def test_events_held_by_a_feed_survive_its_process(nats_url: str, stream_prefix: str) -> None:
    """A feed answers a held event as taken: a new process on the same bucket records it
    once the missing seq comes."""
    sink = RecordingSink()
    events = round_events("evo", "r-held")

    async def feed_process(batch: list[AnyProviderEvent]) -> None:
        nc = await nats.connect(nats_url)
        try:
            store = await JetStreamCursorStore.open(nc.jetstream(), f"cursors_{stream_prefix}")
            await FeedProcessor("evo", sink, store).accept(batch)
        finally:
            await nc.close()  # no drain: the process is gone

    await feed_process([events[0], events[2], events[4]])
    assert sink.seqs("r-held") == [1]
    await feed_process([events[1], events[3]])
    assert sink.seqs("r-held") == [1, 2, 3, 4, 5]
