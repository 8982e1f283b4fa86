"""A feed's loop ends when cancelled, even when Python 3.11's `asyncio.wait_for` loses the cancel.

nats-py's KV reads go through `asyncio.wait_for`, which on 3.11 returns the answer instead of
raising when its task is cancelled in the tick the answer arrives (CPython gh-86296). The
cursor store here answers exactly then; the feed must still end, not poll on forever.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from services.edge.feeds.backoff import Backoff
from services.edge.feeds.cursors import MemoryCursorStore
from services.edge.feeds.processor import FeedProcessor
from services.edge.feeds.pull import PullFeed
from services.edge.feeds.websocket import SocketFeed
from tests.unit.edge.support.feed_events import RecordingSink

NOTHING_LISTENS = "http://127.0.0.1:9"  # the discard port: refused at once


class AnsweredAsCancelled(MemoryCursorStore):
    """Reads wait on an answer the test gives in the same tick as it cancels the reader."""

    def __init__(self) -> None:
        super().__init__()
        self.answer: asyncio.Future[str | None] | None = None
        self.asked = asyncio.Event()

    async def get(self, key: str) -> str | None:
        self.answer = asyncio.get_running_loop().create_future()
        self.asked.set()
        return await asyncio.wait_for(self.answer, 5)


@pytest.mark.parametrize("transport", ["pull", "socket"])
async def test_a_feed_cancelled_as_its_cursor_read_is_answered_still_ends(transport: str) -> None:
    cursors = AnsweredAsCancelled()
    processor = FeedProcessor("studio", RecordingSink(), cursors)
    backoff = Backoff(initial=0.01, cap=0.01, jitter=False)
    async with aiohttp.ClientSession() as session:
        feed: PullFeed | SocketFeed
        if transport == "pull":
            feed = PullFeed(
                processor, session, f"{NOTHING_LISTENS}/feed", secret="s", backoff=backoff
            )
        else:
            feed = SocketFeed(processor, session, f"{NOTHING_LISTENS}/ws", backoff=backoff)
        task = asyncio.create_task(feed.run())
        await cursors.asked.wait()
        assert cursors.answer is not None
        cursors.answer.set_result(None)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=2.0)
        assert task in done, "the feed went on after it was cancelled"
        assert task.cancelled()
