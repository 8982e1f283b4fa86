"""The settle publisher: a follower of the ledger's notification log that feeds `round.settle`.

It reads the log in order through the library's API (`recorder.select_notifications`,
decoded by the application's mapper) on a worker thread, turns events into settlements with
`SettleTracker`, and publishes them to the settle stream. On start it asks the stream where
it stands (`SettleStream.last_published`), rebuilds its state by reading the log up to that
position without publishing, and then publishes everything after it: exactly once per
`eventId`, in log order (so in order per player), after a crash at any point. The state is
checkpointed every `CHECKPOINT_EVERY` seconds to a JetStream object store, after the
settlements it covers are stored, so a restart reads the log from the last checkpoint
rather than from the start (a checkpoint is ignored if the stream no longer holds the
settlement it was taken after).

Failure modes: the ledger's store or NATS unreachable -> the loop logs, waits and retries
from where it was (nothing is lost: the log and the stream are the state). The rebuild
without a checkpoint reads the whole log.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from eventsourcing.application import Application
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import ObjectStoreConfig
from nats.js.api import StorageType
from nats.js.errors import BucketNotFoundError
from nats.js.errors import ObjectNotFoundError
from nats.js.object_store import ObjectStore
from opentelemetry import trace
from opentelemetry.trace import Span

from contracts.platform import RoundSettle
from contracts.tracing import inject
from contracts.tracing import parent_context
from contracts.tracing import traceparent_of
from contracts.tracing import tracing_on
from services.ledger.domain import BET_EVENTS
from services.ledger.domain import MONEY_EVENTS
from services.ledger.domain import Bet
from services.ledger.domain import TxRecord
from services.ledger.domain import Wallet
from services.ledger.domain import topics_of
from services.ledger.rounds import Round
from services.platform.retry import until_stopped
from services.platform.retry import wait
from services.platform.settle import REPORTED_MEMORY
from services.platform.settle import SettleTracker
from services.platform.stream import BATCH
from services.platform.stream import SettleStream

log = logging.getLogger(__name__)

PAGE = 500
POLL = 0.05
RETRY = 1.0
_tracer = trace.get_tracer("livebridge.platform")
CHECKPOINT_EVERY = 60.0
"""Seconds between checkpoints of the tracker (a restart reads the log from the last one)."""
CHECKPOINT_READ_S = 30.0
"""Seconds a checkpoint's read may take before it is given up and tried again. nats-py's
object store waits for a checkpoint's chunks without end, and a save by another publisher
(the lease's former holder, paused or finishing its last step) removes the chunks of the
checkpoint it replaces, maybe while they are being read."""

Read = Callable[[int, int], Sequence[tuple[int, Any, str | None]]]
"""(start, limit) -> [(position, domain event or None, traceparent)] from the ledger's log,
from `start`.

None stands for an event the tracker does not need (left undecoded); the traceparent is
the one the event was written under (None: none, or no tracing SDK)."""

TOPICS = frozenset(
    topics_of(Wallet.Opened, *MONEY_EVENTS, *BET_EVENTS, TxRecord.Created, Round.EventRecorded)
)


def log_reader(app: Application[Any]) -> Read:
    """Read every position, but decode only the events `SettleTracker` looks at."""

    def read(start: int, limit: int) -> list[tuple[int, Any, str | None]]:
        page = app.recorder.select_notifications(start, limit)
        return [
            (n.id, app.mapper.to_domain_event(n) if n.topic in TOPICS else None, traceparent_of(n))
            for n in page
        ]

    return read


def placed_reader(app: Application[Any]) -> Callable[[str], Any]:
    """A bet's `Bet.Placed` event read back from the ledger by the bet's key (None: no such
    bet): `SettleTracker.recall`, for a reversal of a bet it no longer remembers."""

    def recall(key: str) -> Any:
        for event in app.events.get(uuid.UUID(hex=key), lte=1):
            return event if isinstance(event, Bet.Placed) else None
        return None

    return recall


class _Saved(msgspec.Struct, frozen=True):
    stream_seq: int
    """The settle stream's last sequence when the checkpoint was taken..."""
    msg_id: str
    """...and that message's id: a stream wiped since makes the checkpoint worthless."""
    tracker: bytes


@dataclass
class CheckpointStore:
    """The publisher's last checkpoint, in a JetStream object store (`<stream>_STATE`)."""

    js: JetStreamContext
    bucket: str
    name: str = "settle-tracker"

    async def _store(self) -> ObjectStore:
        try:
            return await self.js.object_store(self.bucket)
        except BucketNotFoundError:
            return await self.js.create_object_store(
                self.bucket, ObjectStoreConfig(storage=StorageType.FILE)
            )

    async def save(self, saved: _Saved) -> None:
        await (await self._store()).put(self.name, msgspec.msgpack.encode(saved))

    async def load(self) -> _Saved | None:
        """The last checkpoint (None: none yet); `TimeoutError` when its read does not end
        within `CHECKPOINT_READ_S`: its chunks were replaced meanwhile, look again."""
        store = await self._store()
        try:
            result = await asyncio.wait_for(store.get(self.name), CHECKPOINT_READ_S)
        except ObjectNotFoundError:
            return None
        return msgspec.msgpack.decode(result.data or b"", type=_Saved)


class SettlePublisher:
    def __init__(
        self,
        nc: Client,
        stream: SettleStream,
        read: Read,
        *,
        poll: float = POLL,
        checkpoint_every: float | None = CHECKPOINT_EVERY,
        reported_bets: int = REPORTED_MEMORY,
        recall: Callable[[str], Any] | None = None,
    ) -> None:
        self.nc = nc
        self.recall = recall
        """`SettleTracker.recall`: reversals of bets reported long ago are told too."""
        self.reported_bets = reported_bets
        """Reported bets the tracker remembers (`SettleTracker.reported_limit`)."""
        self.js = nc.jetstream()
        self.stream = stream
        self.read = read
        self.poll = poll
        self.checkpoint_every = checkpoint_every
        self.checkpoints = CheckpointStore(self.js, f"{stream.name}_STATE")
        self.position = 0
        """The last log position read."""
        self.resumed_from = 0
        """The log position the last start resumed from (0: read the whole log)."""
        self.published = 0
        self.caught_up = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the log until `stop` is set, surviving store and NATS outages."""
        await until_stopped(
            stop,
            self._follow,
            pause=RETRY,
            log=log,
            stopped=lambda: f"settle publisher stopped at log position {self.position}",
            outages=(TimeoutError, OSError, NatsError),  # the server is away
        )

    async def _start(self) -> SettleTracker:
        """The tracker from the last checkpoint still valid for the stream, else a fresh one."""
        self.position = 0
        if self.checkpoint_every is None:
            return SettleTracker(reported_limit=self.reported_bets, recall=self.recall)
        saved = await self.checkpoints.load()
        if saved is None:
            return SettleTracker(reported_limit=self.reported_bets, recall=self.recall)
        if saved.stream_seq and await self.stream.message_id(self.js, saved.stream_seq) != (
            saved.msg_id
        ):
            log.warning("settle checkpoint does not match the stream; reading the whole log")
            return SettleTracker(reported_limit=self.reported_bets, recall=self.recall)
        loop = asyncio.get_running_loop()
        tracker, self.position = await loop.run_in_executor(
            None, SettleTracker.restore, saved.tracker, self.reported_bets, self.recall
        )
        return tracker

    async def _follow(self, stop: asyncio.Event) -> None:
        await self.stream.ensure(self.js)
        resume = await self.stream.last_published(self.js)
        head = await self.stream.head(self.js)
        tracker = await self._start()
        self.resumed_from = self.position
        saved_at = time.monotonic()
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            page = await loop.run_in_executor(None, self.read, self.position + 1, PAGE)
            if not page:
                self.caught_up.set()
                await wait(stop, self.poll)
                continue
            self.caught_up.clear()
            # A page's settlements go out as atomic batches, in order. A refused batch
            # stores nothing and restarts `_follow`, which resumes from the stream's last
            # message: nothing is skipped or repeated.
            # On the worker thread: the tracker may read a forgotten bet back from the log.
            out = await loop.run_in_executor(None, _settlements, tracker, page, resume)
            for start in range(0, len(out), BATCH):
                chunk = out[start : start + BATCH]
                spans = _publish_spans(chunk)
                try:
                    seq = await self.stream.publish_batch(
                        self.nc,
                        [(settle, index) for settle, index, _ in chunk],
                        uuid.uuid4().hex,
                        traces=[_traced_headers(span) for span in spans],
                        after=head[0],  # fenced: refused once another publisher wrote
                    )
                except BaseException as error:
                    _end(spans, error)
                    raise
                _end(spans, None)
                head = (seq, chunk[-1][0].event_id)
                self.published += len(chunk)
            self.position = page[-1][0]
            if (
                self.checkpoint_every is not None
                and time.monotonic() - saved_at >= self.checkpoint_every
            ):
                # Taken after the page's settlements are stored, so resuming from it
                # never skips one.
                state = await loop.run_in_executor(None, tracker.checkpoint, self.position)
                await self.checkpoints.save(
                    _Saved(stream_seq=head[0], msg_id=head[1], tracker=state)
                )
                # Not held until the next checkpoint: 6.8 MB at 15,000 reported bets.
                del state
                saved_at = time.monotonic()


def _settlements(
    tracker: SettleTracker, page: Sequence[tuple[int, Any, str | None]], resume: tuple[int, int]
) -> list[tuple[RoundSettle, int, str | None]]:
    """The settlements `page` completes after `resume` (position, index), with their traces."""
    return [
        (settle, index, traceparent)
        for position, event, traceparent in page
        if event is not None
        for index, settle in enumerate(tracker.apply(position, event))
        if (position, index) > resume
    ]


def _publish_spans(
    chunk: Sequence[tuple[RoundSettle, int, str | None]],
) -> list[Span | None]:
    """A `round.settle publish` span per settlement, in the trace of the event that
    completed it (None for a settlement whose event was written under no trace)."""
    if not tracing_on():
        return [None] * len(chunk)
    return [
        _tracer.start_span(
            "round.settle publish",
            context=parent_context(traceparent),
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "nats",
                "livebridge.event_id": settle.event_id,
                "livebridge.round_id": settle.round_id,
                "livebridge.log_position": settle.log_position,
            },
        )
        if traceparent
        else None
        for settle, _index, traceparent in chunk
    ]


def _traced_headers(span: Span | None) -> dict[str, str]:
    """The W3C headers that carry `span` to the settlement's consumers."""
    if span is None:
        return {}
    with trace.use_span(span, end_on_exit=False):
        return inject({})


def _end(spans: Sequence[Span | None], error: BaseException | None) -> None:
    for span in spans:
        if span is None:
            continue
        if error is not None:
            span.record_exception(error)
            span.set_status(trace.StatusCode.ERROR, str(error))
        span.end()
