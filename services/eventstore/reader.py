"""The reader of an application's stream: by aggregate, by log position, and by write.

Reads use batch direct gets and never create consumers. After a write, the recorder
remembers each aggregate's head (`heads.py`) and re-reads until a (possibly lagging)
replica has caught up to it: read-your-writes. A load after a snapshot seeks the first
event after it instead of reading the aggregate's history (`_seek_version`).

Readers that go below the library's notifications (the dispute replay) use the same
reader: `messages_at` reads the log by position (nearby positions in one request, no
subject to match), `heads` the last message of each of many aggregates, `first_messages`
an aggregate's first events, and `write_containing` the whole write a message belongs to.
Each is a coroutine for the store's loop; `JetStreamApplicationRecorder.read` runs them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from eventsourcing.persistence import Notification
from eventsourcing.persistence import StoredEvent

from services.eventstore.connection import JetStreamConnection
from services.eventstore.connection import StoredMsg
from services.eventstore.heads import LastSeen
from services.eventstore.layout import HEADER_TOPIC
from services.eventstore.layout import HEADER_TRACKING
from services.eventstore.layout import HEADER_VERSION
from services.eventstore.layout import aggregate_token
from services.eventstore.layout import as_notification
from services.eventstore.layout import events_subject
from services.eventstore.layout import tracing_on
from services.eventstore.layout import tracking_subject
from services.eventstore.layout import write_of

READ_PAGE = 1000
SEEK_AFTER = 100
"""Loads after this many versions seek their first message instead of reading from the
start (a seek costs a few direct gets; reading 100 messages costs about as much)."""


class JetStreamReader:
    """Reads one stream; shares the aggregates' heads (`last_seen`) with its writer."""

    def __init__(self, connection: JetStreamConnection, stream: str, last_seen: LastSeen) -> None:
        self.connection = connection
        self.stream = stream
        self._last_seen = last_seen
        self._seeks = LastSeen(10_000)  # token -> (version, seq of the version after it)

    # -- by position -----------------------------------------------------------------------

    async def messages_at(self, positions: Iterable[int], nearby: int) -> dict[int, StoredMsg]:
        """The messages at log `positions` (whatever their subjects), by position.

        Positions closer than `nearby` are read in one request: with no subject to match,
        the server reads them off in order, and one more request costs about what `nearby`
        more messages in one cost. What lies between them comes back too.
        """
        pages = await asyncio.gather(
            *(
                self.connection.get_range(self.stream, run[0], run[-1] - run[0] + 1)
                for run in runs(positions, nearby)
            )
        )
        return {m.seq: m for page in pages for m in page}

    async def heads(self, originator_ids: Sequence[UUID | str]) -> dict[UUID | str, StoredMsg]:
        """The last stored message of each aggregate that has one, by originator id."""
        subjects = {events_subject(self.stream, aggregate_token(i)): i for i in originator_ids}
        last = await self.connection.last_of_each(self.stream, list(subjects))
        return {subjects[subject]: m for subject, m in last.items()}

    async def first_messages(self, originator_id: UUID | str, count: int) -> list[StoredMsg]:
        """Up to `count` of an aggregate's first messages, in version order."""
        subject = events_subject(self.stream, aggregate_token(originator_id))
        page, _ = await self.connection.get_batch(self.stream, subject, 1, count)
        return page

    # -- by aggregate and by write ---------------------------------------------------------

    async def aggregate_messages(self, originator_id: UUID | str) -> list[StoredMsg]:
        """Every stored event message of one aggregate, in version order."""
        token = aggregate_token(originator_id)
        return await self._read_subject(events_subject(self.stream, token), token)

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

    async def select_events(
        self,
        originator_id: UUID | str,
        gt: int | None,
        lte: int | None,
        desc: bool,
        limit: int | None,
    ) -> list[StoredEvent]:
        token = aggregate_token(originator_id)
        subject = events_subject(self.stream, token)
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

    async def log_identity(self) -> tuple[str, int]:
        info = await self.connection.stream_info(self.stream)
        created = info.created.isoformat() if info.created else "unknown"
        return f"{self.stream} created {created}", int(info.state.last_seq)

    async def select_notifications(
        self, first: int, limit: int, stop: int | None, topics: Sequence[str]
    ) -> list[Notification]:
        wanted = set(topics)
        traced = tracing_on()
        results: list[Notification] = []
        seq = first
        while len(results) < limit and (stop is None or seq <= stop):
            page, _ = await self.connection.get_batch(
                self.stream, events_subject(self.stream), seq, min(READ_PAGE, max(limit, 1) * 2)
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

    async def max_notification_id(self) -> int | None:
        last = await self.connection.last_by_subject(self.stream, events_subject(self.stream))
        return last.seq if last is not None else None

    async def max_tracking_id(self, application_name: str) -> int | None:
        subject = tracking_subject(self.stream, application_name)
        last = await self.connection.last_by_subject(self.stream, subject)
        return int(last.headers[HEADER_TRACKING]) if last is not None else None


def runs(positions: Iterable[int], nearby: int) -> list[list[int]]:
    """`positions` in order, in runs of neighbours closer than `nearby`."""
    found: list[list[int]] = []
    for position in sorted(positions):
        if found and position - found[-1][-1] < nearby:
            found[-1].append(position)
        else:
            found.append([position])
    return found
