"""The writer of an application's stream: one atomic write per `insert_events`, landing once.

Obligations and failure modes:
- `write` stores all the given events, of any number of aggregates, plus an optional
  tracking record, in ONE atomic batch; each aggregate's first message carries
  `Nats-Expected-Last-Subject-Sequence`, so a concurrent writer makes the whole batch fail
  with `IntegrityError` and nothing is stored. Calls of more than 1000 messages are refused
  (`ProgrammingError`) rather than split, which would lose atomicity.
- A write whose acknowledgement is lost (timeout, reconnect) is retried with the same
  expectations and message ids (unique to that write), so it can land at most once; a
  conflict after such a loss is resolved by reading back the message after the expected
  sequence and comparing its `Nats-Msg-Id` (for every earlier attempt, should the verified
  retry conflict too: an attempt can land after the first read-back). The caller
  gets success only when the events are stored (fsynced), and `IntegrityError` only when
  they are not.
- Concurrent writes share atomic batches (`coalesce.py`); each keeps its own expectations.
  A caller that runs commands in threads says when one is under way (`composing`), so a
  batch waits (at most `GATHER_S`) for the writes of commands still being worked out.
- Each write is an `eventstore.write` span; the caller's W3C `traceparent` is stored on
  every message it writes, so one bet is one trace from its HTTP request to its events.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager

from eventsourcing.persistence import IntegrityError
from eventsourcing.persistence import ProgrammingError
from eventsourcing.persistence import StoredEvent
from eventsourcing.persistence import Tracking
from nats.errors import ConnectionClosedError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from opentelemetry import propagate
from opentelemetry import trace

from services.eventstore.coalesce import Coalescer
from services.eventstore.connection import MAX_BATCH
from services.eventstore.connection import JetStreamConnection
from services.eventstore.connection import JetStreamError
from services.eventstore.connection import OutMsg
from services.eventstore.heads import LastSeen
from services.eventstore.layout import EXPECT_SUBJECT_SEQ
from services.eventstore.layout import HEADER_TOPIC
from services.eventstore.layout import HEADER_TRACKING
from services.eventstore.layout import HEADER_VERSION
from services.eventstore.layout import MSG_ID
from services.eventstore.layout import TRACEPARENT
from services.eventstore.layout import aggregate_token
from services.eventstore.layout import events_subject
from services.eventstore.layout import tracing_on
from services.eventstore.layout import tracking_subject

# Stale expectation (10071, 10164), or a message id already stored (10201: only our own
# earlier attempt can carry it, so it is a conflict unless the read-back finds our batch).
CONFLICT_CODES = {10071, 10164, 10201}
# Outcome unknown: the server may or may not have stored the write.
UNKNOWN_OUTCOME = (TimeoutError, NatsTimeoutError, ConnectionClosedError, NoRespondersError)
WRITE_DEADLINE = 60.0
SHARE_SINGLES_FROM = 16
"""One-message writes in flight from which the next joins the group commit: alone, each is
a plain publish and an fsync of its own; a shared batch costs a few milliseconds, paid
back once a dozen or so share it."""
GATHER_S = 0.0
"""Longest a batch waits for writes of commands still under way (`composing`); off by
default. At 8 ms, a quiet `livebridge bench --only edge` at half the saturated rate measured
p50 403 ms and p99 1,261 ms against 15 ms and 78 ms with it off (back to back, load 1.5):
paced bets queued behind held batches. Larger batches need a design that does not hold one
while commands keep arriving."""
tracer = trace.get_tracer("services.eventstore.recorders")
"""The instrumentation scope the write spans had before the recorders were split: traces
read as they did."""


_COMPOSING: contextvars.ContextVar[frozenset[JetStreamWriter]] = contextvars.ContextVar(
    "composing", default=frozenset()
)
"""The writers the running command is composing for (`JetStreamWriter.composing`): per
thread, per greenlet on a loop (`services.eventstore.greenloop`), per copied context."""


class JetStreamWriter:
    """Writes one stream; shares the aggregates' heads (`last_seen`) with its reader."""

    def __init__(
        self,
        connection: JetStreamConnection,
        stream: str,
        last_seen: LastSeen,
        *,
        snapshots: bool = False,
        gather_s: float = GATHER_S,
    ) -> None:
        self.connection = connection
        self.stream = stream
        self.snapshots = snapshots
        """A snapshot stream: a version already stored is skipped, not a conflict."""
        self._last_seen = last_seen
        self._composing = 0
        """Commands under way (`composing`) that have not sent their write yet."""
        self._composing_lock = threading.Lock()
        self._coalescer = Coalescer(
            self._publish, more_coming=lambda: self._composing > 0, gather_s=gather_s
        )
        self._singles = 0  # one-message writes in flight on their own
        self._writer = uuid.uuid4().hex[:16]
        self._writes = itertools.count()
        self._uncertain: set[str] = set()
        """Ids of writes in flight that lost an acknowledgement (on the loop thread only)."""

    @contextmanager
    def composing(self) -> Iterator[None]:
        """Around a command that will likely write (in a thread, or in a greenlet on the
        loop): until its first write is sent, batches wait for it (at most `GATHER_S`).
        Nested ones count once."""
        if self in _COMPOSING.get():
            yield
            return
        with self._composing_lock:
            self._composing += 1
        _COMPOSING.set(_COMPOSING.get() | {self})
        try:
            yield
        finally:
            self._composed()

    @property
    def queued(self) -> int:
        """Writes waiting for the next shared batch."""
        return self._coalescer.queued

    def _composed(self) -> None:
        """The running command sent its write, or ended without one."""
        composing = _COMPOSING.get()
        if self in composing:
            _COMPOSING.set(composing - {self})
            with self._composing_lock:
                self._composing -= 1

    async def _last_of(
        self, subject: str, token: str, *, starts_aggregate: bool, verified: bool
    ) -> tuple[int, int]:
        """(last version, last seq) of a subject: cached, assumed, or read from the leader.

        Unless `verified` is asked for, a cached head is trusted, and a subject never seen is
        assumed empty when the write starts an aggregate (version 0 or 1); a wrong guess
        only costs one refused write, after which `_awrite` asks again with `verified`.
        """
        if not verified:
            seen = self._last_seen.get(token)
            if seen is not None:
                return seen
            if starts_aggregate:
                return (-1, 0)
        last = await self.connection.last_by_subject(self.stream, subject)
        if last is None:
            return (-1, 0)
        version = int(last.headers.get(HEADER_VERSION, last.headers.get(HEADER_TRACKING, "-1")))
        self._last_seen.put(token, version, last.seq)
        return version, last.seq

    async def _build_batch(
        self,
        stored_events: Sequence[StoredEvent],
        tracking: Tracking | None,
        write_id: str,
        *,
        verified: bool = False,
    ) -> list[OutMsg]:
        """The messages of one atomic write, each aggregate's first one with its expectation."""
        if len(stored_events) + (tracking is not None) > MAX_BATCH:
            raise ProgrammingError(
                f"{len(stored_events)} events in one write; JetStream atomic batches hold at "
                f"most {MAX_BATCH} messages: split the command"
            )
        messages: list[OutMsg] = []
        expected: dict[str, int] = {}
        for event in stored_events:
            token = aggregate_token(event.originator_id)
            subject = events_subject(self.stream, token)
            headers = {
                HEADER_VERSION: str(event.originator_version),
                HEADER_TOPIC: event.topic,
            }
            if token not in expected:
                last_version, last_seq = await self._last_of(
                    subject,
                    token,
                    starts_aggregate=event.originator_version <= 1,
                    verified=verified,
                )
                if event.originator_version <= last_version:
                    if self.snapshots:
                        continue  # a newer snapshot is already stored
                    raise IntegrityError(
                        f"version {event.originator_version} of {event.originator_id} is not "
                        f"after the stored version {last_version}"
                    )
                headers[EXPECT_SUBJECT_SEQ] = str(last_seq)
            elif event.originator_version <= expected[token]:
                raise IntegrityError(
                    f"versions of {event.originator_id} are not increasing within one write"
                )
            expected[token] = event.originator_version
            messages.append(OutMsg(subject, event.state, headers))
        if tracking is not None:
            token = "t:" + tracking.application_name
            subject = tracking_subject(self.stream, tracking.application_name)
            last_id, last_seq = await self._last_of(
                subject, token, starts_aggregate=False, verified=verified
            )
            if tracking.notification_id <= last_id:
                raise IntegrityError(
                    f"tracking {tracking.application_name}#{tracking.notification_id} is not "
                    f"after the recorded {last_id}"
                )
            messages.append(
                OutMsg(
                    subject,
                    b"",
                    {
                        HEADER_TRACKING: str(tracking.notification_id),
                        EXPECT_SUBJECT_SEQ: str(last_seq),
                    },
                )
            )
        for index, message in enumerate(messages):
            message.headers[MSG_ID] = f"{write_id}:{index}/{len(messages)}"
        return messages

    def write(self, stored_events: Sequence[StoredEvent], tracking: Tracking | None) -> list[int]:
        """Store `stored_events` and `tracking` in one atomic write; their notification ids."""
        if not tracing_on():
            # No tracing SDK is set up: the write's span would record nothing (and cost a
            # tenth of a write's time). The caller's own trace, if any, is still stored.
            return self._call_write(stored_events, tracking)
        # Only a caller's trace is stored: an untraced write's own span starts no trace
        # for the events' consumers.
        traced = trace.get_current_span().get_span_context().is_valid
        with tracer.start_as_current_span(
            "eventstore.write",
            kind=trace.SpanKind.PRODUCER,
            attributes={"messaging.destination.name": self.stream, "events": len(stored_events)},
        ) as span:
            ids = self._call_write(stored_events, tracking, traced=traced)
            if ids:
                span.set_attribute("notification_ids", [ids[0], ids[-1]])
            return ids

    def _call_write(
        self,
        stored_events: Sequence[StoredEvent],
        tracking: Tracking | None,
        *,
        traced: bool | None = None,
    ) -> list[int]:
        carrier: dict[str, str] = {}
        if traced is None:
            traced = trace.get_current_span().get_span_context().is_valid
        if traced:
            propagate.inject(carrier)  # the caller's trace continues from the stored events
        self._composed()
        return self.connection.call(
            self._awrite(stored_events, tracking, carrier.get("traceparent")),
            WRITE_DEADLINE + 10,
        )

    async def _awrite(
        self,
        stored_events: Sequence[StoredEvent],
        tracking: Tracking | None,
        traceparent: str | None = None,
    ) -> list[int]:
        # One per write (this recorder's random prefix, a counter): dedup and the read-back
        # after a lost ack only ever match this write's own retry.
        write_id = f"{self._writer}{next(self._writes):x}"
        try:
            messages, last_seq = await self._attempts(
                stored_events, tracking, write_id, traceparent
            )
        finally:
            self._uncertain.discard(write_id)
        if not messages:
            return []
        first_seq = last_seq - len(messages) + 1
        ids = []
        for offset, message in enumerate(messages):
            if HEADER_TRACKING in message.headers and tracking is not None:
                key = "t:" + tracking.application_name
                self._last_seen.put(key, tracking.notification_id, first_seq + offset)
            else:
                key = message.subject.rsplit(".", 1)[1]
                self._last_seen.put(key, int(message.headers[HEADER_VERSION]), first_seq + offset)
                ids.append(first_seq + offset)
        return ids

    async def _attempts(
        self,
        stored_events: Sequence[StoredEvent],
        tracking: Tracking | None,
        write_id: str,
        traceparent: str | None,
    ) -> tuple[list[OutMsg], int]:
        """The write's messages as stored and the sequence of the last one.

        A conflict is retried once on the heads read from the leader. After a lost ack, an
        earlier attempt may land late (after the read-back found nothing, before or during
        the verified retry): a conflict then first looks for each earlier attempt, and the
        write is reported stored if one of them is.
        """
        verified = False
        sent: list[list[OutMsg]] = []
        while True:
            try:
                messages = await self._build_batch(
                    stored_events, tracking, write_id, verified=verified
                )
                if traceparent:
                    for message in messages:
                        message.headers[TRACEPARENT] = traceparent
                if not messages:
                    return [], 0
                sent.append(messages)
                try:
                    if len(messages) == 1 and self._singles < SHARE_SINGLES_FROM:
                        self._singles += 1
                        try:
                            last_seq = await self._publish(messages)
                        finally:
                            self._singles -= 1
                    else:
                        last_seq = await self._coalescer.submit(messages)
                except JetStreamError as error:
                    if error.err_code in CONFLICT_CODES:
                        raise IntegrityError(
                            f"concurrent write to {self.stream}: {error.description}"
                        ) from error
                    raise
                return messages, last_seq
            except IntegrityError:
                self._forget(stored_events, tracking)
                if write_id in self._uncertain:
                    for attempt in sent:
                        landed = await self._landed(attempt)
                        if landed is not None:
                            return attempt, landed
                if verified:
                    raise
                verified = True  # the heads we assumed or cached may be stale: ask the leader

    async def _publish(self, messages: list[OutMsg]) -> int:
        """Publish one atomic batch, retrying lost acks; the sequence of its last message.

        Raises the server's `JetStreamError` when the batch is refused and was not, in fact,
        stored by an earlier attempt whose ack was lost.
        """
        outcome_lost = False
        deadline = time.monotonic() + WRITE_DEADLINE
        while True:
            try:
                return await self.connection.publish_atomic(messages)
            except UNKNOWN_OUTCOME:
                outcome_lost = True
                self._uncertain.update(m.headers[MSG_ID].split(":", 1)[0] for m in messages)
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
            except JetStreamError as error:
                if outcome_lost:
                    landed = await self._landed(messages)
                    if landed is not None:
                        return landed
                raise error

    def _forget(self, stored_events: Sequence[StoredEvent], tracking: Tracking | None) -> None:
        for event in stored_events:
            self._last_seen.forget(aggregate_token(event.originator_id))
        if tracking is not None:
            self._last_seen.forget("t:" + tracking.application_name)

    async def _landed(self, messages: list[OutMsg]) -> int | None:
        """After a lost ack: the batch's last sequence if it is stored, else None.

        The batch's first message expected its subject to end at sequence N; if the batch
        landed, the next message on that subject after N is that first message (later
        writers can only come after it), and the batch's sequences are contiguous.
        """
        first = messages[0]
        after = int(first.headers.get(EXPECT_SUBJECT_SEQ, "0"))
        # From the leader: a lagging replica's direct get could miss a batch that landed.
        found = await self.connection.next_by_subject(self.stream, first.subject, after + 1)
        if found is not None and found.headers.get(MSG_ID) == first.headers[MSG_ID]:
            return found.seq + len(messages) - 1
        return None
