"""Reading an HTTP body whole, up to a bound: what a provider or a platform sends must not
fill the bridge's memory, and a stream's `read(n)` hands over only what has arrived yet
(part of a body that came in several TCP segments). The wallet routes, the feeds and the
front door read their bodies here."""

from __future__ import annotations

import aiohttp


async def read_bounded(content: aiohttp.StreamReader, limit: int) -> bytes | None:
    """Everything `content` carries, or None once it passes `limit` bytes (read no further).
    Into a bytearray: a byte a segment cannot make the copying quadratic."""
    body = bytearray()
    while piece := await content.read(limit + 1 - len(body)):
        body += piece
        if len(body) > limit:
            return None
    return bytes(body)
