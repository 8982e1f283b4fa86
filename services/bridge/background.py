"""A task that runs beside the bridge's aiohttp app, for as long as the app runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Coroutine
from typing import Any

from aiohttp import web


def beside_app(
    start: Callable[[], Coroutine[Any, Any, None] | None], name: str
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` running `start()` as a task (named `name`) until the app stops; when
    `start()` gives None (the task is off on this machine or by setting), it runs nothing."""

    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        work = start()
        if work is None:
            yield
            return
        task = asyncio.create_task(work, name=name)
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    return ctx
