"""A NATS connection the edge depends on, watched and reopened when it closes for good.

nats-py reconnects by itself after a network failure, but a protocol error from the
server (`-ERR 'Maximum Control Line Exceeded'`, an authorization violation) closes the
client for good; so does running out of reconnect attempts. The edge's session store and
feed positions live in JetStream KV behind such a connection: closed, every wallet call
needing a session and every feed push fails until the process restarts.

`NatsLink` owns one such connection: it connects with unlimited reconnects, and when the
client closes anyway it connects again (backing off, logged once per attempt) and calls
`on_open` with the new client, so the caller reopens what it built on the old one (a KV
bucket). `usable` says whether the connection is up right now; `/readyz` reports every
link registered under `NATS_LINKS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any
from typing import Protocol

import nats
import nats.errors
from aiohttp import web
from nats.aio.client import Client
from nats.js import JetStreamContext

log = logging.getLogger(__name__)

RETRY_FIRST_S = 0.2
RETRY_MAX_S = 5.0


OUTAGES = (TimeoutError, OSError, nats.errors.Error)
"""What a job meets while its NATS server is away: worth a line, not a traceback."""


def log_failure(logger: logging.Logger, message: str, error: Exception) -> None:
    """Log a failed pass of a job that will try again: one line for an outage (`OUTAGES`),
    the traceback for anything else (a defect)."""
    if isinstance(error, OUTAGES):
        logger.warning("%s (%r)", message, error)
    else:
        logger.error("%s", message, exc_info=error)


async def connect(url: str, name: str, **options: Any) -> Client:
    """A nats-py client on `url` (comma-separated servers) whose connection troubles are
    one log line each: the library's default error callback logs a traceback for every
    failed reconnect, which is news only to nobody once a server is down."""

    async def error(problem: Exception) -> None:
        log.warning("nats connection %s: %s", name, problem or type(problem).__name__)

    return await nats.connect(url.split(","), name=name, error_cb=error, **options)


class NatsLink:
    """One watched NATS connection (see the module docstring)."""

    def __init__(self, url: str, name: str, on_open: Callable[[Client], Awaitable[None]]) -> None:
        self.url = url
        self.name = name
        self.on_open = on_open
        self.client: Client | None = None
        self.reopened = 0
        self._stopping = False
        self._reopening: asyncio.Task[None] | None = None

    @property
    def usable(self) -> bool:
        return self.client is not None and self.client.is_connected

    async def start(self) -> None:
        await self._open()

    async def _open(self) -> None:
        client = await connect(
            self.url, self.name, max_reconnect_attempts=-1, closed_cb=self._closed
        )
        await self.on_open(client)
        self.client = client

    async def _closed(self) -> None:
        if self._stopping or (self._reopening is not None and not self._reopening.done()):
            return
        log.warning("nats connection %s closed; opening a new one", self.name)
        self._reopening = asyncio.get_running_loop().create_task(self._reopen())

    async def _reopen(self) -> None:
        delay = RETRY_FIRST_S
        while not self._stopping:
            try:
                await self._open()
            except Exception as error:
                log.warning(
                    "nats connection %s: reopening failed (%s); retrying in %.1f s",
                    self.name,
                    error,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            self.reopened += 1
            log.info("nats connection %s reopened", self.name)
            return

    async def stop(self) -> None:
        self._stopping = True
        if self._reopening is not None:
            self._reopening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reopening
        if self.client is not None and not self.client.is_closed:
            with contextlib.suppress(Exception):
                await self.client.drain()


class BucketStore(Protocol):
    """A store kept in a JetStream KV bucket, opened by `attach` on each connection."""

    async def attach(self, js: JetStreamContext, bucket: str, *, replicas: int) -> None: ...


async def watched_bucket(
    store: BucketStore, url: str, name: str, bucket: str, replicas: int, watched: list[NatsLink]
) -> NatsLink:
    """Start a link named `name` that attaches `store` to `bucket` each time it connects,
    and add it to `watched` (the app's `links`, for `/readyz`); the caller stops it."""

    async def opened(nc: Client) -> None:
        await store.attach(nc.jetstream(), bucket, replicas=replicas)

    link = NatsLink(url, name, opened)
    await link.start()
    watched.append(link)
    return link


class ClosableBucketStore(BucketStore, Protocol):
    """A `BucketStore` that holds something of its own to stop (a watch)."""

    async def close(self) -> None: ...


def bucket_ctx(
    store: ClosableBucketStore,
    url: str | Callable[[], str],
    name: str,
    bucket: str,
    replicas: int,
    watched: list[NatsLink],
) -> Callable[[web.Application], AsyncIterator[None]]:
    """The cleanup context that keeps `store` attached to `bucket` over a link named `name`
    (`watched_bucket`) while the app runs, then closes the store and the link."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        resolved = url if isinstance(url, str) else url()
        link = await watched_bucket(store, resolved, name, bucket, replicas, watched)
        try:
            yield
        finally:
            await store.close()
            await link.stop()

    return ctx


NATS_LINKS = web.AppKey("edge_nats_links", list[NatsLink])
"""Every `NatsLink` of the app, for `/readyz`."""


def links(app: web.Application) -> list[NatsLink]:
    """The app's list of links, created on first use: call it while setting the app up
    (before it starts), and append the links as they open."""
    if NATS_LINKS not in app:
        app[NATS_LINKS] = []
    return app[NATS_LINKS]


def readiness(app: web.Application) -> dict[str, str]:
    """`/readyz` checks for the app's links: `ok`, or `not connected`."""
    return {
        f"nats:{link.name}": "ok" if link.usable else "not connected"
        for link in app.get(NATS_LINKS, [])
    }
