"""eventsourcing recorders whose storage is a JetStream stream.

Layout of one application's stream `S` (e.g. `LB_LEDGER`):

    S.e.<aggregate token>      the aggregate's events, one message each, in version order
    S.t.<upstream token>       a tracking record per processed upstream notification

The aggregate token encodes the originator id reversibly (`u<hex>` for a UUID,
`s<base32>` for a string id), so ids come back with the type they went in with. Each
event message carries `ES-Version` and `ES-Topic` headers and the event state as payload.

Obligations and failure modes:
- `insert_events` stores all the given events, of any number of aggregates, plus an
  optional tracking record, in ONE atomic batch; each aggregate's first message carries
  `Nats-Expected-Last-Subject-Sequence`, so a concurrent writer makes the whole batch fail
  with `IntegrityError` and nothing is stored. Calls of more than 1000 messages are refused
  (`ProgrammingError`) rather than split, which would lose atomicity.
- Notification ids are stream sequences: contiguous for an application recorder (nothing is
  ever deleted), with gaps where a process recorder's tracking messages sit.
- A write whose acknowledgement is lost (timeout, reconnect) is retried with the same
  expectations and message ids (unique to that write), so it can land at most once; a
  conflict after such a loss is resolved by reading back the message after the expected
  sequence and comparing its `Nats-Msg-Id` (for every earlier attempt, should the verified
  retry conflict too: an attempt can land after the first read-back). The caller
  gets success only when the events are stored (fsynced), and `IntegrityError` only when
  they are not.
- Each message's id is `<write id>:<index>/<length>`, so the whole write is found from
  any one of its messages (`write_containing`): a bet's wallet movements, say.
- Each write is an `eventstore.write` span; the caller's W3C `traceparent` is stored on
  every message it writes, so one bet is one trace from its HTTP request to its events.
- Reads use batch direct get and never create consumers. After a write, the recorder
  remembers each aggregate's last sequence and re-reads until a (possibly lagging) replica
  has caught up to it: read-your-writes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    IntegrityError,
    ListenNotifySubscription,
    Notification,
    ProcessRecorder,
    ProgrammingError,
    StoredEvent,
    Subscription,
    Tracking,
    TrackingRecorder,
)
from nats.errors import ConnectionClosedError, NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from opentelemetry import propagate, trace

from services.eventstore.coalesce import Coalescer
from services.eventstore.connection import (
    MAX_BATCH,
    JetStreamConnection,
    JetStreamError,
    OutMsg,
    StoredMsg,
    ledger_stream_config,
)

READ_PAGE = 1000
SEEK_AFTER = 100
"""Loads after this many versions seek their first message instead of reading from the
start (a seek costs a few direct gets; reading 100 messages costs about as much)."""
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
HEADER_VERSION = "ES-Version"
HEADER_TOPIC = "ES-Topic"
HEADER_TRACKING = "ES-Tracking"
TRACEPARENT = "traceparent"  # W3C trace context of the command that wrote the event
EXPECT_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
MSG_ID = "Nats-Msg-Id"
_TOKEN_OK = re.compile(r"^[A-Za-z0-9_-]+$")
tracer = trace.get_tracer(__name__)


def aggregate_token(originator_id: UUID | str) -> str:
    if isinstance(originator_id, UUID):
        return "u" + originator_id.hex
    return "s" + base64.b32encode(originator_id.encode()).decode().rstrip("=").lower()


def originator_from_token(token: str) -> UUID | str:
    if token[0] == "u":
        return UUID(hex=token[1:])
    body = token[1:].upper()
    return base64.b32decode(body + "=" * (-len(body) % 8)).decode()


def _tracing_on() -> bool:
    """Whether a tracing SDK is installed (without one, every span is a no-op)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


@dataclass(frozen=True)
class TracedNotification(Notification):
    """A notification with the `traceparent` of the command that wrote it (None: none)."""

    traceparent: str | None = None


