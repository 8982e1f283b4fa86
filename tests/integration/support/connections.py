"""Two connections to one nats-server: two processes of the bridge sharing its buckets."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import nats
from nats.aio.client import Client


@contextlib.asynccontextmanager
async def two_processes(nats_url: str) -> AsyncIterator[tuple[Client, Client]]:
    """Here (the process under test) and there (another one), drained after."""
    here, there = await nats.connect(nats_url), await nats.connect(nats_url)
    try:
        yield here, there
    finally:
        await here.drain()
        await there.drain()
