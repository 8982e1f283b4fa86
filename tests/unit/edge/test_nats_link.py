"""`/readyz` lists the edge's own NATS connections, and says when one is not usable."""

from __future__ import annotations

from aiohttp import web
from nats.aio.client import Client

from services.edge.natslink import NatsLink
from services.edge.natslink import links
from services.edge.natslink import readiness


async def _opened(_client: Client) -> None:
    return None


def test_a_link_that_is_not_connected_makes_readiness_say_so() -> None:
    app = web.Application()
    assert readiness(app) == {}
    links(app).append(NatsLink("nats://127.0.0.1:1", "livebridge-feeds", _opened))
    assert readiness(app) == {"nats:livebridge-feeds": "not connected"}
