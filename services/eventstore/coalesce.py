"""Group commit: concurrent writes to one stream share one atomic batch.

On a file-backed stream the server stages every atomic batch in a store of its own, which
costs a few milliseconds per batch whatever its size, and batches to one stream commit one
after another. Writes that each were a batch of their own would cap a stream at a few
hundred writes a second; writes that share a batch pay that cost once.

Each write keeps its own guarantees: its messages carry their own expectations, so the
shared batch commits only if every write in it would have committed alone. If the shared
batch is refused, every write in it is sent again on its own, so a conflict fails only the
write that caused it. Two writes to the same subject never share a batch (the server
allows one expectation per subject per batch).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

from services.eventstore.connection import MAX_BATCH
from services.eventstore.connection import JetStreamError
from services.eventstore.connection import OutMsg

Publish = Callable[[list[OutMsg]], Awaitable[int]]


@dataclass
class _Write:
    messages: list[OutMsg]
    done: asyncio.Future[int]
    arrived: float
    subjects: set[str] = field(default_factory=set)


def _never() -> bool:
    return False


class Coalescer:
    """Queues writes to one stream and commits them in shared atomic batches.

    `publish` stores a list of messages atomically (retrying lost acks) and returns the
    last sequence; the coalescer calls it with the messages of one or more writes.
    `more_coming` (called on the loop, cheap) says whether writes are still being composed;
    while it does, a group waits for them, at most `gather_s` from its oldest write.
    """

    def __init__(
        self,
        publish: Publish,
        *,
        more_coming: Callable[[], bool] = _never,
        gather_s: float = 0.0,
    ) -> None:
        self._publish = publish
        self._more_coming = more_coming
        self._gather_s = gather_s
        self._queue: list[_Write] = []
        self._flusher: asyncio.Task[None] | None = None
        self._arrival: asyncio.Future[None] | None = None
        """Set while a group waits for more writes; the next write resolves it."""

    @property
    def queued(self) -> int:
        """Writes waiting for the next batch."""
        return len(self._queue)

    async def submit(self, messages: list[OutMsg]) -> int:
        """Store `messages` atomically; the sequence of the last one."""
        loop = asyncio.get_running_loop()
        write = _Write(messages, loop.create_future(), loop.time())
        write.subjects = {m.subject for m in messages}
        self._queue.append(write)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        elif self._arrival is not None and not self._arrival.done():
            self._arrival.set_result(None)
        return await write.done

    async def _gather(self) -> None:
        """Wait while writes are still coming, up to `gather_s` after the oldest queued one
        arrived, or until the queue holds a full batch."""
        loop = asyncio.get_running_loop()
        while self._more_coming():
            left = self._queue[0].arrived + self._gather_s - loop.time()
            if left <= 0 or sum(len(w.messages) for w in self._queue) >= MAX_BATCH:
                return
            arrival = self._arrival = loop.create_future()
            timer = loop.call_later(left, _settle, arrival)
            try:
                await arrival
            finally:
                timer.cancel()
                self._arrival = None

    def _take_group(self) -> list[_Write]:
        group: list[_Write] = []
        subjects: set[str] = set()
        size = 0
        rest: list[_Write] = []
        for write in self._queue:
            fits = size + len(write.messages) <= MAX_BATCH
            if fits and not (write.subjects & subjects):
                group.append(write)
                subjects |= write.subjects
                size += len(write.messages)
            else:
                rest.append(write)
        self._queue = rest
        return group

    async def _flush(self) -> None:
        while self._queue:
            if self._gather_s > 0:
                await self._gather()
            group = self._take_group()
            if len(group) == 1:
                await self._alone(group[0])
                continue
            messages = [m for write in group for m in write.messages]
            try:
                last = await self._publish(messages)
            except JetStreamError:
                await asyncio.gather(*(self._alone(write) for write in group))
                continue
            except BaseException as error:
                for write in group:
                    if not write.done.done():
                        write.done.set_exception(error)
                if isinstance(error, asyncio.CancelledError):
                    raise
                continue
            first = last - len(messages) + 1
            for write in group:
                first += len(write.messages)
                _answer(write.done, first - 1)

    async def _alone(self, write: _Write) -> None:
        try:
            _answer(write.done, await self._publish(write.messages))
        except BaseException as error:
            if not write.done.done():
                write.done.set_exception(error)
            if isinstance(error, asyncio.CancelledError):
                raise


def _answer(done: asyncio.Future[int], last: int) -> None:
    """A write's answer, unless its writer stopped waiting (a command on the store's loop
    gives up a write after its deadline: the batch it is in goes on for the others)."""
    if not done.done():
        done.set_result(last)


def _settle(arrival: asyncio.Future[None]) -> None:
    if not arrival.done():
        arrival.set_result(None)
