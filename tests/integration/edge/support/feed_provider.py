"""A fake game provider on 127.0.0.1: serves a feed log by pull and by WebSocket, and misbehaves.

The log is a list of frames (cursor = its index + 1). The stub can fail the first polls,
repeat frames, swap neighbours, leave an event out (a gap) and drop a socket mid-stream,
as real studios' feeds do. It records every `cursor`/`after` it was asked from.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from dataclasses import field

from aiohttp import web

from contracts import feeds
from contracts.events import AnyProviderEvent


@dataclass
class FeedStub:
    secret: str
    frames: list[list[AnyProviderEvent]] = field(default_factory=list)
    page: int = 3
    fail_polls: int = 0
    drop_polls: int = 0
    """Polls answered by hanging up (no HTTP answer at all), after the failed ones."""
    drop_socket_after: list[int] = field(default_factory=list)
    """For each connection in turn: close it abruptly after this many frames."""
    repeat_frames: set[int] = field(default_factory=set)
    """Cursors whose frame is sent twice."""
    asked: list[str] = field(default_factory=list)
    connections: int = 0
    delay_s: float = 0.0
    """Every poll is answered this late (a slow studio)."""
    binary: bool = False
    """Socket frames are sent as binary messages (the same JSON, as bytes)."""
    cursorless: bool = False
    """Every poll is answered with the first page again and no cursor (a studio that keeps
    no positions)."""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/feed", self.pull)
        app.router.add_get("/ws", self.socket)
        return app

    async def pull(self, request: web.Request) -> web.Response:
        cursor = request.query.get("cursor", "")
        self.asked.append(cursor)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail_polls > 0:
            self.fail_polls -= 1
            return web.Response(status=503, text="studio restarting")
        if self.drop_polls > 0:
            self.drop_polls -= 1
            assert request.transport is not None
            request.transport.close()  # the connection drops mid-request
            return web.Response(status=200)
        start = 0 if self.cursorless else int(cursor or 0)
        events: list[AnyProviderEvent] = []
        for index in range(start, min(start + self.page, len(self.frames))):
            events.extend(self.frames[index])
            if index + 1 in self.repeat_frames:
                events.extend(self.frames[index])
        events.reverse()  # the provider's order is not the round's order
        end = "" if self.cursorless else str(min(start + self.page, len(self.frames)))
        body = feeds.encoder.encode(feeds.FeedBatch(events=events, cursor=end))
        return web.Response(
            body=body,
            content_type="application/json",
            headers={feeds.SIGNATURE_HEADER: feeds.sign(body, self.secret)},
        )

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        after = request.query.get("after", "")
        self.asked.append(after)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        number = self.connections
        self.connections += 1
        drop = self.drop_socket_after[number] if number < len(self.drop_socket_after) else None
        for sent, index in enumerate(range(int(after or 0), len(self.frames)), 1):
            frame = feeds.encoder.encode(
                feeds.FeedFrame(events=self.frames[index], cursor=str(index + 1))
            )
            for _ in range(2 if index + 1 in self.repeat_frames else 1):
                await (ws.send_bytes(frame) if self.binary else ws.send_str(frame.decode()))
            if drop is not None and sent >= drop:
                assert request.transport is not None
                request.transport.close()  # no close frame: a dropped connection
                return ws
        async for _ in ws:  # keep the stream open, as a live feed does, until the client goes
            pass
        return ws


@asynccontextmanager
async def serve(stub: FeedStub) -> AsyncIterator[str]:
    """Run the stub on a free port of 127.0.0.1; yields its base URL."""
    runner = web.AppRunner(stub.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
