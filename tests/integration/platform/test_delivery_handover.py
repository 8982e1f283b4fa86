"""Webhook delivery passing from one bridge to another (the `round-settle` lease moving).

The bridge delivering to the platform is killed (`kill -9`) while the platform is slow to
answer one settlement: the settlements it had taken from its durable consumer are left
unacknowledged there. The bridge that takes the lease over must deliver them before any
later settlement of the same players, and soon: not after the consumer's ack wait.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from dataclasses import field

import aiohttp
import pytest
from aiohttp import web
from nats.aio.client import Client

from services.ledger.application import Ledger
from services.platform.service import parked_bucket
from services.platform.service import settle_feed
from services.platform.stream import SettleStream
from services.platform.webhooks import Endpoint
from services.platform.webhooks import ParkedStore
from services.platform.webhooks import WebhookDelivery
from tests.integration.platform.test_webhooks import PLAYERS
from tests.integration.platform.test_webhooks import SECRET
from tests.integration.platform.test_webhooks import Receiver
from tests.integration.platform.test_webhooks import eventually
from tests.integration.platform.test_webhooks import expected
from tests.integration.platform.test_webhooks import in_player_order
from tests.integration.platform.test_webhooks import play_rounds
from tests.integration.support.servers_away import unused_port


@dataclass
class SlowFirst(Receiver):
    """The platform, holding its first request unanswered until `release` is set."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    held: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        if not self.held.is_set():
            self.held.set()
            await self.release.wait()
            return web.Response(status=503)
        return await super().handle(request)


@pytest.fixture
async def slow_first() -> AsyncIterator[SlowFirst]:
    r = SlowFirst(port=unused_port())
    await r.up()
    yield r
    r.release.set()
    await r.down()


async def test_a_bridge_taking_delivery_over_from_a_killed_one_delivers_what_it_left_first(
    nc: Client, nats_url: str, slow_first: SlowFirst, stream_prefix: str, app: Ledger
) -> None:
    stream = SettleStream.prefixed(stream_prefix)
    endpoint = Endpoint(name="platform", url=slow_first.url, secret=SECRET, timeout=60.0)
    async with settle_feed(ledger=app, nc=nc, stream=stream) as feed:
        play_rounds(app, 1, 2)
        await eventually(lambda: feed.publisher.published == 2 * len(PLAYERS))
        # Bridge A delivers; the platform sits on its first POST, and A is killed meanwhile.
        a = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "tests.integration.platform.support.deliverer"),
            *(nats_url, stream.name, stream.root, slow_first.url, SECRET),
        )
        try:
            await eventually(slow_first.held.is_set)
        finally:
            a.send_signal(signal.SIGKILL)
            await a.wait()
        slow_first.release.set()
        # Bridge B holds the lease now and delivers, while the players go on playing.
        parked = await ParkedStore.open(nc.jetstream(), parked_bucket(stream))
        stop = asyncio.Event()
        async with aiohttp.ClientSession() as session:
            b = WebhookDelivery(nc.jetstream(), session, stream, endpoint, parked)
            await b.start_parked()
            delivering = asyncio.create_task(b.run(stop))
            try:
                play_rounds(app, 3, 2)
                wanted = expected(app)
                await eventually(lambda: len(slow_first.stored) >= len(wanted), within=20)
            finally:
                stop.set()
                await delivering

    assert set(slow_first.stored) == {s.event_id for s in wanted}
    assert in_player_order([slow_first.stored[e] for e in slow_first.order])
