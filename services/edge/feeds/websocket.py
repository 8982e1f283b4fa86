"""Socket transport: a persistent WebSocket to the provider that resumes where it stopped.

The client connects to `<url>?after=<stored cursor>` (with `Authorization: Bearer
<token>`) and reads `FeedFrame`s: JSON, in text messages or in binary ones (some studios
send bytes). After each frame's events are recorded (or held for a missing seq), its
`cursor` is stored; on any disconnect the client reconnects with exponential backoff and
asks again from the stored cursor, so nothing is lost; what comes twice is told by its
sequence number and goes to the ledger, which absorbs it when it is the same event and
flags the round when it is not.

The backoff starts again from its first step once a frame has been taken, not on connect:
a provider that accepts the connection and closes it at once (a refused token, a studio
overloaded) is asked again less and less often, not several times a second forever.

A malformed frame is logged, counted and skipped without moving the cursor. A ledger
failure drops the connection: the frames after the stored cursor are fetched again.
While the playbook has switched the feed (`ProviderHealth.alternate_feed`), connections go
to `alternate_url`; a switch ends the open connection at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Unpack

import aiohttp
import msgspec

from contracts import bodies
from contracts import feeds
from services.edge.feeds.backoff import pause
from services.edge.feeds.processor import FeedProcessor
from services.edge.feeds.source import FeedOptions
from services.edge.feeds.source import FetchedFeed

log = logging.getLogger(__name__)


class SocketFeed(FetchedFeed):
    transport = "socket"

    def __init__(
        self,
        processor: FeedProcessor,
        session: aiohttp.ClientSession,
        url: str,
        *,
        heartbeat: float = 15.0,
        **options: Unpack[FeedOptions],
    ) -> None:
        super().__init__(processor, session, url, **options)
        self.heartbeat = heartbeat
        self.connections = 0
        self.malformed = 0
        self.connected = asyncio.Event()

    async def run(self) -> None:
        """Stay connected until cancelled."""
        while True:
            try:
                await self.session_once()
                reason = "closed by the provider"
            except Exception as exc:  # the provider, the ledger or the cursor store (KV)
                reason = repr(exc)
            self.connected.clear()
            delay = self.backoff.next()
            log.warning(
                "socket feed %s: %s; reconnecting in %.2fs", self.processor.provider, reason, delay
            )
            await pause(delay)

    async def session_once(self) -> None:
        """One connection, read until it ends."""
        cursor = await self.processor.cursors.get(self.cursor_key)
        params = {"after": cursor} if cursor else {}
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        connected_to = self.url
        async with self.session.ws_connect(
            connected_to, params=params, headers=headers, heartbeat=self.heartbeat
        ) as ws:
            self.connections += 1
            self.connected.set()
            # A switch by the playbook ends this connection; the next one goes to the new URL.
            watcher = asyncio.create_task(self._close_when_switched(ws, connected_to))
            try:
                async for message in ws:
                    if message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                        if message.type == aiohttp.WSMsgType.ERROR:
                            raise aiohttp.ClientError(f"websocket error: {ws.exception()!r}")
                        continue
                    try:
                        frame = bodies.decode_with(feeds.raw_batch_decoder, message.data)
                    except msgspec.DecodeError as exc:
                        self.malformed += 1
                        log.warning("socket feed %s: malformed frame skipped: %s", self.url, exc)
                        continue
                    await self.take(frame.events, log, "websocket")
                    if frame.cursor:
                        await self.processor.cursors.put(self.cursor_key, frame.cursor)
                    self.backoff.reset()  # a frame taken, not a mere connect (module docstring)
            finally:
                watcher.cancel()

    async def _close_when_switched(self, ws: aiohttp.ClientWebSocketResponse, url: str) -> None:
        health = self.endpoints.health
        if health is None:
            return
        switched = health.watch_switch()
        try:
            if self.url == url:  # not switched while connecting
                await switched.wait()
        finally:
            health.unwatch(switched)
        log.warning(
            "socket feed %s: switched to %s; reconnecting", self.processor.provider, self.url
        )
        await ws.close()