def as_notification(message: StoredMsg, *, traced: bool = False) -> TracedNotification:
    """A stored event message as the library's notification (its id is the stream seq);
    `traced`: with the `traceparent` it was written under."""
    return TracedNotification(
        id=message.seq,
        originator_id=originator_from_token(message.subject.rsplit(".", 1)[1]),
        originator_version=int(message.header(HEADER_VERSION)),
        topic=message.header(HEADER_TOPIC),
        state=message.data,
        traceparent=message.find_header(TRACEPARENT) if traced else None,
    )


def write_of(message: StoredMsg) -> tuple[str, int, int]:
    """(write id, index in the write, length of the write) of a message the recorder wrote.

    From its `Nats-Msg-Id` (`<write id>:<index>/<length>`); a message without one is taken
    as a write of its own.
    """
    write_id, _, place = (message.find_header(MSG_ID) or "").rpartition(":")
    index, _, length = place.partition("/")
    if not write_id or not index.isdigit() or not length.isdigit():
        return str(message.seq), 0, 1
    return write_id, int(index), int(length)


def name_token(name: str) -> str:
    """A subject token for an application name (readable when it is already safe)."""
    return name if _TOKEN_OK.match(name) else aggregate_token(name)


def stream_name(prefix: str, app_name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", app_name).upper()
    return f"{prefix}_{cleaned}" if prefix else cleaned


LAST_SEEN_HEADS = 100_000
"""Aggregates whose head (last version and sequence) a recorder remembers by default
(`NATS_LAST_SEEN_HEADS`): a write to one it forgot first asks the server for it."""
HEAD_BYTES = 300
"""Measured (tests/unit/eventstore/test_last_seen.py): one remembered head, its token and
its entry, about 240 bytes."""


class _LastSeen:
    """A bounded map of aggregate token -> (last version, last stream sequence)."""

    def __init__(self, size: int = LAST_SEEN_HEADS) -> None:
        self._items: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, token: str) -> tuple[int, int] | None:
        with self._lock:
            return self._items.get(token)

    def put(self, token: str, version: int, seq: int) -> None:
        with self._lock:
            current = self._items.get(token)
            if current is not None and current[1] >= seq:
                return
            self._items[token] = (version, seq)
            self._items.move_to_end(token)
            if len(self._items) > self._size:
                self._items.popitem(last=False)

    def forget(self, token: str) -> None:
        with self._lock:
            self._items.pop(token, None)


