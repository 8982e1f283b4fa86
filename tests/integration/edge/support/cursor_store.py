"""The feed cursor store a test keeps in JetStream KV, on a connection of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats

from services.edge.feeds.cursors import JetStreamCursorStore


@asynccontextmanager
async def cursor_store(nats_url: str, stream_prefix: str) -> AsyncIterator[JetStreamCursorStore]:
    """The test's cursor bucket, opened on a new connection that is drained on leaving."""
    nc = await nats.connect(nats_url)
    try:
        yield await JetStreamCursorStore.open(nc.jetstream(), f"cursors_{stream_prefix}")
    finally:
        await nc.drain()
