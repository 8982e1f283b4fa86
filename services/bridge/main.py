"""The composition root of `livebridge run`: builds every long-lived resource and serves HTTP.

Each resource is an aiohttp `cleanup_ctx` under a typed `web.AppKey`, started in order
and stopped in reverse on Ctrl-C: the nats-server (from the wheel, unless
`LIVEBRIDGE_NATS_URL` names one, which must pass the same fitness checks), the
PostgreSQL that holds the views, and the services built on them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import suppress

import nats
import psycopg
from aiohttp import web
from nats.aio.client import Client

from services.bridge.config import Settings
from services.bridge.postgres import Postgres, find_or_start
from services.infra.natsserver import NatsServer, check_server

log = logging.getLogger("livebridge")

SETTINGS = web.AppKey("settings", Settings)
NATS_URL = web.AppKey("nats_url", str)
NATS = web.AppKey("nats", Client)
POSTGRES = web.AppKey("postgres", Postgres)


async def nats_server(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if settings.nats_url:
        await check_server(settings.nats_url, allow_unsynced=settings.allow_unsynced_nats)
        app[NATS_URL] = settings.nats_url
        yield
        return
    server = NatsServer(settings.home / "nats")
    await asyncio.to_thread(server.start)
    log.info("nats-server %s (fsync always), data in %s", server.url, server.store_dir)
    app[NATS_URL] = server.url
    try:
        yield
    finally:
        await asyncio.to_thread(server.stop)


async def nats_client(app: web.Application) -> AsyncIterator[None]:
    client = await nats.connect(app[NATS_URL], name="livebridge", max_reconnect_attempts=-1)
    app[NATS] = client
    try:
        yield
    finally:
        await client.drain()


async def postgres(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    found = await asyncio.to_thread(find_or_start, settings.database_url, settings.home)
    log.info("PostgreSQL %s", found.url)
    app[POSTGRES] = found
    try:
        yield
    finally:
        await asyncio.to_thread(found.stop)


async def healthz(_request: web.Request) -> web.Response:
    """Alive: the process answers. Says nothing about its dependencies."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready: NATS connected (to a server checked for fsync at start) and PostgreSQL answers."""
    app = request.app
    checks: dict[str, str] = {}
    client = app.get(NATS)
    checks["nats"] = "ok" if client is not None and client.is_connected else "not connected"
    pg = app.get(POSTGRES)
    checks["postgres"] = "not started"
    if pg is not None:
        checks["postgres"] = "ok"
        try:
            async with await psycopg.AsyncConnection.connect(pg.url, connect_timeout=2) as conn:
                await conn.execute("SELECT 1")
        except psycopg.Error as error:
            checks["postgres"] = f"error: {error.__class__.__name__}"
    ready = all(value == "ok" for value in checks.values())
    return web.json_response(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status=200 if ready else 503,
    )


def build_app(settings: Settings) -> web.Application:
    app = web.Application()
    app[SETTINGS] = settings
    app.cleanup_ctx.extend([nats_server, nats_client, postgres])
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


def run(settings: Settings | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = settings or Settings.from_env()
    settings.home.mkdir(parents=True, exist_ok=True)
    app = build_app(settings)
    print(f"livebridge serving http://{settings.http_host}:{settings.http_port} (Ctrl-C stops)")
    with suppress(KeyboardInterrupt):
        web.run_app(app, host=settings.http_host, port=settings.http_port, print=None)
