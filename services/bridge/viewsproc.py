"""The views' runners in a process of their own, beside `livebridge run` (the default).

Every view's runner reads every event of the ledger's log, decodes it and writes its rows
to PostgreSQL: in the bridge's own process that work held the GIL a quarter of the time
while bets were taken at half the bridge's rate, and every bet waited its turn behind it.
The child runs at `NICE` (lower priority than the bridge and nats-server): the views are
behind the log by design, and while the machine is busy they fall a little further
behind, then catch up in larger batches, rather than taking the cores a bet is waiting for.

Measured with `livebridge bench --only socket` on two cores, the bench's players in a
process of their own: with the runners in the bridge's process, `ws_bet_per_s` 500-555 and
`ws_bet_p99_ms` 58-70 at half that rate; in a child process, 698-721 and 55-58; in a child
at `NICE`, 737-789 and 57-59 (at that higher half rate).

`views_process(app, env, gates)` starts `services.bridge.projections_main.serve` in a
child process (`spawn`: a fresh interpreter, none of the bridge's threads), waits until
its runners have started, and stops it when the app stops; the child dies with the bridge.
The bridge keeps the leases: each view's gate in the child is a flag in shared memory this
process sets while it holds the view's lease and clears as it loses it, every `MIRROR_S`
(the runner looks at its gate before every pass; a lease lives `LIVEBRIDGE_LEASE_TTL_S`,
3 s by default). The child stops on SIGTERM; one that ends while the bridge runs is
started again (at most every `RESTART_PAUSE_S`). The bridge reads the views itself
(`projections.run.reading_views`).

`LIVEBRIDGE_VIEWS_PROCESS=0` keeps the runners in the bridge's process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from multiprocessing.context import SpawnContext, SpawnProcess
from typing import Any

from aiohttp import web

from services.bridge import projections_main

log = logging.getLogger(__name__)

NICE = 10
"""Added to the views' process's niceness (CFS weight about a tenth of the bridge's)."""
MIRROR_S = 0.05
"""How often the leases held are copied to the child's gates."""
START_TIMEOUT_S = 120.0
"""How long the child may take to import and start its runners."""
STOP_TIMEOUT_S = 30.0
RESTART_PAUSE_S = 5.0
"""The least time between two starts of the child (one that keeps failing is not spun)."""


class ViewsProcessError(RuntimeError):
    """The views' process did not start."""


class _Child:
    """The views' process: started, watched while the bridge runs, stopped with it."""

    def __init__(self, spawn: SpawnContext, env: Mapping[str, str], names: Sequence[str]) -> None:
        self._spawn = spawn
        self._env = dict(env)
        self._names = list(names)
        # Flags in shared memory, with no lock: a child killed mid-call cannot leave one held.
        self.held = spawn.RawArray("b", len(names))
        self.ready: Any = None
        self.started_at = 0.0
        self.process = self._start()

    def _start(self) -> SpawnProcess:
        self.ready = self._spawn.RawValue("b", 0)
        process = self._spawn.Process(
            target=projections_main.serve,
            args=(self._env, self._names, self.held, self.ready, NICE),
            name="livebridge-views",
            daemon=True,
        )
        process.start()
        self.started_at = time.monotonic()
        return process

    def started(self) -> bool:
        """Whether the child set `ready` before it ended or `START_TIMEOUT_S` passed."""
        while time.monotonic() < self.started_at + START_TIMEOUT_S:
            if self.ready.value:
                return True
            if not self.process.is_alive():
                return False
            time.sleep(0.1)
        return False

    async def watch(self, gates: Sequence[Callable[[], bool]]) -> None:
        """Copy the leases held to the gates, and start the child again if it ended."""
        while True:
            for n, holding in enumerate(gates):
                self.held[n] = holding()
            ended = not self.process.is_alive()
            if ended and time.monotonic() - self.started_at >= RESTART_PAUSE_S:
                log.warning(
                    "the views' process ended (exit code %s); starting it again",
                    self.process.exitcode,
                )
                self.process = self._start()
            await asyncio.sleep(MIRROR_S)

    async def stop(self) -> None:
        self.process.terminate()  # SIGTERM: the child stops its runners and ends
        await asyncio.to_thread(self.process.join, STOP_TIMEOUT_S)
        if self.process.is_alive():
            self.process.kill()
            await asyncio.to_thread(self.process.join)


@contextlib.asynccontextmanager
async def views_process(
    _app: web.Application, env: Mapping[str, str], gates: Mapping[str, Callable[[], bool]]
) -> AsyncIterator[None]:
    child = _Child(multiprocessing.get_context("spawn"), env, list(gates))
    watching = asyncio.create_task(child.watch(list(gates.values())), name="views-process")
    try:
        if not await asyncio.to_thread(child.started):
            raise ViewsProcessError(
                f"the views' process did not start (exit code {child.process.exitcode})"
            )
        yield
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        await child.stop()
