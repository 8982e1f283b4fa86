"""The feed's NATS connection is watched: closed by the server, it is reopened.

A 3,000-character feed `round_id` used to reach a JetStream KV key; the server refused the
over-long control line and closed the feed's connection for good, and every later push got
503 until a restart while `/readyz` stayed 200. Such an id is now refused at the feed's
door (400); and whatever closes the connection, it is reopened and the next push is
recorded, while `/readyz` lists the connection.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from contracts import feeds
from services.edge.config import ProviderConfig
from services.edge.config import ProvidersConfig
from services.edge.feeds.setup import setup_feeds
from services.edge.natslink import NATS_LINKS
from services.edge.natslink import readiness
from tests.unit.edge.support.feed_events import RecordingSink
from tests.unit.edge.support.feed_events import round_events

SECRET = "push-secret"


async def push(session: aiohttp.ClientSession, url: str, round_id: str) -> int:
    body = feeds.encoder.encode(feeds.FeedBatch(events=round_events("pushed", round_id)))
    headers = {feeds.SIGNATURE_HEADER: feeds.sign(body, SECRET)}
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        return response.status


async def test_a_feed_connection_the_server_closes_is_reopened_and_pushes_go_on(
    nats_url: str, stream_prefix: str
) -> None:
    provider = ProviderConfig(
        id="pushed",
        dialect="hub88",
        currencies=("EUR",),
        secret=b"x",
        options={"feed": "push", "feed_secret_env": "PUSH_S"},
    )
    app = web.Application()
    sink = RecordingSink()
    setup_feeds(
        app,
        sink=sink,
        providers=ProvidersConfig((provider,)),
        nats_url=nats_url,
        bucket=f"cursors_{stream_prefix}",
        environ={"PUSH_S": SECRET},
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        url = str(server.make_url("/feed/pushed"))
        async with aiohttp.ClientSession() as session:
            assert await push(session, url, "r" * 3000) == 400
            assert await push(session, url, "r-1") == 200
            assert readiness(app) == {"nats:livebridge-feeds": "ok"}
            (link,) = app[NATS_LINKS]
            client = link.client
            assert client is not None
            # What the over-long KV key did: a control line the server refuses; it closes us.
            await client.publish("k" * 5000, b"")
            deadline = time.monotonic() + 10
            while link.reopened < 1:
                assert time.monotonic() < deadline, "the closed connection was not reopened"
                await asyncio.sleep(0.05)
            assert client.is_closed and link.client is not client
            assert await push(session, url, "r-2") == 200
            assert readiness(app) == {"nats:livebridge-feeds": "ok"}
    finally:
        await server.close()
    assert sink.seqs("r-1") == sink.seqs("r-2") == [1, 2, 3, 4, 5, 6]
