"""Group commit: a write whose writer stopped waiting does not stop its batch's others."""

from __future__ import annotations

import asyncio

from services.eventstore.coalesce import Coalescer
from services.eventstore.connection import OutMsg


def test_a_write_given_up_in_flight_leaves_its_batch_and_the_next_answered() -> None:
    async def scenario() -> tuple[list[int], int]:
        release = asyncio.Event()
        stored = 0

        async def publish(messages: list[OutMsg]) -> int:
            nonlocal stored
            await release.wait()
            stored += len(messages)
            return stored

        coalescer = Coalescer(publish)
        first = asyncio.create_task(coalescer.submit([OutMsg("s.a", b"", {})]))
        await asyncio.sleep(0)  # the first write is in flight alone
        waiting = [
            asyncio.create_task(coalescer.submit([OutMsg(f"s.{n}", b"", {})])) for n in "bcd"
        ]
        await asyncio.sleep(0)
        waiting[1].cancel()  # its writer gives up while the shared batch is queued
        release.set()
        answered = list(await asyncio.wait_for(asyncio.gather(first, waiting[0], waiting[2]), 2))
        after = await asyncio.wait_for(coalescer.submit([OutMsg("s.e", b"", {})]), 2)
        return answered, after

    answered, after = asyncio.run(scenario())
    assert answered == [1, 2, 4]  # the given-up write was stored too: sequence 3
    assert after == 5
