"""Delivery once thousands of settlements are parked (the platform down past `max_attempts`).

Every later settlement of a parked player is parked behind the first; before each, the
delivery looks again at who is parked (an operator may have resent them). That look must
not cost a read of every parked entry: with thousands parked, each settlement took most of
a second and delivery fell ever further behind the settlements coming in.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import msgspec
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy
from nats.js.api import ConsumerConfig
from nats.js.api import DeliverPolicy

from services.platform.service import parked_bucket
from services.platform.stream import POSITION
from services.platform.stream import SettleStream
from services.platform.webhooks import Endpoint
from services.platform.webhooks import Parked
from services.platform.webhooks import ParkedStore
from services.platform.webhooks import WebhookDelivery
from tests.integration.platform.test_webhooks import SECRET
from tests.integration.support.servers_away import unused_port

PARKED = 3000
LATER = 40


async def settle(js: JetStreamContext, stream: SettleStream, player: str, seq: int) -> None:
    """A settlement of `player` on the stream (what delivery reads of it: id and player,
    and the publisher's log-position header)."""
    body = msgspec.json.encode({"eventId": f"rs_{seq}", "player": player})
    subject = f"{stream.root}.evo.R-{seq}"
    await js.publish(subject, body, stream=stream.name, headers={POSITION: str(seq)})


async def acked(js: JetStreamContext, stream: SettleStream, durable: str) -> int:
    """The last stream sequence up to which the delivery's consumer has acknowledged all."""
    floor = (await js.consumer_info(stream.name, durable)).ack_floor
    return (floor.stream_seq or 0) if floor else 0


async def test_a_parked_players_next_settlements_are_parked_behind_quickly_among_thousands(
    nc: Client, stream_prefix: str
) -> None:
    js = nc.jetstream()
    stream = SettleStream.prefixed(stream_prefix)
    await stream.ensure(js)
    store = await ParkedStore.open(js, parked_bucket(stream))
    # Thousands parked while the platform was down, alice's first among them; delivery
    # went on after them.
    players = ["alice", *(f"player-{n % 500}" for n in range(1, PARKED))]
    await asyncio.gather(
        *(settle(js, stream, player, seq) for seq, player in enumerate(players, 1))
    )
    await asyncio.gather(
        *(
            store.park(
                "platform",
                Parked(
                    seq=seq,
                    event_id=f"rs_{seq}",
                    player=player,
                    attempts=24,
                    error="HTTP 503",
                    parked_at=0.0,
                ),
            )
            for seq, player in enumerate(players, 1)
        )
    )
    endpoint = Endpoint(name="platform", url=f"http://127.0.0.1:{unused_port()}/", secret=SECRET)
    durable = f"webhook_{endpoint.name}"
    await js.add_consumer(
        stream.name,
        ConsumerConfig(
            durable_name=durable,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=PARKED + 1,
            ack_policy=AckPolicy.EXPLICIT,
        ),
    )
    # alice's next settlements come in (after the ones parked).
    for n in range(LATER):
        await settle(js, stream, "alice", PARKED + 1 + n)

    stop = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        delivery = WebhookDelivery(js, session, stream, endpoint, store)
        await delivery.start_parked()
        started = time.monotonic()
        running = asyncio.create_task(delivery.run(stop))
        try:
            deadline = started + 30
            while await acked(js, stream, durable) < PARKED + LATER:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await running
    took = time.monotonic() - started

    assert len(await store.list("platform")) == PARKED + LATER  # none of them posted
    assert took < 10, f"{LATER} settlements parked behind took {took:.1f} s"
