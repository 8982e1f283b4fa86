"""eventsourcing recorders whose storage is a JetStream stream.

Each recorder is the library's face over one stream: its layout (`layout.py`: subjects,
headers, notifications), its writer (`writer.py`: one atomic batch per `insert_events`,
landing once, with per-aggregate optimistic concurrency) and its reader (`reader.py`: by
aggregate with read-your-writes, by log position, by write). Writer and reader share what
the recorder remembers of each aggregate's head (`heads.py`).

Obligations and failure modes (the writer's and reader's docstrings say more):
- `insert_events` stores all the given events, of any number of aggregates, plus an
  optional tracking record, in ONE atomic batch, or nothing, with `IntegrityError` when a
  concurrent writer moved one of the aggregates first. Calls of more than 1000 messages are
  refused (`ProgrammingError`) rather than split, which would lose atomicity.
- Notification ids are stream sequences: contiguous for an application recorder (nothing is
  ever deleted), with gaps where a process recorder's tracking messages sit.
- The application recorder's `read` runs the reader's coroutines (`recorder.reader`) on the
  connection's loop, for readers that go below the library's notifications.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Coroutine
from collections.abc import Sequence
from concurrent.futures import Executor
from contextlib import AbstractContextManager
from typing import Any
from typing import TypeVar
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder
from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.persistence import IntegrityError
from eventsourcing.persistence import ListenNotifySubscription
from eventsourcing.persistence import Notification
from eventsourcing.persistence import ProcessRecorder
from eventsourcing.persistence import StoredEvent
from eventsourcing.persistence import Subscription
from eventsourcing.persistence import Tracking
from eventsourcing.persistence import TrackingRecorder

from services.eventstore import greenloop
from services.eventstore.connection import JetStreamConnection
from services.eventstore.heads import LAST_SEEN_HEADS
from services.eventstore.heads import LastSeen
from services.eventstore.layout import events_subject
from services.eventstore.layout import ledger_stream_config
from services.eventstore.layout import tracking_subject
from services.eventstore.reader import JetStreamReader
from services.eventstore.writer import JetStreamWriter

T = TypeVar("T")


class JetStreamRecorder:
    """State shared by every JetStream recorder: the connection, the stream it writes, and
    the writer and reader of that stream."""

    def __init__(
        self,
        connection: JetStreamConnection,
        stream: str,
        *,
        snapshots: bool = False,
        create_stream: bool = True,
        replicas: int = 1,
        heads: int = LAST_SEEN_HEADS,
    ) -> None:
        self.connection = connection
        self.stream = stream
        self.snapshots = snapshots
        self.events_subject = events_subject(stream)
        self.tracking_subject = tracking_subject(stream)
        last_seen = LastSeen(heads)
        self.writer = JetStreamWriter(connection, stream, last_seen, snapshots=snapshots)
        self.reader = JetStreamReader(connection, stream, last_seen)
        if create_stream:
            subjects = (
                [self.events_subject] if snapshots else [self.events_subject, self.tracking_subject]
            )
            config = ledger_stream_config(stream, subjects)
            config.num_replicas = replicas
            connection.call(connection.ensure_stream(config))

    def composing(self) -> AbstractContextManager[None]:
        """Around a command that will likely write: batches wait for its write
        (`JetStreamWriter.composing`)."""
        return self.writer.composing()

    @property
    def executor(self) -> Executor:
        """Runs synchronous commands on the store's loop (`JetStreamConnection.executor`)."""
        return self.connection.executor

    acquire = staticmethod(greenloop.acquire)
    """How a command that may run on the store's loop (`JetStreamConnection.executor`) takes
    a lock held across reads or writes: `lock.acquire`, but never blocking the loop."""
    pause = staticmethod(greenloop.sleep)
    """`time.sleep`, never blocking the store's loop."""

    def read(self, reads: Coroutine[Any, Any, T]) -> T:
        """Run `reads` (the reader's coroutines, gathered as the caller likes) on the store's
        loop and wait for the result: reads gathered together go out together."""
        return self.connection.call(reads)


class JetStreamAggregateRecorder(JetStreamRecorder, AggregateRecorder):
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return None
        try:
            self.writer.write(stored_events, None)
        except IntegrityError:
            if not self.snapshots:
                raise
            # Another process stored a snapshot of this aggregate meanwhile; either serves.
        return None

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        return self.read(self.reader.select_events(originator_id, gt, lte, desc, limit))


class JetStreamApplicationRecorder(JetStreamAggregateRecorder, ApplicationRecorder):
    def log_identity(self) -> tuple[str, int]:
        """Which log this is, and its last position: the stream's name and creation time
        (a stream deleted and made again, or another server's, is another log)."""
        return self.read(self.reader.log_identity())

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        return self.writer.write(stored_events, None)

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        first = 1 if start is None else (start if inclusive_of_start else start + 1)
        return self.read(self.reader.select_notifications(max(first, 1), limit, stop, topics))

    def max_notification_id(self) -> int | None:
        return self.read(self.reader.max_notification_id())

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        return JetStreamSubscription(recorder=self, gt=gt, topics=topics)


class JetStreamSubscription(ListenNotifySubscription[JetStreamApplicationRecorder]):
    """Pulls notifications when the stream republishes a stored message, and every second.

    The wake-up comes from the stream's RePublish of stored messages (headers only), never
    from the raw subjects, whose core subscribers also see publishes the stream refused.
    """

    POLL_INTERVAL = 1.0

    def __init__(
        self,
        recorder: JetStreamApplicationRecorder,
        gt: int | None = None,
        topics: Sequence[str] = (),
    ) -> None:
        self._wake_sub: Any = None
        connection = recorder.connection
        note_subject = f"_LB_NOTE.{recorder.events_subject}"

        async def wake(_msg: Any) -> None:
            self._has_been_notified.set()

        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._wake_sub = connection.call(connection.nc.subscribe(note_subject, cb=wake))
        self._ticker = threading.Thread(target=self._tick, daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        while not self._has_been_stopped:
            time.sleep(self.POLL_INTERVAL)
            self._has_been_notified.set()

    def stop(self) -> None:
        super().stop()
        sub, self._wake_sub = self._wake_sub, None
        if sub is not None:
            with contextlib.suppress(Exception):  # the connection may already be closed
                self._recorder.connection.call(sub.unsubscribe(), timeout=5)


class JetStreamTrackingRecorder(JetStreamRecorder, TrackingRecorder):
    def insert_tracking(self, tracking: Tracking) -> None:
        self.writer.write([], tracking)

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.read(self.reader.max_tracking_id(application_name))


class JetStreamProcessRecorder(
    JetStreamTrackingRecorder, JetStreamApplicationRecorder, ProcessRecorder
):
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        tracking: Tracking | None = kwargs.get("tracking")
        return self.writer.write(stored_events, tracking)
