"""Synchronous code in greenlets on a loop thread: it waits by yielding, never by blocking."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Iterator

import pytest

from services.eventstore import greenloop

REQUEST = contextvars.ContextVar("request", default="")


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A loop running in a thread of its own, as a JetStream connection's does."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_a_function_waits_for_the_loop_and_gets_the_result_or_the_error(
    loop: asyncio.AbstractEventLoop,
) -> None:
    async def answer(value: int) -> int:
        await asyncio.sleep(0.001)
        return value * 2

    async def fail() -> None:
        await asyncio.sleep(0)
        raise KeyError("gone")

    def command() -> tuple[int, str, bool]:
        doubled = greenloop.wait(answer(21))
        try:
            greenloop.wait(fail())
        except KeyError as error:
            caught = str(error)
        return doubled, caught, greenloop.on_loop()

    executor = greenloop.LoopExecutor(loop)
    assert executor.submit(command).result(5) == (42, "'gone'", True)

    def refuses() -> None:
        greenloop.wait(answer(1))
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        executor.submit(refuses).result(5)


def test_many_commands_interleave_on_one_thread(loop: asyncio.AbstractEventLoop) -> None:
    seen: list[str] = []

    def command(name: str) -> str:
        seen.append(f"{name} in")
        greenloop.wait(asyncio.sleep(0.01))
        seen.append(f"{name} out")
        return name

    executor = greenloop.LoopExecutor(loop)
    futures = [executor.submit(command, n) for n in "abc"]
    assert [f.result(5) for f in futures] == ["a", "b", "c"]
    assert seen[:3] == ["a in", "b in", "c in"]  # each yielded while it waited


def test_a_lock_held_by_a_thread_that_needs_the_loop_is_waited_for_without_deadlock(
    loop: asyncio.AbstractEventLoop,
) -> None:
    """The thread holds the lock while it waits on the loop (as a command in a worker holds
    its wallet's turn across its write); a plain acquire on the loop would never return."""
    lock = threading.Lock()
    held = threading.Event()

    def worker() -> None:
        with lock:
            held.set()
            asyncio.run_coroutine_threadsafe(asyncio.sleep(0.05), loop).result(5)

    def command() -> bool:
        got = greenloop.acquire(lock)
        lock.release()
        return got

    thread = threading.Thread(target=worker)
    thread.start()
    held.wait(5)
    assert greenloop.LoopExecutor(loop).submit(command).result(5) is True
    thread.join(5)

    def try_once() -> bool:
        return greenloop.acquire(lock, blocking=False)

    lock.acquire()
    assert greenloop.LoopExecutor(loop).submit(try_once).result(5) is False
    lock.release()


def test_off_the_loop_the_helpers_block_as_usual() -> None:
    lock = threading.Lock()
    assert not greenloop.on_loop()
    assert greenloop.acquire(lock) and lock.locked()
    assert greenloop.acquire(lock, blocking=False) is False
    lock.release()
    started = time.monotonic()
    greenloop.sleep(0.01)
    assert time.monotonic() - started >= 0.01
    with pytest.raises(RuntimeError, match="outside a greenlet"):
        greenloop.wait(asyncio.sleep(0))


def test_a_started_command_runs_to_its_end_though_its_caller_gave_up(
    loop: asyncio.AbstractEventLoop,
) -> None:
    finished = threading.Event()

    def command() -> None:
        greenloop.wait(asyncio.sleep(0.05))
        finished.set()

    future = greenloop.LoopExecutor(loop).submit(command)
    assert future.cancel() is False
    assert finished.wait(5)


def test_the_callers_context_goes_with_the_command(loop: asyncio.AbstractEventLoop) -> None:
    def command() -> str:
        greenloop.wait(asyncio.sleep(0))
        return REQUEST.get()

    async def handler() -> str:
        REQUEST.set("req-7")
        context = contextvars.copy_context()
        running = asyncio.get_running_loop()
        executor = greenloop.LoopExecutor(loop)
        return await running.run_in_executor(executor, context.run, command)

    assert asyncio.run(handler()) == "req-7"