class JetStreamRecorder:
    """State shared by every JetStream recorder: the connection and the stream it writes."""

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
        self.events_subject = f"{stream}.e.*"
        self.tracking_subject = f"{stream}.t.*"
        self._last_seen = _LastSeen(heads)
        self._seeks = _LastSeen(10_000)  # token -> (version, seq of the version after it)
        self._coalescer = Coalescer(self._publish)
        self._singles = 0  # one-message writes in flight on their own
        self._writer = uuid.uuid4().hex[:16]
        self._writes = itertools.count()
        self._uncertain: set[str] = set()
        """Ids of writes in flight that lost an acknowledgement (on the loop thread only)."""
        if create_stream:
            subjects = (
                [self.events_subject] if snapshots else [self.events_subject, self.tracking_subject]
            )
            config = ledger_stream_config(stream, subjects)
            config.num_replicas = replicas
            connection.call(connection.ensure_stream(config))

    # -- writing ---------------------------------------------------------------------------

    def _event_subject(self, token: str) -> str:
        return f"{self.stream}.e.{token}"

    def _tracking_subject(self, application_name: str) -> str:
        return f"{self.stream}.t.{name_token(application_name)}"

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
            subject = self._event_subject(token)
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
            subject = self._tracking_subject(tracking.application_name)
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

    def _write(self, stored_events: Sequence[StoredEvent], tracking: Tracking | None) -> list[int]:
        if not _tracing_on():
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

    # -- reading ---------------------------------------------------------------------------

    async def aggregate_messages(self, originator_id: UUID | str) -> list[StoredMsg]:
        """Every stored event message of one aggregate, in version order."""
        token = aggregate_token(originator_id)
        return await self._read_subject(self._event_subject(token), token)

    async def write_containing(
        self, message: StoredMsg, known: Mapping[int, StoredMsg] | None = None
    ) -> list[StoredMsg]:
        """Every message of the write that stored `message`, in log order.

        Each message of a write carries `Nats-Msg-Id` `<write id>:<index>/<length>`, and a
        write's messages are contiguous in the log (in an atomic batch of their own or
        shared with other writes), so the write spans `length` positions from `index`
        positions before `message`. Messages the caller has already read (`known`, by
        position) are not read again.
        """
        write_id, index, length = write_of(message)
        positions = range(message.seq - index, message.seq - index + length)
        have = {**(known or {}), message.seq: message}
        found = {seq: have[seq] for seq in positions if seq in have}
        missing = [seq for seq in positions if seq not in found]
        if missing:
            page = await self.connection.get_range(
                self.stream, missing[0], missing[-1] - missing[0] + 1
            )
            found.update((m.seq, m) for m in page if m.seq not in found)
        write = [found[seq] for seq in positions if seq in found]
        if len(write) != length or any(write_of(m)[0] != write_id for m in write):
            raise IntegrityError(f"{self.stream}: the write of message {message.seq} is not whole")
        return write

    async def _read_subject(self, subject: str, token: str, first: int = 1) -> list[StoredMsg]:
        """The messages on one subject from sequence `first` on, caught up to what this
        recorder last wrote there."""
        seen = self._last_seen.get(token)
        must_reach = seen[1] if seen else 0
        for _attempt in range(50):
            messages: list[StoredMsg] = []
            start = first
            while True:
                page, _stream_last = await self.connection.get_batch(
                    self.stream, subject, start, READ_PAGE
                )
                messages.extend(page)
                if len(page) < READ_PAGE:
                    break
                start = page[-1].seq + 1
            if must_reach < first or (messages and messages[-1].seq >= must_reach):
                return messages
            await asyncio.sleep(0.01)  # a lagging replica answered; ask again
        raise IntegrityError(f"{subject}: replicas did not catch up to seq {must_reach}")


class JetStreamAggregateRecorder(JetStreamRecorder, AggregateRecorder):
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return None
        try:
            self._write(stored_events, None)
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
        return self.connection.call(self._select_events(originator_id, gt, lte, desc, limit))

    async def _select_events(
        self,
        originator_id: UUID | str,
        gt: int | None,
        lte: int | None,
        desc: bool,
        limit: int | None,
    ) -> list[StoredEvent]:
        token = aggregate_token(originator_id)
        subject = self._event_subject(token)
        messages: list[StoredMsg] = []
        if desc and limit == 1 and gt is None:
            # The latest snapshot, or the head of an aggregate: one leader read.
            last = await self.connection.last_by_subject(self.stream, subject)
            if last is None:
                return []
            if lte is None or int(last.headers[HEADER_VERSION]) <= lte:
                messages = [last]
        if not messages:
            first = 1
            seen = self._last_seen.get(token)
            if gt is not None and seen is not None and seen[0] == gt:
                # Catching up a cached aggregate this recorder last wrote or read: only
                # what came after its head (usually nothing) is read.
                first = seen[1] + 1
            elif gt is not None and gt >= SEEK_AFTER:
                seek = await self._seek_version(subject, token, gt)
                if seek is None:
                    return []
                first = seek
            messages = await self._read_subject(subject, token, first)
        events = [
            StoredEvent(
                originator_id=originator_id,
                originator_version=int(m.header(HEADER_VERSION)),
                topic=m.header(HEADER_TOPIC),
                state=m.data,
            )
            for m in messages
        ]
        if messages and lte is None:  # read to the end: the last one is the head
            self._last_seen.put(token, events[-1].originator_version, messages[-1].seq)
        if gt is not None:
            events = [e for e in events if e.originator_version > gt]
        if lte is not None:
            events = [e for e in events if e.originator_version <= lte]
        if desc:
            events.reverse()
        if limit is not None:
            events = events[:limit]
        return events

    async def _seek_version(self, subject: str, token: str, gt: int) -> int | None:
        """The stream sequence to read `subject` from to get its versions after `gt`.

        A load after a snapshot asks for the versions after the snapshot's; reading the
        subject from its start would cost every earlier event (a wallet with 100,000
        transactions, 100,000 messages). An aggregate's versions run 1, 2, 3... along its
        subject, so the message of version `gt + 1` is searched for over stream sequences,
        each probe a one-message direct get of the first message on the subject at or
        after a sequence: interpolation steps (one probe when the aggregate's events are
        evenly spread) alternate with bisection steps (never more than about log2 of the
        stream's length). The answer never changes (the log is append-only), so it is kept.
        None: nothing after `gt` is stored.
        """
        known = self._seeks.get(token)
        if known is not None and known[0] == gt:
            return known[1]
        head = await self.connection.last_by_subject(self.stream, subject)
        if head is None or int(head.headers[HEADER_VERSION]) <= gt:
            return None
        left = (0, 0)  # (version, seq) of a message known to be at or before the target
        right = (int(head.headers[HEADER_VERSION]), head.seq)  # one known to be at or after
        low, high = gt + 1, right[1] - (right[0] - gt - 1)  # seqs the target can have
        interpolate = True
        while low < high:
            if interpolate:
                slope = (right[1] - left[1]) / (right[0] - left[0])
                guess = min(high, max(low, left[1] + round((gt + 1 - left[0]) * slope)))
            else:
                guess = (low + high) // 2
            interpolate = not interpolate
            page, _ = await self.connection.get_batch(self.stream, subject, guess, 1)
            probe = page[0] if page else None
            if probe is None:  # a replica behind the leader: ask the leader
                probe = await self.connection.next_by_subject(self.stream, subject, guess)
            assert probe is not None, f"{subject}: the head at {head.seq} vanished"
            version = int(probe.headers[HEADER_VERSION])
            if version == gt + 1:
                low = probe.seq
                break
            if version > gt:
                high, right = guess, (version, probe.seq)
            else:
                low, left = probe.seq + 1, (version, probe.seq)
        self._seeks.put(token, gt, low)
        return low


