"""The bridge freezes what it holds once started, and unfreezes as it stops."""

from __future__ import annotations

import gc
import weakref

from aiohttp import web

from services.bridge.collector import freeze_after_start


class Node:
    """An object the collector tracks."""

    def __init__(self) -> None:
        self.other: Node | None = None


HELD = web.AppKey("held", list[Node])


async def test_what_the_app_holds_at_start_is_frozen_until_it_stops() -> None:
    app = web.Application()
    app[HELD] = held = [Node() for _ in range(100)]
    freeze_after_start(app)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        assert gc.get_freeze_count() >= len(held)
        assert not any(gc.is_tracked(n) and n in gc.get_objects(2) for n in held[:3])
        # made after the start, a cycle is still collected
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None
    finally:
        await runner.cleanup()
    assert gc.get_freeze_count() == 0


async def test_nothing_is_frozen_when_it_is_off() -> None:
    app = web.Application()
    freeze_after_start(app, enabled=False)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        assert gc.get_freeze_count() == 0
    finally:
        await runner.cleanup()
