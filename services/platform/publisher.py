"""The settle publisher: a follower of the ledger's notification log that feeds `round.settle`.

It reads the log in order through the library's API (`recorder.select_notifications`,
decoded by the application's mapper) on a worker thread, turns events into settlements with
`SettleTracker`, and publishes them to the settle stream. On start it asks the stream where
it stands (`SettleStream.last_published`), rebuilds its state by reading the log up to that
position without publishing, and then publishes everything after it: exactly once per
`eventId`, in log order (so in order per player), after a crash at any point.

Failure modes: the ledger's store or NATS unreachable -> the loop logs, waits and retries
from where it was (nothing is lost: the log and the stream are the state). The rebuild
reads the whole log once per start; its cost grows with the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.application import Application
from eventsourcing.utils import get_topic
from nats.aio.client import Client

from services.ledger.domain import Bet, TxRecord, Wallet
from services.platform.settle import SettleTracker
from services.platform.stream import BATCH, SettleStream

log = logging.getLogger(__name__)

PAGE = 500
POLL = 0.05
RETRY = 1.0

Read = Callable[[int, int], Sequence[tuple[int, Any]]]
"""(start, limit) -> [(position, domain event or None)] from the ledger's log, from `start`.

None stands for an event the tracker does not need (left undecoded)."""

TOPICS = frozenset(
    get_topic(cls)
    for cls in (
        Wallet.Opened,
        Wallet.Deposited,
        Wallet.Withdrawn,
        Wallet.HoldCaptured,
        Wallet.WinCredited,
        Wallet.SettlementReversed,
        Bet.Placed,
        Bet.Settled,
        Bet.Refunded,
        TxRecord.Created,
    )
)


def log_reader(app: Application[Any]) -> Read:
    """Read every position, but decode only the events `SettleTracker` looks at."""

    def read(start: int, limit: int) -> list[tuple[int, Any]]:
        page = app.recorder.select_notifications(start, limit)
        return [(n.id, app.mapper.to_domain_event(n) if n.topic in TOPICS else None) for n in page]

    return read


class SettlePublisher:
    def __init__(self, nc: Client, stream: SettleStream, read: Read, *, poll: float = POLL) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.stream = stream
        self.read = read
        self.poll = poll
        self.position = 0
        """The last log position read."""
        self.published = 0
        self.caught_up = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the log until `stop` is set, surviving store and NATS outages."""
        while not stop.is_set():
            try:
                await self._follow(stop)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "settle publisher stopped at log position %s; retrying", self.position
                )
                await _wait(stop, RETRY)

    async def _follow(self, stop: asyncio.Event) -> None:
        await self.stream.ensure(self.js)
        resume = await self.stream.last_published(self.js)
        tracker = SettleTracker()
        self.position = 0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            page = await loop.run_in_executor(None, self.read, self.position + 1, PAGE)
            if not page:
                self.caught_up.set()
                await _wait(stop, self.poll)
                continue
            self.caught_up.clear()
            # A page's settlements go out as atomic batches, in order. A refused batch
            # stores nothing and restarts `_follow`, which resumes from the stream's last
            # message: nothing is skipped or repeated.
            out = [
                (settle, index)
                for position, event in page
                if event is not None
                for index, settle in enumerate(tracker.apply(position, event))
                if (position, index) > resume
            ]
            for start in range(0, len(out), BATCH):
                chunk = out[start : start + BATCH]
                await self.stream.publish_batch(self.nc, chunk, uuid.uuid4().hex)
                self.published += len(chunk)
            self.position = page[-1][0]


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
