"""Synchronous code run on the connection's loop thread, in greenlets.

The `eventsourcing` application is synchronous, and its recorders wait for JetStream
through `JetStreamConnection.call`. From a worker thread each wait is two hand-offs
between threads (the call to the loop, its answer back), and a bet made of a hand-off to a
worker plus its reads and its write crossed threads six times, each a GIL hand-over.

`LoopExecutor` runs a synchronous function in a greenlet on the loop thread instead. Where
the function would wait for the loop (`JetStreamConnection.call` sees `on_loop()`), the
greenlet hands the coroutine to the loop (`wait`) and is resumed with its result, so the
command costs one hand-off in and one out, and no worker thread. The technique is
SQLAlchemy's asyncio bridge (`greenlet_spawn`, `await_only`).

Code in such a greenlet runs on the loop thread and must never block it: a lock held by
another thread while that thread waits for the loop would never be released. `acquire` and
`sleep` wait by yielding to the loop when called there, and as usual anywhere else; code
meant to run here takes its locks and its pauses through them, and holds plain locks only
where it does no I/O.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
import time
from collections.abc import Awaitable
from collections.abc import Callable
from concurrent.futures import Executor
from concurrent.futures import Future
from typing import Any
from typing import ParamSpec
from typing import TypeVar

import greenlet

T = TypeVar("T")
P = ParamSpec("P")

FIRST_POLL_S = 0.0001
LAST_POLL_S = 0.005
"""A contended lock is tried again after `FIRST_POLL_S`, doubling up to `LAST_POLL_S`."""


class _Spawned(greenlet.greenlet):  # type: ignore[misc]  # greenlet ships no type hints
    """A greenlet `run` started: its waits go to the loop that runs it."""


def on_loop() -> bool:
    """Whether the caller runs in a greenlet `run` started (waits must yield to the loop)."""
    return isinstance(greenlet.getcurrent(), _Spawned)


def wait(awaitable: Awaitable[T]) -> T:
    """The result of `awaitable`, awaited by the loop while this greenlet is parked.

    Only from a greenlet `run` started (`on_loop()`).
    """
    current = greenlet.getcurrent()
    if not isinstance(current, _Spawned):
        if asyncio.iscoroutine(awaitable):
            awaitable.close()
        raise RuntimeError("greenloop.wait outside a greenlet started by greenloop.run")
    result: T = current.parent.switch(awaitable)
    return result


async def run(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `fn` to its end in a greenlet, awaiting on this loop whatever it `wait`s for."""
    child = _Spawned(fn)
    child.gr_context = contextvars.copy_context()
    step = child.switch(*args, **kwargs)
    while not child.dead:
        try:
            value = await step
        except BaseException as error:
            step = child.throw(error)
        else:
            step = child.switch(value)
    result: T = step
    return result


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """`asyncio.wait_for` without the task it makes: awaited in the caller's own task."""
    async with asyncio.timeout(seconds):
        return await awaitable


def acquire(lock: threading.Lock, blocking: bool = True) -> bool:
    """`lock.acquire(blocking)`, yielding to the loop while it waits when `on_loop()`."""
    if not on_loop():
        return lock.acquire(blocking)
    if lock.acquire(blocking=False):
        return True
    if not blocking:
        return False
    pause = FIRST_POLL_S
    while not lock.acquire(blocking=False):
        wait(asyncio.sleep(pause))
        pause = min(pause * 2, LAST_POLL_S)
    return True


def sleep(seconds: float) -> None:
    """`time.sleep`, or the loop's sleep when `on_loop()`."""
    if on_loop():
        wait(asyncio.sleep(seconds))
    else:
        time.sleep(seconds)


class LoopExecutor(Executor):
    """An `Executor` whose calls run in greenlets on `loop` (see the module docstring).

    A call, once started, runs to its end: cancelling its future does not stop it, as a
    thread pool's started call is not stopped. The loop must be running in another thread
    than the submitter's.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def submit(
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        done: Future[T] = Future()
        done.set_running_or_notify_cancel()

        def start() -> None:
            task = self._loop.create_task(run(fn, *args, **kwargs))
            task.add_done_callback(lambda t: _settle(done, t))

        self._loop.call_soon_threadsafe(start)
        return done


def _settle(done: Future[T], task: asyncio.Task[T]) -> None:
    if task.cancelled():
        done.set_exception(concurrent.futures.CancelledError())
    elif (error := task.exception()) is not None:
        done.set_exception(error)
    else:
        done.set_result(task.result())
