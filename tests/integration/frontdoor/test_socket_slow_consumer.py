"""A client that stops reading its bet socket: closed with 1013 and the reason, promptly,
its mailbox emptied, and it reconnects by position.

The client is a real aiohttp client with a small receive buffer that does not call
`receive` while the bridge pushes to it: its kernel buffers fill, then the bridge's."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
import pytest

from services.frontdoor import pushes
from services.frontdoor import socket as bet_socket
from services.frontdoor.pushes import PUSH_HUB
from services.frontdoor.tables import TABLE_STATUSES
from tests.integration.frontdoor.conftest import Bridge
from tests.integration.frontdoor.test_sessions import evo_session

SLOW = "too many pushes waiting: reconnect with your last position"
"""The reason the bridge gives a slow consumer, with close code 1013 (try again later)."""


def small_receive_buffer(addr_info: Any) -> socket.socket:
    family, kind, proto, _, _ = addr_info
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return sock


def waiting(bridge: Bridge) -> int:
    """Pushes waiting in the mailboxes of every socket of the bridge."""
    hub = bridge.app[PUSH_HUB]
    return sum(box.queue.qsize() for boxes in hub._mailboxes.values() for box in boxes)


def seated(bridge: Bridge) -> int:
    return sum(len(boxes) for boxes in bridge.app[PUSH_HUB]._mailboxes.values())


async def read_to_the_end(
    ws: aiohttp.ClientWebSocketResponse, within: float
) -> tuple[list[str], str]:
    """The types of what the socket was sent, read until it closes (within `within` s),
    and the reason it was closed with."""
    kinds: list[str] = []
    async with asyncio.timeout(within):
        while True:
            message = await ws.receive()
            if message.type is not aiohttp.WSMsgType.TEXT:
                return kinds, str(message.extra or "")
            kinds.append(message.json()["type"])


async def test_a_client_that_stops_reading_while_pushes_pile_up_is_closed_with_1013(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The mailbox overflowed while the socket's pushes waited for the client to read: the
    # overflow went unnoticed (the pushes were stuck in a send), the mailbox kept its 1,000
    # pushes, and the heartbeat cut the socket 30 s later without a close frame: a client
    # reading again then saw 1006 and no reason.
    monkeypatch.setattr(bet_socket, "CLOSE_WITHIN_S", 1.0, raising=False)
    _, token = await evo_session(bridge, "slo")
    url = bridge.client.make_url(f"/platform/v1/player/socket?token={token}")
    statuses = bridge.app[TABLE_STATUSES]
    connector = aiohttp.TCPConnector(socket_factory=small_receive_buffer)
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        http.ws_connect(url) as ws,
    ):
        # The studio reports itself down with a long story, again and again: the pipe to the
        # client fills (some 3.5 MB here), then more notices come than a mailbox holds.
        for n in range(300):
            await statuses.set_provider("evo", up=False, reason=f"{n}: " + "studio down " * 1400)
        for n in range(pushes.MAILBOX + 100):
            await statuses.set_provider("evo", up=False, reason=f"still down ({n})")
        assert waiting(bridge) == 0, "an overflowed mailbox keeps none of the unread pushes"

        # The bridge lets the socket go though the client has not read its close yet.
        for _ in range(50):
            if not seated(bridge):
                break
            await asyncio.sleep(0.1)
        assert not seated(bridge), "the socket was still held 5 s after its mailbox overflowed"

        # The client reads again: what was sent before the close, then the close and why.
        kinds, reason = await read_to_the_end(ws, within=10)
        assert (ws.close_code, reason) == (1013, SLOW), ws.exception()
        assert kinds.count("provider.error") < 300 + pushes.MAILBOX + 100


async def test_a_client_that_stops_reading_a_quiet_socket_is_closed_with_1013(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With few pushes the pipe never fills: a client that stops reading (and so answers no
    # ping) was cut by the heartbeat without a close frame, 1006 and no reason.
    monkeypatch.setattr(bet_socket, "PING_EVERY_S", 0.5, raising=False)
    monkeypatch.setattr(bet_socket, "PONG_WITHIN_S", 0.5, raising=False)
    _, token = await evo_session(bridge, "qui")
    async with bridge.client.ws_connect(f"/platform/v1/player/socket?token={token}") as ws:
        await asyncio.sleep(3)  # not reading, so not answering pings
        kinds, reason = await read_to_the_end(ws, within=5)
        assert (ws.close_code, reason) == (1013, SLOW), ws.exception()
        assert kinds[0] == "limits.update" and "server.time" in kinds
    # A client that reads answers pings and keeps its socket.
    async with bridge.client.ws_connect(f"/platform/v1/player/socket?token={token}") as ws:
        with pytest.raises(TimeoutError):
            await read_to_the_end(ws, within=3)
        assert not ws.closed
