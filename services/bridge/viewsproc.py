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
3 s by default). The child stops on SIGTERM. The bridge reads the views itself
(`projections.run.reading_views`).

`LIVEBRIDGE_VIEWS_PROCESS=0` keeps the runners in the bridge's process.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from collections.abc import AsyncIterator, Callable, Mapping
from multiprocessing.process import BaseProcess
from typing import Any

from aiohttp import web

from services.bridge import projections_main

NICE = 10
"""Added to the views' process's niceness (CFS weight about a tenth of the bridge's)."""
MIRROR_S = 0.05
"""How often the leases held are copied to the child's gates."""
START_TIMEOUT_S = 120.0
"""How long the child may take to import and start its runners."""
STOP_TIMEOUT_S = 30.0


class ViewsProcessError(RuntimeError):
    """The views' process did not start."""


@contextlib.asynccontextmanager
async def views_process(
    _app: web.Application, env: Mapping[str, str], gates: Mapping[str, Callable[[], bool]]
) -> AsyncIterator[None]:
    spawn = multiprocessing.get_context("spawn")
    names = list(gates)
    # Flags in shared memory, with no lock: a child killed mid-call cannot leave one held.
    held = spawn.RawArray("b", len(names))
    ready = spawn.RawValue("b", 0)
    child = spawn.Process(
        target=projections_main.serve,
        args=(dict(env), names, held, ready, NICE),
        name="livebridge-views",
        daemon=True,
    )
    child.start()
    mirror = asyncio.create_task(_mirror([gates[name] for name in names], held))
    try:
        if not await asyncio.to_thread(_started, child, ready):
            raise ViewsProcessError(
                f"the views' process did not start (exit code {child.exitcode})"
            )
        yield
    finally:
        mirror.cancel()
        child.terminate()  # SIGTERM: the child stops its runners and ends
        await asyncio.to_thread(child.join, STOP_TIMEOUT_S)
        if child.is_alive():
            child.kill()
            await asyncio.to_thread(child.join)


def _started(child: BaseProcess, ready: Any) -> bool:
    """Whether `child` set `ready` before it ended or `START_TIMEOUT_S` passed."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if ready.value:
            return True
        if not child.is_alive():
            return False
        time.sleep(0.1)
    return False


async def _mirror(gates: list[Callable[[], bool]], held: Any) -> None:
    while True:
        for n, holding in enumerate(gates):
            held[n] = holding()
        await asyncio.sleep(MIRROR_S)
