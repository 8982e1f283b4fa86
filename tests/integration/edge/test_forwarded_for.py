"""Behind a trusted proxy the allowlist sees the proxy's last hop, over real HTTP, even when
the proxy adds its `X-Forwarded-For` as a line of its own (HAProxy does) after one the
client forged: the wallet edge and the push feed both refuse the real caller."""

from __future__ import annotations

import dataclasses

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from contracts import feeds
from services.edge.config import networks
from services.edge.feeds.cursors import MemoryCursorStore
from services.edge.feeds.processor import FeedProcessor
from services.edge.feeds.push import PushFeed
from services.edge.feeds.push import add_push_routes
from services.edge.security import IpAllowlist
from tests.integration.edge.support.served_edge import provider
from tests.integration.edge.support.served_edge import served_edge
from tests.unit.edge.support.feed_events import RecordingSink
from tests.unit.edge.support.feed_events import round_events

ALLOWED = networks(["203.0.113.0/24"])
PROXY = networks(["127.0.0.1/32"])
"""The test client is the trusted proxy; the provider's own addresses are ALLOWED."""
FORGED = CIMultiDict([("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-For", "198.51.100.1")])
"""The client's forged line first, then the proxy's own naming the real caller."""
HONEST = CIMultiDict([("X-Forwarded-For", "198.51.100.7"), ("X-Forwarded-For", "203.0.113.9")])
"""Some hop first, then the proxy's own naming an allowed caller."""


async def test_a_forged_forwarded_for_line_before_the_proxys_own_does_not_pass_the_allowlist(
    nats_url: str, stream_prefix: str
) -> None:
    evolution = dataclasses.replace(
        provider("evolution", b"evo-TEST-ONLY-token"), allow_ips=ALLOWED, trusted_proxies=PROXY
    )
    async with served_edge(nats_url, stream_prefix, evolution) as edge:
        url = f"{edge.base('evolution')}/balance?authToken=evo-TEST-ONLY-token"
        async with edge.http.post(url, data=b"{}", headers=FORGED) as response:
            assert response.status == 403, await response.text()
            assert (await response.json())["status"] == "INVALID_TOKEN_ID"
        async with edge.http.post(url, data=b"{}", headers=HONEST) as response:
            assert response.status == 200, "past the allowlist: the empty body is refused"
            assert (await response.json())["status"] == "INVALID_PARAMETER"

    feed = PushFeed(
        "feed-TEST-ONLY-secret",
        FeedProcessor("studio", RecordingSink(), MemoryCursorStore()),
        allowlist=IpAllowlist(ALLOWED),
        trusted_proxies=PROXY,
    )
    app = web.Application()
    add_push_routes(app, {"studio": feed})
    body = feeds.encoder.encode(feeds.FeedBatch(events=round_events("studio", "r1")))
    signature = (feeds.SIGNATURE_HEADER, feeds.sign(body, "feed-TEST-ONLY-secret"))
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as http:
        feed_url = server.make_url("/feed/studio")
        forged = CIMultiDict([*FORGED.items(), signature])
        async with http.post(feed_url, data=body, headers=forged) as response:
            assert response.status == 403
            assert (await response.json())["error"] == "LBRG-403 IP_NOT_ALLOWED"
        honest = CIMultiDict([*HONEST.items(), signature])
        async with http.post(feed_url, data=body, headers=honest) as response:
            assert response.status == 200, await response.text()
