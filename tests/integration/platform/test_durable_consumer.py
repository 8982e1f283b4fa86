"""The platform's durable consumer on `round.settle`: it stops, resumes, misses nothing.

The platform reads the settle stream with a durable pull consumer, stores each settlement
once by `eventId` and acknowledges it afterwards, one at a time (`max_ack_pending=1`: a
settlement left unacknowledged is redelivered before any later one, so a player's
settlements keep their order). It stops cleanly once, crashes once between storing a
settlement and acknowledging it, and is away while more rounds settle; in the end it
holds every settlement exactly once, each player's in log order.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

import nats
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy
from nats.js.api import ConsumerConfig
from nats.js.api import DeliverPolicy

from contracts.platform import DECODER
from contracts.platform import RoundSettle
from services.ledger.application import Ledger
from services.platform.service import settle_feed
from services.platform.stream import SettleStream
from tests.integration.platform.test_webhooks import PLAYERS
from tests.integration.platform.test_webhooks import eventually
from tests.integration.platform.test_webhooks import expected
from tests.integration.platform.test_webhooks import in_player_order
from tests.integration.platform.test_webhooks import play_rounds

DURABLE = "platform"


@dataclass
class Platform:
    """The platform's side: settlements stored once by eventId, in the order first seen."""

    nats_url: str
    stream: SettleStream
    stored: dict[str, RoundSettle] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    deliveries: int = 0
    repeats: int = 0

    def store(self, settle: RoundSettle) -> None:
        if settle.event_id in self.stored:
            self.repeats += 1
            return
        self.stored[settle.event_id] = settle
        self.order.append(settle.event_id)

    async def consume(self, *, count: int | None = None, crash_after: int | None = None) -> None:
        """Connect, take `count` settlements (all there are, if None), disconnect.

        With `crash_after`, the connection dies after storing that many settlements of
        this session, the last one stored but not acknowledged.
        """
        client = await nats.connect(self.nats_url)
        try:
            js = client.jetstream()
            sub = await js.pull_subscribe(
                f"{self.stream.root}.>",
                durable=DURABLE,
                stream=self.stream.name,
                config=ConsumerConfig(
                    durable_name=DURABLE,
                    ack_policy=AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.ALL,
                    ack_wait=1.0,
                    max_ack_pending=1,
                ),
            )
            taken = 0
            while count is None or taken < count:
                try:
                    (msg,) = await sub.fetch(1, timeout=2.5)
                except NatsTimeout:
                    return  # nothing more for now (a redelivery is due within ack_wait)
                self.deliveries += 1
                self.store(DECODER.decode(msg.data))
                taken += 1
                if crash_after is not None and taken == crash_after:
                    return  # stored, never acknowledged: the connection goes away
                await msg.ack_sync()
        finally:
            await client.close()


async def test_a_durable_consumer_that_stops_and_resumes_gets_every_settlement_once_in_order(
    nats_url: str, nc: Client, stream_prefix: str, app: Ledger
) -> None:
    stream = SettleStream.prefixed(stream_prefix)
    platform = Platform(nats_url, stream)
    async with settle_feed(ledger=app, nc=nc, stream=stream) as feed:
        play_rounds(app, 1, 3)
        await eventually(lambda: feed.publisher.published == 3 * len(PLAYERS))
        # The platform takes five settlements, then stops cleanly.
        await platform.consume(count=5)
        # Two rounds settle while it is away; it comes back, stores three more and dies
        # before acknowledging the third.
        play_rounds(app, 4, 2)
        await platform.consume(crash_after=3)
        # Three more rounds while it is down; then it comes back for good.
        play_rounds(app, 6, 3)
        wanted = expected(app)
        await eventually(lambda: feed.publisher.published == len(wanted))
        while len(platform.stored) < len(wanted):
            await platform.consume()

    assert len(wanted) == 8 * len(PLAYERS)
    assert set(platform.stored) == {s.event_id for s in wanted}
    # Only the settlement stored but not acknowledged came twice (and was known by eventId).
    assert platform.repeats == 1
    assert platform.deliveries == len(wanted) + 1
    assert in_player_order([platform.stored[e] for e in platform.order])
    # First seen in log order: exactly the stream's order.
    assert platform.order == [s.event_id for s in sorted(wanted, key=lambda s: s.log_position)]
