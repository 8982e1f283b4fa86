"""round.settle over JetStream and webhooks, against a real nats-server and a local receiver.

The receiver (an aiohttp server in the test) plays the platform: it checks signatures,
stores each settlement once by `eventId`, and can be told to fail, to answer too late, or
to be down altogether.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import pytest
from aiohttp import web
from nats.aio.client import Client

from contracts.platform import DECODER
from contracts.platform import RoundSettle
from services.ledger.application import Ledger
from services.platform.service import SETTLE_FEED
from services.platform.service import parked_bucket
from services.platform.service import settle_feed
from services.platform.service import settle_feed_ctx
from services.platform.settle import SettleTracker
from services.platform.stream import SettleStream
from services.platform.webhooks import EVENT_ID
from services.platform.webhooks import SIGNATURE
from services.platform.webhooks import TIMESTAMP
from services.platform.webhooks import Endpoint
from services.platform.webhooks import Parked
from services.platform.webhooks import ParkedStore
from services.platform.webhooks import WebhookDelivery
from services.platform.webhooks import verify_signature
from tests.integration.support.servers_away import unused_port
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import player_credit

SECRET = "s3cr3t-for-tests"
PLAYERS = ("alice", "bob", "carol")


@dataclass
class Receiver:
    """The platform's webhook endpoint, idempotent by eventId."""

    port: int
    mode: str = "ok"
    requests: int = 0
    bad_signatures: int = 0
    stored: dict[str, RoundSettle] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    repeats: int = 0
    landings: int = 0
    fail_next: int = 0
    """Answer this many more requests 503, whatever the mode."""
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/settle"

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.read()
        if not verify_signature(
            SECRET, request.headers[TIMESTAMP], body, request.headers[SIGNATURE]
        ):
            self.bad_signatures += 1
            return web.Response(status=401)
        if self.mode == "fail" or self.fail_next > 0:
            self.fail_next = max(0, self.fail_next - 1)
            return web.Response(status=503)
        if self.mode == "moved":
            return web.Response(status=302, headers={"Location": "/maintenance"})
        settle = DECODER.decode(body)
        assert settle.event_id == request.headers[EVENT_ID]
        if self.mode == "slow":
            await asyncio.sleep(0.6)  # the sender gives up first: a lost answer
        if settle.event_id in self.stored:
            self.repeats += 1
        else:
            self.stored[settle.event_id] = settle
            self.order.append(settle.event_id)
        return web.Response(status=204)

    async def landing(self, request: web.Request) -> web.Response:
        """A maintenance page: answers anything with 200 and stores nothing."""
        self.landings += 1
        return web.Response(status=200, text="<html>back soon</html>")

    async def up(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/settle", self.handle)
        app.router.add_route("*", "/maintenance", self.landing)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def down(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()
        self.runner = None


@dataclass
class KvAwayOnce(ParkedStore):
    """The parked store, its first write timing out (the KV store briefly away)."""

    failures: int = 1

    async def park(self, endpoint: str, entry: Parked) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise TimeoutError("nats: timeout")
        await super().park(endpoint, entry)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver(port=unused_port())
    await r.up()
    yield r
    if r.runner is not None:
        await r.down()


def open_wallets(app: Ledger) -> None:
    for player in PLAYERS:
        app.open_wallet(player, "EUR")
        app.deposit(player, "EUR", Decimal("1000.00"), tx_id=f"dep-{player}")


def play_rounds(app: Ledger, first: int, count: int) -> None:
    """Every player bets twice and is paid once in each round."""
    for r in range(first, first + count):
        for p in PLAYERS:
            for b in range(2):
                bet = f"{r}-{p}-{b}"
                app.execute(
                    debit(
                        f"d-{bet}", "1.00", player=p, round_id=f"R.{r}", bet_id=f"b-{bet}", picks=()
                    )
                )
            app.execute(player_credit(f"c-{r}-{p}", p, str(r % 3), f"R.{r}"))


def expected(app: Ledger) -> list[RoundSettle]:
    tracker = SettleTracker()
    out: list[RoundSettle] = []
    for n in app.recorder.select_notifications(1, 100_000):
        out += tracker.apply(n.id, app.mapper.to_domain_event(n))
    return out


async def eventually(check: Callable[[], bool], within: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def stream_messages(nc: Client, stream: SettleStream) -> list[RoundSettle]:
    js = nc.jetstream()
    info = await js.stream_info(stream.name)
    return [
        DECODER.decode((await js.get_msg(stream.name, seq=seq)).data or b"")
        for seq in range(1, info.state.last_seq + 1)
    ]


def in_player_order(settles: list[RoundSettle]) -> bool:
    for player in PLAYERS:
        positions = [s.log_position for s in settles if s.player == player]
        if positions != sorted(positions):
            return False
    return True


def platform(
    receiver: Receiver, *, timeout: float, max_attempts: int, backoff: tuple[float, float]
) -> Endpoint:
    """The platform's endpoint at `receiver`, with its retry schedule (base, cap) in seconds."""
    return Endpoint(
        name="platform",
        url=receiver.url,
        secret=SECRET,
        timeout=timeout,
        max_attempts=max_attempts,
        backoff_base=backoff[0],
        backoff_max=backoff[1],
    )


async def test_a_receiver_that_fails_times_out_and_is_down_gets_every_settlement_once(
    nc: Client, receiver: Receiver, stream_prefix: str, app: Ledger
) -> None:
    stream = SettleStream.prefixed(stream_prefix)
    endpoint = platform(receiver, timeout=0.3, max_attempts=1000, backoff=(0.02, 0.2))
    async with settle_feed(ledger=app, nc=nc, endpoints=[endpoint], stream=stream) as feed:
        # The platform answers 503 while the first rounds settle.
        receiver.mode = "fail"
        play_rounds(app, 1, 3)
        await eventually(lambda: receiver.requests >= 5)
        # Then it stores a settlement but answers too late, so it is sent again.
        receiver.mode = "slow"
        await eventually(lambda: receiver.repeats >= 1)
        # Then it is down altogether while more rounds settle.
        await receiver.down()
        play_rounds(app, 4, 3)
        await asyncio.sleep(0.5)
        # And it comes back.
        receiver.mode = "ok"
        await receiver.up()
        play_rounds(app, 7, 2)

        wanted = expected(app)
        await eventually(lambda: len(receiver.stored) == len(wanted))
        await asyncio.sleep(0.3)  # nothing more arrives
        delivery = feed.deliveries["platform"]

    assert len(wanted) == 8 * len(PLAYERS)
    assert set(receiver.stored) == {s.event_id for s in wanted}
    assert in_player_order([receiver.stored[e] for e in receiver.order])
    assert receiver.bad_signatures == 0
    assert receiver.repeats >= 1  # the answers lost while it was slow were sent again
    assert delivery.delivered == len(wanted)  # one acknowledged delivery per settlement
    # The stream holds each settlement once, in log order, as the platform's consumer sees it.
    assert await stream_messages(nc, stream) == sorted(wanted, key=lambda s: s.log_position)


@pytest.mark.parametrize(
    "foreign",
    [
        b"not a settlement",
        b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"eventId": "e-1", "player": "p-1"}',
    ],
    ids=["not JSON", "nested too deeply", "a settlement's fields without the header"],
)
async def test_a_message_on_the_stream_that_is_no_settlement_is_skipped_once_and_for_all(
    nc: Client, receiver: Receiver, stream_prefix: str, app: Ledger, foreign: bytes
) -> None:
    """Anything published under the stream's subjects is fetched too. One that does not
    decode failed the delivery pass, then stayed unacknowledged for good: the consumer's
    ack floor stuck before it, so each restart of the delivery sent every settlement after
    it again. One nested too deeply raised RecursionError past the check and stopped all
    delivery; one that looked like a settlement was POSTed as one."""
    stream = SettleStream.prefixed(stream_prefix)
    js = nc.jetstream()
    await stream.ensure(js)
    await js.publish(f"{stream.root}.evo.R-x", foreign, stream=stream.name)
    play_rounds(app, 1, 1)
    wanted = expected(app)
    for index, settle in enumerate(wanted):
        await stream.publish(js, settle, index)
    parked = await ParkedStore.open(js, parked_bucket(stream))
    endpoint = platform(receiver, timeout=1.0, max_attempts=3, backoff=(0.01, 0.02))
    async with aiohttp.ClientSession() as session:
        for _restart in range(2):
            stop = asyncio.Event()
            delivery = WebhookDelivery(js, session, stream, endpoint, parked)
            running = asyncio.create_task(delivery.run(stop))
            try:
                await eventually(lambda: len(receiver.stored) == len(wanted), within=10)
                await asyncio.sleep(2.5)  # a restart sends again within its 1 s retry pause
            finally:
                stop.set()
                await running

    assert set(receiver.stored) == {s.event_id for s in wanted}
    assert receiver.repeats == 0
    assert await parked.list("platform") == []


async def test_settlements_parked_after_n_failures_are_resent_in_player_order(
    nc: Client, receiver: Receiver, stream_prefix: str, app: Ledger
) -> None:
    stream = SettleStream.prefixed(stream_prefix)
    endpoint = platform(receiver, timeout=0.5, max_attempts=2, backoff=(0.01, 0.02))
    receiver.mode = "fail"
    async with settle_feed(ledger=app, nc=nc, endpoints=[endpoint], stream=stream):
        play_rounds(app, 1, 2)
        js = nc.jetstream()
        parked = await ParkedStore.open(js, parked_bucket(stream))
        await eventually(lambda: receiver.requests >= 2)
        wanted = expected(app)

        async def all_parked() -> bool:
            return len(await parked.list("platform")) == len(wanted)

        deadline = asyncio.get_running_loop().time() + 30
        while not await all_parked():
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
        # Every player has a parked settlement: later ones queue behind it, none is tried.
        requests_when_parked = receiver.requests
        assert requests_when_parked == 2 * len(PLAYERS)
        receiver.mode = "ok"
        play_rounds(app, 3, 1)
        wanted = expected(app)
        while len(await parked.list("platform")) < len(wanted):
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
        assert receiver.stored == {}

        # An operator resends: everything arrives, each player's in order.
        async with aiohttp.ClientSession() as session:
            operator = WebhookDelivery(js, session, stream, endpoint, parked)
            assert await operator.resend() == (len(wanted), 0)
        assert await parked.list("platform") == []

        # Parking is over: the next round goes straight through.
        play_rounds(app, 4, 1)
        wanted = expected(app)
        await eventually(lambda: len(receiver.stored) == len(wanted))

    assert set(receiver.stored) == {s.event_id for s in wanted}
    assert in_player_order([receiver.stored[e] for e in receiver.order])
    assert receiver.repeats == 0


async def test_a_receiver_that_redirects_has_not_taken_the_settlement_so_it_is_parked(
    nc: Client, receiver: Receiver, stream_prefix: str, app: Ledger
) -> None:
    receiver.mode = "moved"
    stream = SettleStream.prefixed(stream_prefix)
    parked = await ParkedStore.open(nc.jetstream(), parked_bucket(stream))
    moved = platform(receiver, timeout=0.5, max_attempts=2, backoff=(0.01, 0.02))
    async with settle_feed(ledger=app, nc=nc, endpoints=[moved], stream=stream) as feed:
        play_rounds(app, 1, 1)
        wanted = expected(app)
        deadline = asyncio.get_running_loop().time() + 10
        while len(entries := await parked.list("platform")) < len(wanted):
            assert feed.deliveries["platform"].delivered == 0, "a redirect counted as delivered"
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)

    assert receiver.landings == 0  # the redirect is not followed with a bodiless GET
    assert receiver.requests == 2 * len(PLAYERS)  # each tried max_attempts times, then parked
    assert {e.event_id for e in entries} == {s.event_id for s in wanted}
    assert all("302" in e.error and "/maintenance" in e.error for e in entries)


async def test_a_settlement_that_could_not_be_parked_still_goes_before_the_players_next(
    nc: Client, receiver: Receiver, stream_prefix: str, app: Ledger
) -> None:
    stream = SettleStream.prefixed(stream_prefix)
    js = nc.jetstream()
    play_rounds(app, 1, 2)
    wanted = expected(app)
    async with settle_feed(ledger=app, nc=nc, stream=stream):  # published, not delivered yet
        deadline = asyncio.get_running_loop().time() + 30
        while (await js.stream_info(stream.name)).state.messages < len(wanted):
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
    # The first settlement tried fails its only attempt, and parking it times out: it is
    # redelivered, and its player's next one, already fetched, must not go before it.
    receiver.fail_next = 1
    once = platform(receiver, timeout=0.5, max_attempts=1, backoff=(0.01, 0.02))
    kv = await ParkedStore.open(js, parked_bucket(stream))
    stop = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        delivery = WebhookDelivery(js, session, stream, once, KvAwayOnce(kv.kv))
        running = asyncio.create_task(delivery.run(stop))
        deadline = asyncio.get_running_loop().time() + 30
        while len(receiver.stored) + len(await kv.list("platform")) < len(wanted):
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
        stop.set()
        await running
        assert in_player_order([receiver.stored[e] for e in receiver.order])
        parked = len(await kv.list("platform"))
        assert await delivery.resend() == (parked, 0)

    assert set(receiver.stored) == {s.event_id for s in wanted}
    assert in_player_order([receiver.stored[e] for e in receiver.order])


async def test_a_restarted_publisher_publishes_nothing_twice_and_carries_on(
    nc: Client, stream_prefix: str, app: Ledger
) -> None:
    stream = SettleStream.prefixed(stream_prefix)
    play_rounds(app, 1, 2)
    async with settle_feed(ledger=app, nc=nc, stream=stream) as feed:
        await eventually(lambda: feed.publisher.published == 2 * len(PLAYERS))
    play_rounds(app, 3, 1)
    async with settle_feed(ledger=app, nc=nc, stream=stream) as feed:
        await eventually(lambda: feed.publisher.published == len(PLAYERS))
        await eventually(feed.publisher.caught_up.is_set)
    messages = await stream_messages(nc, stream)
    assert messages == sorted(expected(app), key=lambda s: s.log_position)
    assert len({m.event_id for m in messages}) == 3 * len(PLAYERS)
    body = msgspec.json.decode((await nc.jetstream().get_msg(stream.name, seq=1)).data or b"")
    assert body["event"] == "round.settle" and body["roundId"] == "R.1"


async def test_a_message_of_another_client_on_the_stream_neither_stalls_nor_repeats_the_feed(
    nc: Client, stream_prefix: str, app: Ledger
) -> None:
    """The publisher resumed after the stream's last message: one without a log position
    (published by another client under the stream's subjects) read as "nothing published",
    so the whole log went out again, refused as duplicates for the duplicate window."""
    stream = SettleStream.prefixed(stream_prefix)
    js = nc.jetstream()
    play_rounds(app, 1, 2)
    async with settle_feed(ledger=app, nc=nc, stream=stream, checkpoint_every=None) as feed:
        await eventually(lambda: feed.publisher.published == 2 * len(PLAYERS))
        await js.publish(f"{stream.root}.evo.R-x", b"{}", stream=stream.name)
        play_rounds(app, 3, 1)
        await eventually(lambda: feed.publisher.published == 3 * len(PLAYERS), within=10)
        await eventually(feed.publisher.caught_up.is_set)
    info = await js.stream_info(stream.name)
    found = [
        (await js.get_msg(stream.name, seq=seq)).data for seq in range(1, info.state.last_seq + 1)
    ]
    settles = [DECODER.decode(data or b"") for data in found if data != b"{}"]
    assert sorted(settles, key=lambda s: s.log_position) == sorted(
        expected(app), key=lambda s: s.log_position
    )


async def test_a_publisher_stuck_on_a_dead_server_is_cancelled_not_waited_for_at_exit(
    nc: Client, stream_prefix: str, app: Ledger
) -> None:
    # A bridge stopping just after its nats-server died: the publisher's step waits on
    # requests that time out one after another. The feed ends without waiting for them.
    stream = SettleStream.prefixed(stream_prefix)
    reading, release = threading.Event(), threading.Event()

    def stuck(start: int, limit: int) -> list[Any]:
        reading.set()
        release.wait(30)
        return []

    try:
        async with settle_feed(ledger=app, nc=nc, stream=stream) as feed:
            await eventually(feed.publisher.caught_up.is_set)
            feed.publisher.read = stuck
            await eventually(reading.is_set)
        assert feed.tasks[0].cancelled(), "the feed waited for its stuck publisher"
    finally:
        release.set()


async def test_the_feed_runs_as_an_aiohttp_cleanup_ctx_on_the_apps_own_keys(
    nc: Client, stream_prefix: str, app: Ledger, receiver: Receiver
) -> None:
    ledger_key = web.AppKey("ledger", Ledger)
    nats_key = web.AppKey("nats", Client)
    web_app = web.Application()

    async def resources(a: web.Application) -> AsyncIterator[None]:
        a[ledger_key], a[nats_key] = app, nc
        yield

    endpoint = Endpoint(name="main", url=receiver.url, secret=SECRET)
    stream = SettleStream.prefixed(stream_prefix)
    web_app.cleanup_ctx.extend(
        [
            resources,
            settle_feed_ctx(ledger=ledger_key, nc=nats_key, endpoints=[endpoint], stream=stream),
        ]
    )
    runner = web.AppRunner(web_app)
    await runner.setup()
    try:
        play_rounds(app, 1, 1)
        await eventually(lambda: len(receiver.stored) == len(PLAYERS))
        assert web_app[SETTLE_FEED].publisher.published == len(PLAYERS)
    finally:
        await runner.cleanup()
    assert all(t.done() for t in web_app[SETTLE_FEED].tasks)


async def test_a_publisher_that_died_mid_way_resumes_after_the_last_settlement_stored(
    nc: Client, stream_prefix: str, app: Ledger
) -> None:
    stream = SettleStream.prefixed(stream_prefix)
    play_rounds(app, 1, 3)
    wanted = expected(app)
    # An earlier run stored the first four settlements, then died.
    await stream.ensure(nc.jetstream())
    await stream.publish_batch(nc, [(s, 0) for s in wanted[:4]], "crashed-run")
    assert await stream.last_published(nc.jetstream()) == (wanted[3].log_position, 0)

    async with settle_feed(ledger=app, nc=nc, stream=stream) as feed:
        await eventually(lambda: feed.publisher.published == len(wanted) - 4)
        await eventually(feed.publisher.caught_up.is_set)

    assert await stream_messages(nc, stream) == wanted


async def test_a_restart_resumes_from_the_checkpoint_not_from_the_start_of_the_log(
    nc: Client, stream_prefix: str, app: Ledger
) -> None:
    stream = SettleStream.prefixed(stream_prefix)
    play_rounds(app, 1, 2)
    async with settle_feed(ledger=app, nc=nc, stream=stream, checkpoint_every=0) as feed:
        await eventually(lambda: feed.publisher.published == 2 * len(PLAYERS))
        await eventually(feed.publisher.caught_up.is_set)
        assert feed.publisher.resumed_from == 0
        checkpointed = feed.publisher.position
    # Open bets at the checkpoint are settled after it.
    for p in PLAYERS:
        app.execute(debit(f"late-{p}", "1.00", player=p, round_id="R.9", picks=()))
    async with settle_feed(ledger=app, nc=nc, stream=stream, checkpoint_every=0) as feed:
        await eventually(feed.publisher.caught_up.is_set)
        assert feed.publisher.resumed_from >= checkpointed > 0
    for p in PLAYERS:
        app.execute(player_credit(f"late-c-{p}", p, "2.00", "R.9"))
    async with settle_feed(ledger=app, nc=nc, stream=stream, checkpoint_every=0) as feed:
        await eventually(lambda: feed.publisher.published == len(PLAYERS))
        await eventually(feed.publisher.caught_up.is_set)
        assert feed.publisher.resumed_from > checkpointed

    messages = await stream_messages(nc, stream)
    assert messages == sorted(expected(app), key=lambda s: s.log_position)
    late = [m for m in messages if m.round_id == "R.9"]
    assert len(late) == len(PLAYERS)
    assert all(m.balance_after == app.balance(m.player, "EUR").balance for m in late)
