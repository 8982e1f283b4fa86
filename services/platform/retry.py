"""The loop of the platform's followers (the settle publisher of the log, each webhook's
delivery of the settle stream): run until stopped, and again after a pause when a run fails."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from collections.abc import Callable


async def until_stopped(
    stop: asyncio.Event,
    run: Callable[[asyncio.Event], Awaitable[None]],
    *,
    pause: float,
    log: logging.Logger,
    stopped: Callable[[], str],
    outages: tuple[type[Exception], ...] = (),
) -> None:
    """`run(stop)` again and again until `stop` is set, `pause` seconds after each failure.

    A failure is logged as `stopped()` (read when it happens) with its traceback; one of
    `outages` (a server away) as a warning without it."""
    while not stop.is_set():
        try:
            await run(stop)
        except asyncio.CancelledError:
            raise
        except outages as outage:
            log.warning("%s (%r); retrying", stopped(), outage)
            await wait(stop, pause)
        except Exception:
            log.exception("%s; retrying", stopped())
            await wait(stop, pause)


async def wait(stop: asyncio.Event, seconds: float) -> None:
    """`seconds`, or less when `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
