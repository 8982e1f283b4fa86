"""The bridge's jobs that run once per deployment, each under its lease (`services.infra.lease`).

`livebridge run` may run as several processes on one JetStream cluster. Each holds, or
waits for, the lease of every job that must run once: `round-book`, `round-settle` (the
settle publisher and its webhook deliveries), `view-<name>` (each view's runner) and
`feeds` (pull and socket feed clients, the feeds' gap sweepers). Everything else (the
provider wallet routes, push feeds, the platform API, reads) runs in every bridge.

`leases_ctx` opens the board (bucket `<prefix>_LEASES`); `leased(job, ctx)` turns an aiohttp
`cleanup_ctx` entry into one that starts with the app but enters `ctx` only while the lease
is held, and leaves it when the lease is lost. Thread jobs (the round-book follower, the
views' runners) check `board.lease(job).holding` before each pass instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from collections.abc import Callable

from aiohttp import web
from nats.aio.client import Client

from services.infra.lease import LeaseBoard
from services.infra.lease import lease_bucket
from services.infra.lease import while_held

LEASES = web.AppKey("leases", LeaseBoard)

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]


def leases_ctx(nc: web.AppKey[Client], *, prefix: str, replicas: int, ttl: float) -> CleanupCtx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        kv = await lease_bucket(app[nc].jetstream(), prefix, replicas)
        app[LEASES] = board = LeaseBoard(kv, ttl=ttl)
        try:
            yield
        finally:
            await board.close()

    return ctx


def leased(job: str, ctx: CleanupCtx) -> CleanupCtx:
    """`ctx`, entered only while this process holds `job`'s lease (see the module doc)."""
    run = contextlib.asynccontextmanager(ctx)

    async def leased_ctx(app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        lease = app[LEASES].lease(job)
        holding = asyncio.create_task(while_held(lease, stop, lambda: run(app)), name=job)
        try:
            yield
        finally:
            stop.set()
            await holding

    return leased_ctx
