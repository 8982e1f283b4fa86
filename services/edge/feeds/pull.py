"""Pull transport: poll a provider's feed URL with a cursor, backing off on errors.

Each poll is `GET <url>?cursor=<stored cursor>` with `Authorization: Bearer <token>`; the
answer is a `FeedBatch` signed like a push (`X-Feed-Signature`). Its events go to the
`FeedProcessor`; only once they are recorded (or held for a missing seq) is the batch's
`cursor` stored, so a crash re-reads at most one batch, whose duplicates are absorbed.

A non-200 answer, a bad signature, a malformed body, a body over `MAX_BATCH_BYTES` (read
no further: a provider's runaway answer must not fill the bridge's memory), a network
error or a ledger failure is logged and retried with exponential backoff (`backoff.py`);
a good poll resets it. A batch that moves the cursor is followed at once by the next poll;
an empty one, or one whose cursor did not move (a provider answering the same events
again, or with no cursor at all), waits `interval`.
Each poll's time and outcome go to the provider's `ProviderHealth` (the SLA watch); while
the playbook has switched the feed, polls go to `alternate_url` with the same cursor.
"""

from __future__ import annotations

import logging
import time
from typing import Unpack

import aiohttp
import msgspec

from contracts import bodies
from contracts import feeds
from services.edge.bounded import read_bounded
from services.edge.feeds.backoff import pause
from services.edge.feeds.processor import FeedProcessor
from services.edge.feeds.source import FeedOptions
from services.edge.feeds.source import FetchedFeed
from services.edge.health import FEED_POLL

log = logging.getLogger(__name__)

MAX_BATCH_BYTES = 16 << 20


class PollFailed(Exception):
    """The provider's answer could not be used (status, signature or body)."""


class PullFeed(FetchedFeed):
    transport = "pull"

    def __init__(
        self,
        processor: FeedProcessor,
        session: aiohttp.ClientSession,
        url: str,
        *,
        secret: str,
        interval: float = 1.0,
        timeout: float = 10.0,
        max_bytes: int = MAX_BATCH_BYTES,
        **options: Unpack[FeedOptions],
    ) -> None:
        super().__init__(processor, session, url, **options)
        self.secret = secret
        self.max_bytes = max_bytes
        self.interval = interval
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.polls = 0
        self.errors = 0

    async def poll_once(self) -> int:
        """One poll: fetch, verify, record, store the cursor. Returns the events fetched
        from a new position: 0 when the batch's cursor is where the poll asked from."""
        cursor = await self.processor.cursors.get(self.cursor_key)
        params = {"cursor": cursor} if cursor else {}
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.polls += 1
        async with self.session.get(
            self.url, params=params, headers=headers, timeout=self.timeout
        ) as response:
            if response.status != 200:
                raise PollFailed(f"{self.url} answered {response.status}")
            body = await read_bounded(response.content, self.max_bytes)
            if body is None:
                raise PollFailed(f"{self.url} answered more than {self.max_bytes} bytes")
            signature = response.headers.get(feeds.SIGNATURE_HEADER)
        if not feeds.verify(body, self.secret, signature):
            raise PollFailed(f"{self.url} answered with a bad {feeds.SIGNATURE_HEADER}")
        try:
            batch = bodies.decode_with(feeds.raw_batch_decoder, body)
        except msgspec.DecodeError as exc:
            raise PollFailed(f"{self.url} answered a malformed batch: {exc}") from exc
        await self.take(batch.events, log, "pull")
        if not batch.cursor or batch.cursor == cursor:
            return 0  # the same events again next time: not a backlog to poll at once
        await self.processor.cursors.put(self.cursor_key, batch.cursor)
        return len(batch.events)

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            started = time.perf_counter()
            try:
                fetched = await self.poll_once()
            except Exception as exc:  # the provider, the ledger or the cursor store (KV)
                self._observe(started, failed=True)
                self.errors += 1
                delay = self.backoff.next()
                log.warning(
                    "pull feed %s: %s; retrying in %.2fs", self.processor.provider, exc, delay
                )
                await pause(delay)
                continue
            self._observe(started, failed=False)
            self.backoff.reset()
            if not fetched:
                await pause(self.interval)

    def _observe(self, started: float, *, failed: bool) -> None:
        if self.health is not None:
            self.health.record(FEED_POLL, time.perf_counter() - started, failed=failed)
