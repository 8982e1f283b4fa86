"""Reads a KV-watched cache serves from memory, counted in requests the client sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from collections.abc import Callable

from nats.aio.client import Client


async def warm(
    client: Client, read: Callable[[], Awaitable[object]], within_s: float = 5.0
) -> None:
    """Read until a read sends nothing: the watch reports a write made elsewhere a moment
    after it is made, and that report drops what a read cached before it arrived."""
    deadline = time.monotonic() + within_s
    while True:
        sent = client.stats["out_msgs"]
        await read()
        if client.stats["out_msgs"] == sent:
            return
        assert time.monotonic() < deadline, "no read was served from memory"
        await asyncio.sleep(0.01)
