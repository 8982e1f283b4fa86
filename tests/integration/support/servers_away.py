"""Servers that are not there: a port nothing listens on, and whether a stream exists."""

from __future__ import annotations

import socket

import nats
from nats.js.errors import NotFoundError


def unused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (now): a server that does not answer."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def has_stream(url: str, stream: str) -> bool:
    client = await nats.connect(url)
    try:
        await client.jetstream().stream_info(stream)
    except NotFoundError:
        return False
    finally:
        await client.close()
    return True