class JetStreamApplicationRecorder(JetStreamAggregateRecorder, ApplicationRecorder):
    def log_identity(self) -> tuple[str, int]:
        """Which log this is, and its last position: the stream's name and creation time
        (a stream deleted and made again, or another server's, is another log)."""
        return self.connection.call(self._log_identity())

    async def _log_identity(self) -> tuple[str, int]:
        info = await self.connection.nc.jetstream().stream_info(self.stream)
        created = info.created.isoformat() if info.created else "unknown"
        return f"{self.stream} created {created}", int(info.state.last_seq)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        return self._write(stored_events, None)

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
        return self.connection.call(self._select_notifications(max(first, 1), limit, stop, topics))

    async def _select_notifications(
        self, first: int, limit: int, stop: int | None, topics: Sequence[str]
    ) -> list[Notification]:
        wanted = set(topics)
        traced = _tracing_on()
        results: list[Notification] = []
        seq = first
        while len(results) < limit and (stop is None or seq <= stop):
            page, _ = await self.connection.get_batch(
                self.stream, self.events_subject, seq, min(READ_PAGE, max(limit, 1) * 2)
            )
            for m in page:
                if stop is not None and m.seq > stop:
                    return results
                if wanted and m.header(HEADER_TOPIC) not in wanted:
                    continue
                results.append(as_notification(m, traced=traced))
                if len(results) == limit:
                    return results
            if not page:
                break
            seq = page[-1].seq + 1
        return results

    def max_notification_id(self) -> int | None:
        last = self.connection.call(
            self.connection.last_by_subject(self.stream, self.events_subject)
        )
        return last.seq if last is not None else None

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
        self._write([], tracking)

    def max_tracking_id(self, application_name: str) -> int | None:
        subject = self._tracking_subject(application_name)
        last = self.connection.call(self.connection.last_by_subject(self.stream, subject))
        return int(last.headers[HEADER_TRACKING]) if last is not None else None


class JetStreamProcessRecorder(
    JetStreamTrackingRecorder, JetStreamApplicationRecorder, ProcessRecorder
):
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        tracking: Tracking | None = kwargs.get("tracking")
        return self._write(stored_events, tracking)
