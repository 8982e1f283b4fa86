"""`setup_feeds` on a real app: one provider per transport mode, cursors in JetStream KV."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from contracts import feeds
from services.edge.config import ProviderConfig
from services.edge.config import ProvidersConfig
from services.edge.config import networks
from services.edge.feeds.processor import FeedProcessor
from services.edge.feeds.setup import setup_feeds
from tests.integration.edge.support.feed_provider import FeedStub
from tests.integration.edge.support.feed_provider import serve
from tests.unit.edge.support.feed_events import RecordingSink
from tests.unit.edge.support.feed_events import round_events


def configured(pid: str, **options: str | float) -> ProviderConfig:
    return ProviderConfig(
        id=pid, dialect="hub88", currencies=("EUR",), secret=b"x", options=dict(options)
    )


async def test_push_pull_and_socket_providers_all_reach_the_sink(
    nats_url: str, stream_prefix: str
) -> None:
    env = {"PUSH_S": "push-secret", "PULL_S": "pull-secret", "TOKEN": "t0k"}
    pulled = FeedStub("pull-secret", [[e] for e in round_events("pulled", "r-p")])
    streamed = FeedStub("", [[e] for e in round_events("streamed", "r-s")])
    sink = RecordingSink()
    async with serve(pulled) as pull_base, serve(streamed) as socket_base:
        config = ProvidersConfig(
            (
                configured("pushed", feed="push", feed_secret_env="PUSH_S"),
                ProviderConfig(
                    id="fenced",
                    dialect="hub88",
                    currencies=("EUR",),
                    secret=b"x",
                    allow_ips=networks(["10.0.0.0/8"]),
                    options={"feed": "push", "feed_secret_env": "PUSH_S"},
                ),
                configured(
                    "pulled",
                    feed="pull",
                    feed_url=f"{pull_base}/feed",
                    feed_secret_env="PULL_S",
                    feed_poll_s=0.05,
                ),
                configured(
                    "streamed", feed="socket", feed_url=f"{socket_base}/ws", feed_token_env="TOKEN"
                ),
            )
        )
        app = web.Application()
        processors: dict[str, FeedProcessor] = setup_feeds(
            app,
            sink=sink,
            providers=config,
            nats_url=nats_url,
            bucket=f"cursors_{stream_prefix}",
            environ=env,
        )
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            body = feeds.encoder.encode(feeds.FeedBatch(events=round_events("pushed", "r-x")))
            headers = {feeds.SIGNATURE_HEADER: feeds.sign(body, "push-secret")}
            async with aiohttp.ClientSession() as session:
                url = str(server.make_url("/feed/pushed"))
                async with session.post(url, data=body, headers=headers) as response:
                    assert response.status == 200
                    ack = feeds.ack_decoder.decode(await response.read())
                    assert ack.accepted == 6
                fenced = str(server.make_url("/feed/fenced"))
                async with session.post(fenced, data=body, headers=headers) as response:
                    assert response.status == 403, "127.0.0.1 is not in the provider's allow_ips"
            deadline = time.monotonic() + 10
            while len(sink.events) < 18:
                assert time.monotonic() < deadline, [e.round_id for e in sink.events]
                await asyncio.sleep(0.02)
        finally:
            await server.close()
    for round_id in ("r-x", "r-p", "r-s"):
        assert sink.seqs(round_id) == [1, 2, 3, 4, 5, 6]
    assert set(processors) == {"pushed", "fenced", "pulled", "streamed"}
