"""The three feed transports against a misbehaving provider on 127.0.0.1, cursors in JetStream KV.

Each transport gets the same two rounds: one whole, one that never sends its seq 4. The
provider repeats events, sends them out of order, fails or drops connections; the sink
must see each round's events once, in order, with the gap reported once, and a restarted
feed must resume from the cursor it stored in KV.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Coroutine
from typing import Any

import aiohttp
import nats
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from contracts import feeds
from contracts.events import AnyProviderEvent
from services.edge.feeds.backoff import Backoff
from services.edge.feeds.cursors import JetStreamCursorStore
from services.edge.feeds.cursors import MemoryCursorStore
from services.edge.feeds.processor import FeedProcessor
from services.edge.feeds.pull import PollFailed
from services.edge.feeds.pull import PullFeed
from services.edge.feeds.push import PushFeed
from services.edge.feeds.push import add_push_routes
from services.edge.feeds.sequencer import Sequencer
from services.edge.feeds.sink import Gap
from services.edge.feeds.websocket import SocketFeed
from services.edge.health import ProviderHealth
from tests.integration.edge.support.cursor_store import cursor_store
from tests.integration.edge.support.feed_provider import FeedStub
from tests.integration.edge.support.feed_provider import serve
from tests.unit.edge.support.feed_events import RecordingSink
from tests.unit.edge.support.feed_events import round_events

SECRET = "feed-TEST-ONLY-secret"
WHOLE = round_events("studio", "r-whole")
HOLED = [e for e in round_events("studio", "r-holed") if e.seq != 4]


def frames() -> list[list[AnyProviderEvent]]:
    """The provider's log: rounds interleaved, r-whole's seq 3 after its seq 4."""
    w, h = WHOLE, HOLED
    return [[w[0]], [h[0], w[1]], [w[3]], [w[2], h[1]], [h[2]], [w[4], h[3]], [w[5], h[4]]]


@pytest.fixture
async def cursors(nats_url: str, stream_prefix: str) -> AsyncIterator[JetStreamCursorStore]:
    async with cursor_store(nats_url, stream_prefix) as store:
        yield store


def processor(sink: RecordingSink, cursors: JetStreamCursorStore, gaps: list[Gap]) -> FeedProcessor:
    return FeedProcessor(
        "studio", sink, cursors, sequencer=Sequencer(gap_timeout=0.3), on_gap=gaps.append
    )


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


def assert_delivered(sink: RecordingSink, gaps: list[Gap]) -> None:
    assert sink.seqs("r-whole") == [1, 2, 3, 4, 5, 6]
    assert sink.seqs("r-holed") == [1, 2, 3, 5, 6]
    assert gaps == [Gap(provider="studio", round_id="r-holed", missing=(4,))]


def complete(sink: RecordingSink, gaps: list[Gap]) -> Callable[[], bool]:
    return lambda: len(sink.events) == len(WHOLE) + len(HOLED) and bool(gaps)


@contextlib.asynccontextmanager
async def running(*coroutines: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(c) for c in coroutines]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_pull_backs_off_on_errors_and_drops_absorbs_repeats_and_reordering_and_a_gap(
    cursors: JetStreamCursorStore,
) -> None:
    stub = FeedStub(SECRET, frames(), page=3, fail_polls=2, drop_polls=1, repeat_frames={2, 5})
    sink, gaps = RecordingSink(), list[Gap]()
    proc = processor(sink, cursors, gaps)
    async with serve(stub) as base, aiohttp.ClientSession() as session:
        backoff = Backoff(initial=0.01, cap=0.05, jitter=False)
        feed = PullFeed(
            proc, session, f"{base}/feed", secret=SECRET, interval=0.02, backoff=backoff
        )
        async with running(feed.run(), proc.run_sweeper(0.05)):
            await until(complete(sink, gaps))
        assert_delivered(sink, gaps)
        # aiohttp itself may resend a poll whose reused connection dropped; either way
        # the dropped poll was asked again from the same cursor.
        assert feed.errors in (2, 3), "two failed polls and a dropped connection were retried"
        assert stub.asked[:4] == ["", "", "", ""], "nothing advanced while the provider failed"
        assert await cursors.get("cursor.studio.pull") == str(len(stub.frames))

        # A restarted bridge asks from the stored cursor and records nothing twice.
        restarted = PullFeed(processor(sink, cursors, []), session, f"{base}/feed", secret=SECRET)
        stub.asked.clear()
        assert await restarted.poll_once() == 0
        assert stub.asked == [str(len(stub.frames))]


async def test_a_pull_answer_larger_than_the_bound_fails_the_poll_unread_and_advances_nothing(
    cursors: JetStreamCursorStore,
) -> None:
    stub = FeedStub(SECRET, frames(), page=3)
    sink = RecordingSink()
    async with serve(stub) as base, aiohttp.ClientSession() as session:
        feed = PullFeed(
            processor(sink, cursors, []), session, f"{base}/feed", secret=SECRET, max_bytes=64
        )
        with pytest.raises(PollFailed, match="more than 64 bytes"):
            await feed.poll_once()
    assert sink.events == [] and await cursors.get("cursor.studio.pull") is None


async def test_a_provider_answering_the_same_events_again_is_polled_each_interval_not_at_once(
    cursors: JetStreamCursorStore,
) -> None:
    # A batch with events was followed at once by the next poll, whether or not its
    # cursor had moved: a studio that answers every poll with its latest events and no
    # cursor was asked hundreds of times a second, each answer absorbed as duplicates.
    stub = FeedStub(SECRET, frames(), page=len(frames()), cursorless=True)
    sink = RecordingSink()
    async with serve(stub) as base, aiohttp.ClientSession() as session:
        url, proc = f"{base}/feed", processor(sink, cursors, [])
        feed = PullFeed(proc, session, url, secret=SECRET, interval=0.5)
        async with running(feed.run()):
            await asyncio.sleep(1.2)
    assert sink.seqs("r-whole") == [1, 2, 3, 4, 5, 6], "what it answered was recorded once"
    assert len(stub.asked) <= 4, f"{len(stub.asked)} polls in 1.2 s at one every 0.5 s"


class FlakyCursors:
    """The KV cursor store, failing its first reads the way a lost NATS connection does."""

    def __init__(self, inner: JetStreamCursorStore, failures: int) -> None:
        self.inner = inner
        self.failures = failures

    async def get(self, key: str) -> str | None:
        if self.failures:
            self.failures -= 1
            raise nats.errors.ConnectionClosedError()
        return await self.inner.get(key)

    async def put(self, key: str, value: str) -> None:
        await self.inner.put(key, value)


@pytest.mark.parametrize("transport", ["pull", "socket"])
async def test_pull_and_socket_feeds_outlive_a_cursor_store_that_fails(
    cursors: JetStreamCursorStore, transport: str
) -> None:
    backoff = Backoff(initial=0.01, cap=0.02, jitter=False)
    flaky = FlakyCursors(cursors, failures=2)
    sink, gaps = RecordingSink(), list[Gap]()
    proc = FeedProcessor(
        "studio", sink, flaky, sequencer=Sequencer(gap_timeout=0.3), on_gap=gaps.append
    )
    async with serve(FeedStub(SECRET, frames())) as base, aiohttp.ClientSession() as session:
        feed: PullFeed | SocketFeed
        if transport == "pull":
            feed = PullFeed(proc, session, f"{base}/feed", secret=SECRET, backoff=backoff)
        else:
            feed = SocketFeed(proc, session, f"{base}/ws", backoff=backoff)
        async with running(feed.run(), proc.run_sweeper(0.05)):
            await until(complete(sink, gaps))
    assert_delivered(sink, gaps)
    assert flaky.failures == 0


async def test_pull_refuses_an_unsigned_answer_and_retries(cursors: JetStreamCursorStore) -> None:
    stub = FeedStub("another-secret", frames())
    sink, gaps = RecordingSink(), list[Gap]()
    async with serve(stub) as base, aiohttp.ClientSession() as session:
        feed = PullFeed(
            processor(sink, cursors, gaps),
            session,
            f"{base}/feed",
            secret=SECRET,
            backoff=Backoff(initial=0.01, cap=0.02, jitter=False),
        )
        async with running(feed.run()):
            await until(lambda: feed.errors >= 3)
    assert sink.events == []
    assert await cursors.get("cursor.studio.pull") is None


async def test_socket_reconnects_after_a_drop_and_resumes_from_its_stored_cursor(
    cursors: JetStreamCursorStore,
) -> None:
    stub = FeedStub(SECRET, frames(), drop_socket_after=[3], repeat_frames={2})
    sink, gaps = RecordingSink(), list[Gap]()
    proc = processor(sink, cursors, gaps)
    async with serve(stub) as base, aiohttp.ClientSession() as session:
        backoff = Backoff(initial=0.01, cap=0.05, jitter=False)
        feed = SocketFeed(proc, session, f"{base}/ws", backoff=backoff, heartbeat=5)
        async with running(feed.run(), proc.run_sweeper(0.05)):
            await until(complete(sink, gaps))
        assert_delivered(sink, gaps)
        assert stub.asked == ["", "3"], "the second connection resumed after frame 3"
        assert feed.connections == 2
        assert await cursors.get("cursor.studio.socket") == str(len(stub.frames))

        # A restarted bridge resumes from KV: the provider is asked only for what is new.
        stub.asked.clear()
        again = SocketFeed(processor(RecordingSink(), cursors, []), session, f"{base}/ws")
        async with running(again.run()):
            await until(lambda: bool(stub.asked))
        assert stub.asked == [str(len(stub.frames))]


async def test_a_socket_feed_takes_frames_sent_as_binary_messages(
    cursors: JetStreamCursorStore,
) -> None:
    # Binary messages were passed over without a word: a studio that sends its frames as
    # bytes had every event dropped, the cursor never moved, nothing counted or logged.
    stub = FeedStub(SECRET, frames(), binary=True)
    sink, gaps = RecordingSink(), list[Gap]()
    proc = processor(sink, cursors, gaps)
    async with serve(stub) as base, aiohttp.ClientSession() as session:
        feed = SocketFeed(proc, session, f"{base}/ws", heartbeat=5)
        async with running(feed.run(), proc.run_sweeper(0.05)):
            await until(complete(sink, gaps))
    assert_delivered(sink, gaps)
    assert await cursors.get("cursor.studio.socket") == str(len(stub.frames))


async def test_a_provider_closing_each_socket_at_once_is_asked_less_and_less_often() -> None:
    # The backoff started again on every connect: a studio that accepts the socket and
    # closes it at once (a refused token) was reconnected to several times a second,
    # forever, a warning logged each time.
    async def refusing(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.close(code=aiohttp.WSCloseCode.POLICY_VIOLATION, message=b"bad token")
        return ws

    app = web.Application()
    app.router.add_get("/ws", refusing)
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as session:
        proc = FeedProcessor("studio", RecordingSink(), MemoryCursorStore())
        backoff = Backoff(initial=0.05, jitter=False)
        feed = SocketFeed(proc, session, str(server.make_url("/ws")), backoff=backoff)
        async with running(feed.run()):
            await asyncio.sleep(1.5)
    # 0.05, 0.1, 0.2, 0.4, 0.8 s between them: 5 connects, where a reset backoff made 20 or more
    assert feed.connections <= 6, f"{feed.connections} connections in 1.5 s"


class SlowSink(RecordingSink):
    delay = 0.0

    def record_event(self, event: AnyProviderEvent) -> None:
        time.sleep(self.delay)
        super().record_event(event)


async def test_push_absorbs_repeats_and_reordering_survives_failures_and_reports_the_gap(
    cursors: JetStreamCursorStore,
) -> None:
    sink, gaps = SlowSink(), list[Gap]()
    proc = processor(sink, cursors, gaps)
    app = web.Application()
    add_push_routes(app, {"studio": PushFeed(SECRET, proc)})
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("/feed/studio"))

    async def post(events: list[AnyProviderEvent], *, secret: str = SECRET, **kw: object) -> int:
        body = feeds.encoder.encode(feeds.FeedBatch(events=events))
        headers = {feeds.SIGNATURE_HEADER: feeds.sign(body, secret)}
        async with session.post(url, data=body, headers=headers, **kw) as response:  # type: ignore[arg-type]
            await response.read()
            return response.status

    try:
        async with aiohttp.ClientSession() as session, running(proc.run_sweeper(0.05)):
            w, h = WHOLE, HOLED
            assert await post([w[1], w[0]]) == 200
            assert await post([w[0]]) == 200, "a repeat is absorbed"
            assert await post([w[2]], secret="forged") == 401
            sink.fail_next = 1
            assert await post([w[3], w[2]]) == 503, "the ledger failed: resend later"
            assert await post([w[3], w[2]]) == 200
            # The provider gives up waiting (a dropped connection) and sends again.
            sink.delay = 0.4
            with pytest.raises(asyncio.TimeoutError):
                await post([w[4]], timeout=aiohttp.ClientTimeout(total=0.1))
            sink.delay = 0.0
            assert await post([w[5], w[4]]) == 200
            assert await post(list(reversed(h))) == 200
            await until(complete(sink, gaps))
            assert_delivered(sink, gaps)
            assert await post([w[0], h[0]]) == 200, "repeats after the round are absorbed"
            assert_delivered(sink, gaps)
    finally:
        await server.close()


@pytest.mark.parametrize("transport", ["pull", "socket"])
async def test_an_event_outside_the_id_policy_is_skipped_and_the_feed_goes_on(
    cursors: JetStreamCursorStore, transport: str
) -> None:
    poison = round_events("studio", "r" * 3000)[0]  # encodes; no decoder takes it
    log = frames()
    log[1] = [*log[1], poison]
    stub = FeedStub(SECRET, log, page=2)
    sink, gaps = RecordingSink(), list[Gap]()
    proc = processor(sink, cursors, gaps)
    async with serve(stub) as base, aiohttp.ClientSession() as session:
        feed: PullFeed | SocketFeed
        if transport == "pull":
            feed = PullFeed(proc, session, f"{base}/feed", secret=SECRET, interval=0.02)
        else:
            feed = SocketFeed(proc, session, f"{base}/ws")
        async with running(feed.run(), proc.run_sweeper(0.05)):
            await until(complete(sink, gaps))
        assert_delivered(sink, gaps)
        assert feed.rejected == 1


async def test_a_socket_feed_switched_by_the_playbook_reconnects_to_the_alternate_at_once(
    cursors: JetStreamCursorStore,
) -> None:
    primary, alternate = FeedStub(SECRET, frames()), FeedStub(SECRET, frames())
    sink, gaps = RecordingSink(), list[Gap]()
    proc = processor(sink, cursors, gaps)
    health = ProviderHealth("studio")
    async with (
        serve(primary) as primary_url,
        serve(alternate) as alternate_url,
        aiohttp.ClientSession() as session,
    ):
        backoff = Backoff(initial=0.01, cap=0.05, jitter=False)
        feed = SocketFeed(
            proc,
            session,
            f"{primary_url}/ws",
            backoff=backoff,
            alternate_url=f"{alternate_url}/ws",
            health=health,
        )
        async with running(feed.run(), proc.run_sweeper(0.05)):
            await until(complete(sink, gaps))
            assert primary.asked == [""] and alternate.asked == []
            health.alternate_feed = True  # the open, idle connection ends; the next goes over
            await until(lambda: bool(alternate.asked))
            assert alternate.asked == [str(len(frames()))], "resumed from the stored cursor"
            health.alternate_feed = False
            # The stub hears the request before the client's handshake completes.
            await until(lambda: len(primary.asked) == 2 and feed.connections == 3)
        assert_delivered(sink, gaps)
        assert feed.connections == 3
