"""Python's cyclic garbage collector, kept off the tail of a bet's answer.

A full collection walks every container the collector tracks, holding the GIL, and every
bet in flight waits for it. In a bridge taking socket bets at half its saturated rate
(`livebridge bench --only socket`), it walked about 127,000 objects, most of them the
program itself (functions, classes, modules, descriptors: made at import and start-up,
alive until the process ends), took 53-62 ms, and ran once or twice in every 6 seconds.

`freeze_after_start` collects once and then freezes (`gc.freeze()`) what the bridge holds
when it has started, so later collections walk only what was made since. Measured on the
same bench: a full collection took 10-12 ms instead of 53-62, and `ws_bet_p99_ms` went
from 94 to 51-56. Reference counting still frees a frozen object that nothing refers to;
only a cycle of frozen objects is never collected, and those are made once, at start.
`gc.unfreeze()` runs as the app stops (a process may build and stop several apps: the
tests do).

The freeze is skipped while the heap watch takes censuses (`heapwatch.census_on`): they
list what the collector tracks, and it does not list frozen objects.
"""

from __future__ import annotations

import gc
import logging

from aiohttp import web

log = logging.getLogger(__name__)


def freeze_after_start(app: web.Application, *, enabled: bool = True) -> None:
    """Freeze what `app` holds once every part of it has started (its last `on_startup`);
    unfreeze as it stops."""
    if not enabled:
        return

    async def freeze(_app: web.Application) -> None:
        gc.collect()
        gc.freeze()
        log.info("collector: %d start-up objects frozen", gc.get_freeze_count())

    async def unfreeze(_app: web.Application) -> None:
        gc.unfreeze()

    app.on_startup.append(freeze)
    app.on_cleanup.append(unfreeze)
