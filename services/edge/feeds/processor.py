"""The feed pipeline shared by every transport: sequence, record, remember.

`FeedProcessor.accept(events)` orders a batch per round (see `sequencer.py`), records the
events that are ready on the `EventSink` in a thread (the ledger core is synchronous; a
repeat of a recorded event goes to it too, which absorbs it or flags another payload), and
stores each round's last recorded seq in the `CursorStore`, so a restarted bridge knows
which rounds it has already heard. Events waiting for a missing seq are held by the
sequencer and, before `accept` returns, stored in the `CursorStore` too (each round's held
events under one key, the rounds holding any under the feed's index key): a feed answers
a held event as taken, so a bridge killed while holding it must find it again. The first
`accept` or `sweep` after a start reads them back. `sweep()` (run every `sweep_interval` by
`run_sweeper`) declares gaps that waited too long.

Failure: if the sink raises, the events not yet recorded go back to the sequencer and
`accept` raises `DeliveryFailed`. The transport must then not advance its own cursor (push
answers 503 so the provider retries; pull and socket retry from their stored cursor). The
next `sweep` records them too: events freed by a gap were answered as taken long before.

Errors::

    Exception
    └── FeedProblem
        ├── DeliveryFailed   the sink refused or failed; retry later
        └── BadEvent         an event that cannot be a provider event (seq not in 1..MAX_SEQ,
                             other provider, a time without a zone or outside TIMES)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import TypeVar

import msgspec
from opentelemetry import metrics

from contracts.events import AnyProviderEvent
from contracts.events import BettingOpened
from services.edge.feeds.backoff import pause
from services.edge.feeds.cursors import CursorStore
from services.edge.feeds.sequencer import Sequencer
from services.edge.feeds.sink import EventSink
from services.edge.feeds.sink import Gap
from services.edge.feeds.sink import GapListener
from services.edge.feeds.sink import log_gap

log = logging.getLogger(__name__)
_meter = metrics.get_meter("livebridge.edge.feeds")
_events = _meter.create_counter("livebridge.feed.events", unit="{event}")


MAX_SEQ = 100_000
"""The highest `seq` a round's event may carry. A round has tens of events; one far beyond
would declare a gap of every seq before it, one by one (80 s and 4.5 GB for 30 million,
here and in the ledger's hash check), so it is refused as malformed."""
TIMES = (datetime(1970, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC))
"""The span a provider's clock may read (`occurred_at`, `closes_at`). The round view keeps
`closes_at` in PostgreSQL and reads it back in Python: a time a zone offset pushes past
year 9999 or before year 1 is stored, and every read of its round then fails. A time
without a zone is refused too: the view would read it in PostgreSQL's zone, while the
ledger keeps it naive."""


def _time_problem(event: AnyProviderEvent) -> str | None:
    """What is wrong with the event's times (see `TIMES`), or None."""
    times = {"occurred_at": event.occurred_at}
    if isinstance(event, BettingOpened):
        times["closes_at"] = event.closes_at
    for name, value in times.items():
        if value.utcoffset() is None:
            return f"{name} {value.isoformat()} has no time zone; add Z or an offset"
        earliest, latest = TIMES
        if not earliest <= value < latest:
            return (
                f"{name} {value.isoformat()} must be from {earliest.isoformat()} "
                f"and before {latest.isoformat()}"
            )
    return None


class FeedProblem(Exception):
    """A feed could not take some events."""


class DeliveryFailed(FeedProblem):
    pass


class BadEvent(FeedProblem):
    pass


@dataclass(slots=True)
class FeedStats:
    recorded: int = 0
    duplicates: int = 0
    held: int = 0
    gaps: int = 0
    failures: int = 0


@dataclass(frozen=True, slots=True)
class Accepted:
    recorded: int
    duplicates: int
    held: int


T = TypeVar("T")


async def _shielded(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` to its end even if the caller is cancelled; its failure is then logged."""
    task = asyncio.ensure_future(work)
    task.add_done_callback(_log_orphan_failure)
    return await asyncio.shield(task)


def _log_orphan_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("feed work failed after its caller left: %r", task.exception())


def round_key(provider: str, round_id: str) -> str:
    """Where a round's position is kept: its last seq, or `[last, [missing seqs]]` while a
    declared gap may still fill (a late event is then recorded, after a restart too)."""
    return f"round.{provider}.{round_id}"


def held_key(provider: str, round_id: str) -> str:
    """Where a round's held events are kept (a JSON list, `[]` once none are held)."""
    return f"held.{provider}.{round_id}"


def held_index_key(provider: str) -> str:
    """Where a feed keeps the ids of its rounds that hold events (a JSON list)."""
    return f"held.{provider}"


_held_events = msgspec.json.Decoder(list[AnyProviderEvent])
_round_ids = msgspec.json.Decoder(list[str])
_position = msgspec.json.Decoder(int | tuple[int, list[int]])


class FeedProcessor:
    """Sequences and records the events of one provider's feed (any transport)."""

    def __init__(
        self,
        provider: str,
        sink: EventSink,
        cursors: CursorStore,
        *,
        sequencer: Sequencer | None = None,
        on_gap: GapListener = log_gap,
        executor: Executor | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.sink = sink
        self.cursors = cursors
        self.sequencer = sequencer or Sequencer()
        self.on_gap = on_gap
        self.executor = executor
        self.clock = clock
        self.stats = FeedStats()
        self._lock = asyncio.Lock()
        self._holding: set[str] | None = None  # rounds with stored held events; None: unread

    async def accept(self, events: Iterable[AnyProviderEvent]) -> Accepted:
        """Take a batch in any order; record what is ready. Raises `BadEvent` before any
        effect if one event is not this provider's, `DeliveryFailed` if the sink fails."""
        batch, problems = self.partition(events)
        if problems:
            raise BadEvent("; ".join(problems))
        # Shielded: a caller that goes away (a provider hanging up) must not stop a batch
        # half-recorded, or a later batch could overtake the event still being written.
        return await _shielded(self._accept(batch))

    async def _accept(self, batch: list[AnyProviderEvent]) -> Accepted:
        recorded = duplicates = held = 0
        async with self._lock:
            await self._restore()
            for event in batch:
                await self._seed(event.round_id)
                offered = self.sequencer.offer(event, self.clock())
                duplicates += offered.duplicate
                held += offered.held
                recorded += await self._record(offered.ready)
                if offered.repeat is not None:
                    await self._compare(offered.repeat)
            await self._keep_held({event.round_id for event in batch})
        self.stats.duplicates += duplicates
        self.stats.held += held
        return Accepted(recorded=recorded, duplicates=duplicates, held=held)

    def partition(
        self, events: Iterable[AnyProviderEvent]
    ) -> tuple[list[AnyProviderEvent], list[str]]:
        """Split a batch into events this feed can take, sorted, and what is wrong with the rest."""
        good: list[AnyProviderEvent] = []
        problems: list[str] = []
        for event in events:
            if event.provider != self.provider:
                problems.append(
                    f"event for provider {event.provider!r} in the feed of {self.provider!r} "
                    f"(round {event.round_id}, seq {event.seq})"
                )
            elif not 1 <= event.seq <= MAX_SEQ:
                problems.append(
                    f"round {event.round_id}: seq {event.seq} must be between 1 and {MAX_SEQ}"
                )
            elif (wrong := _time_problem(event)) is not None:
                problems.append(f"round {event.round_id}, seq {event.seq}: {wrong}")
            else:
                good.append(event)
        good.sort(key=lambda e: (e.round_id, e.seq))
        return good, problems

    async def sweep(self) -> list[Gap]:
        """Record again what the sink failed on; declare the gaps that waited longer than the
        timeout and record the events they held."""
        return await _shielded(self._sweep())

    async def _sweep(self) -> list[Gap]:
        async with self._lock:
            await self._restore()
            retried = self.sequencer.retry(self.clock())
            await self._record(retried)
            await self._keep_held({event.round_id for event in retried})
            expired = self.sequencer.expire(self.clock())
            for gap, _ in expired:
                self.stats.gaps += 1  # counted, told to `on_gap`, not kept: a feed runs for months
                self.on_gap(gap)
            freed = [ready for _, ready in expired]
            try:
                while freed:
                    await self._record(freed.pop(0))
            finally:
                for ready in freed:  # out of the sequencer already: the next sweep records them
                    self.sequencer.requeue(ready)
            await self._keep_held({gap.round_id for gap, _ in expired})
        return [gap for gap, _ in expired]

    async def run_sweeper(self, interval: float = 0.5) -> None:
        """Sweep forever (cancel to stop); a failing sink is retried on the next round."""
        while True:
            await pause(interval)
            try:
                await self.sweep()
            except DeliveryFailed as exc:
                log.warning("feed %s: %s", self.provider, exc)

    async def _record(self, ready: list[AnyProviderEvent]) -> int:
        if not ready:
            return 0
        loop = asyncio.get_running_loop()
        done = 0
        failure: Exception | None = None
        try:
            for event in ready:
                await loop.run_in_executor(self.executor, self.sink.record_event, event)
                done += 1
        except Exception as exc:
            failure = exc
            self.stats.failures += 1
            self.sequencer.requeue(ready[done:])
        self.stats.recorded += done
        _events.add(done, {"provider": self.provider})
        try:
            await self._remember(ready[:done])
        except Exception as exc:
            if failure is None:
                # Recorded, but a restart would not know it: the sender resends, and the
                # ledger absorbs what it already has (idempotent on provider, round, seq).
                self.stats.failures += 1
                raise DeliveryFailed(
                    f"recorded {done} events of {self.provider} but could not store their "
                    f"positions: {exc!r}; resend"
                ) from exc
            log.warning("feed %s: positions not stored either: %r", self.provider, exc)
        if failure is not None:
            failed = ready[done]
            raise DeliveryFailed(
                f"could not record round {failed.round_id} seq {failed.seq} of {self.provider}: "
                f"{failure!r}; it is kept and retried"
            ) from failure
        for round_id in dict.fromkeys(event.round_id for event in ready):
            for repeat in self.sequencer.changed_repeats((self.provider, round_id)):
                await self._compare(repeat)
        return done

    async def _compare(self, repeat: AnyProviderEvent) -> None:
        """Hand the repeat of a recorded event to the sink: it absorbs the same payload and
        flags another for audit (a provider that changed an event it had sent, I8), which
        the sequencer, keeping no payloads, cannot tell apart."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self.executor, self.sink.record_event, repeat)
        except Exception as exc:
            self.stats.failures += 1
            raise DeliveryFailed(
                f"could not compare the repeat of round {repeat.round_id} seq {repeat.seq} of "
                f"{self.provider} with what was recorded: {exc!r}; resend"
            ) from exc

    async def _seed(self, round_id: str) -> None:
        """Start a round the sequencer does not know at its stored position."""
        key = (self.provider, round_id)
        if self.sequencer.knows(key):
            return
        try:
            stored = await self.cursors.get(round_key(*key))
            position = _position.decode(stored) if stored else 0
            seed, missing = (position, []) if isinstance(position, int) else position
        except Exception as exc:  # KV timeout, lost connection, a bad value
            self.stats.failures += 1
            raise DeliveryFailed(
                f"could not read the position of round {round_id} of "
                f"{self.provider}: {exc!r}; nothing of it was recorded"
            ) from exc
        self.sequencer.seed(key, seed, missing)

    async def _restore(self) -> None:
        """Once after a start: take back the events an earlier run held, recording those
        whose missing seq was recorded meanwhile (the ledger absorbs a repeat)."""
        if self._holding is not None:
            return
        try:
            stored = await self.cursors.get(held_index_key(self.provider))
            rounds = _round_ids.decode(stored) if stored else []
            ready: list[AnyProviderEvent] = []
            for round_id in rounds:
                await self._seed(round_id)
                events = await self.cursors.get(held_key(self.provider, round_id))
                for event in _held_events.decode(events) if events else []:
                    ready += self.sequencer.offer(event, self.clock()).ready
        except Exception as exc:  # KV timeout, lost connection, a value it cannot decode
            raise DeliveryFailed(
                f"could not read the events {self.provider}'s feed held before a restart: "
                f"{exc!r}; nothing was recorded"
            ) from exc
        self._holding = set(rounds)
        await self._record(ready)
        await self._keep_held(set(rounds))

    async def _keep_held(self, rounds: set[str]) -> None:
        """Store what each of `rounds` holds now, before the feed answers for it."""
        holding = self._holding
        assert holding is not None, "held events stored before they were read back"
        try:
            for round_id in sorted(rounds):
                events = self.sequencer.held((self.provider, round_id))
                if not events and round_id not in holding:
                    continue  # the common case: nothing held, nothing stored
                key = held_key(self.provider, round_id)
                await self.cursors.put(key, msgspec.json.encode(events).decode())
                if bool(events) != (round_id in holding):
                    changed = holding | {round_id} if events else holding - {round_id}
                    await self.cursors.put(
                        held_index_key(self.provider), msgspec.json.encode(sorted(changed)).decode()
                    )
                    self._holding = holding = changed
        except Exception as exc:
            self.stats.failures += 1
            raise DeliveryFailed(
                f"could not store the events {self.provider}'s feed holds: {exc!r}; resend"
            ) from exc

    async def _remember(self, recorded: list[AnyProviderEvent]) -> None:
        rounds: dict[str, str] = {}
        for event in recorded:
            rounds[event.round_id] = event.round_id
        for round_id in rounds:
            last = self.sequencer.last((self.provider, round_id))
            missing = self.sequencer.missing((self.provider, round_id))
            position = msgspec.json.encode([last, missing] if missing else last).decode()
            await self.cursors.put(round_key(self.provider, round_id), position)
