"""A bridge's webhook delivery as a process of its own, to be killed or paused by a test:
`python -m ...deliverer NATS_URL STREAM ROOT ENDPOINT_URL SECRET`.

It delivers the settle stream to the endpoint (name `platform`) as the holder of the
`round-settle` lease does, until it is killed.
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import nats

from services.platform.service import parked_bucket
from services.platform.stream import SettleStream
from services.platform.webhooks import Endpoint
from services.platform.webhooks import ParkedStore
from services.platform.webhooks import WebhookDelivery


async def main(url: str, name: str, root: str, endpoint_url: str, secret: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    stream = SettleStream(name=name, root=root)
    endpoint = Endpoint(name="platform", url=endpoint_url, secret=secret, timeout=60.0)
    parked = await ParkedStore.open(js, parked_bucket(stream))
    async with aiohttp.ClientSession() as session:
        delivery = WebhookDelivery(js, session, stream, endpoint, parked)
        await delivery.start_parked()
        await delivery.run(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
