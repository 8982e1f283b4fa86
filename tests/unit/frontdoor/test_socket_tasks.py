"""A bet socket's tasks are all cancelled and awaited when it ends, whichever had failed."""

from __future__ import annotations

import asyncio
import logging

import pytest

from services.frontdoor.socket import _cancel


async def test_a_task_that_failed_stops_neither_the_others_cancelling_nor_the_clean_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def reset() -> None:  # a send as the client resets the connection
        raise ConnectionResetError("Cannot write to closing transport")

    async def broken() -> None:
        raise RuntimeError("a defect of ours")

    async def forever() -> None:
        await asyncio.Event().wait()

    failed = [asyncio.create_task(reset()), asyncio.create_task(broken(), name="ticks")]
    await asyncio.sleep(0)
    pending = [asyncio.create_task(forever()), asyncio.create_task(forever())]

    with caplog.at_level(logging.ERROR):
        await _cancel([*failed, *pending])

    assert all(task.cancelled() for task in pending)
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in logged] == ["bet socket task ticks failed"], "not the reset"
