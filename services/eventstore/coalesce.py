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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from services.eventstore.connection import MAX_BATCH, JetStreamError, OutMsg

Publish = Callable[[list[OutMsg]], Awaitable[int]]


@dataclass
class _Write:
    messages: list[OutMsg]
    done: asyncio.Future[int]
    subjects: set[str] = field(default_factory=set)


class Coalescer:
    """Queues writes to one stream and commits them in shared atomic batches.

    `publish` stores a list of messages atomically (retrying lost acks) and returns the
    last sequence; the coalescer calls it with the messages of one or more writes.
    """

    def __init__(self, publish: Publish) -> None:
        self._publish = publish
        self._queue: list[_Write] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, messages: list[OutMsg]) -> int:
        """Store `messages` atomically; the sequence of the last one."""
        write = _Write(messages, asyncio.get_running_loop().create_future())
        write.subjects = {m.subject for m in messages}
        self._queue.append(write)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await write.done

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
                write.done.set_result(first - 1)

    async def _alone(self, write: _Write) -> None:
        try:
            write.done.set_result(await self._publish(write.messages))
        except BaseException as error:
            write.done.set_exception(error)
            if isinstance(error, asyncio.CancelledError):
                raise
