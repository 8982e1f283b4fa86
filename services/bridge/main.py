"""The composition root of `livebridge run`: builds every long-lived resource and serves HTTP.

Each resource is an aiohttp `cleanup_ctx` under a typed `web.AppKey`, started in order
and stopped in reverse on Ctrl-C:

1. the nats-server (from the wheel, unless `LIVEBRIDGE_NATS_URL` names one, which must pass
   the same fitness checks; three of them, routed as one JetStream cluster, with
   `LIVEBRIDGE_CLUSTER=1`) and a client connection to it;
2. the PostgreSQL that holds the views;
3. the ledger (the eventsourcing application on JetStream) and its round-book follower,
   which refunds late bets and settles bridge-settled rounds as the log orders them; then
   limits and player protection (their own log, followed in a thread), checked by the
   ledger before every hold;
4. the projections keeping the views current, with the read API over them;
5. the round.settle publisher and webhook deliveries;
6. the platform API behind its front door (operator keys and scopes, `services/frontdoor`);
7. the provider wallet routes and game-event feeds (`livebridge.toml`: push routes under
   `/feed/<provider>`, pull and socket feeds as tasks); sessions and feed cursors live in
   JetStream KV;
8. the operations: KPIs, dispute tickets and the audit queue, QoS ingest, and the SLA
   watch with its automated playbook (`[sla]` in `livebridge.toml`);
9. glibc's heap, trimmed every minute (its arenas limited as `run` starts, before any
   thread: `services.bridge.malloc`).

Several bridges may serve one cluster: the jobs that must run once (the round-book follower,
the views' runners, the settle publisher with its webhooks, the pull and socket feeds) each
run only in the bridge holding their lease (`services.bridge.leases`).

`<home>/endpoints.json` records where NATS and PostgreSQL are and the serving process, so
the other commands (`livebridge replay`, `export`, `reconcile`, `simulate`...) find a
running bridge, and ignore the file that a killed one left behind.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
import threading
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC
from datetime import datetime

import msgspec
import psycopg
import uvloop
from aiohttp import web
from nats.aio.client import Client

from contracts.events import AnyProviderEvent
from contracts.player import LimitsUpdate
from projections.catalog import VIEWS as VIEW_SPECS
from projections.catalog import view_env
from projections.http import READ_OPERATIONS
from projections.http import VIEWS
from projections.http import setup_views
from projections.reconcile.audit import AuditRuns
from services.bridge import collector
from services.bridge import heapwatch
from services.bridge import malloc
from services.bridge import viewsproc
from services.bridge.config import ENDPOINTS_FILE
from services.bridge.config import Settings
from services.bridge.configfile import BridgeConfig
from services.bridge.configfile import read_config
from services.bridge.leases import LEASES
from services.bridge.leases import leased
from services.bridge.leases import leases_ctx
from services.bridge.nats_keeper import NatsKeeper
from services.bridge.postgres import Postgres
from services.bridge.postgres import PostgresUnavailable
from services.bridge.postgres import find_or_start
from services.bridge.telemetry import AccessLog
from services.bridge.telemetry import serve_metrics
from services.bridge.telemetry import setup_telemetry
from services.edge import natslink
from services.edge.app import setup_edge
from services.edge.feeds.setup import setup_feeds
from services.frontdoor.app import setup_frontdoor
from services.frontdoor.asyncapi import mount_asyncapi
from services.frontdoor.bets import setup_bets
from services.frontdoor.cashier import setup_cashier
from services.frontdoor.catalog_poll import CatalogBox
from services.frontdoor.catalog_poll import catalog_poll_ctx
from services.frontdoor.config import FrontdoorConfig
from services.frontdoor.launch import PLATFORM_SESSIONS
from services.frontdoor.launch import setup_launch
from services.frontdoor.lobby import setup_lobby
from services.frontdoor.protection import limits_subject
from services.frontdoor.protection import setup_protection
from services.frontdoor.pushes import push_hub_ctx
from services.frontdoor.sessions import PlatformSessions
from services.frontdoor.socket import setup_socket
from services.frontdoor.tables import TABLE_STATUSES
from services.frontdoor.tables import TableStatuses
from services.frontdoor.throttle import SessionThrottle
from services.infra.natscluster import NatsCluster
from services.infra.natsserver import NatsServer
from services.infra.natsserver import NatsServerError
from services.infra.natsserver import check_server
from services.ledger.application import Ledger
from services.ledger.protection import Protection
from services.ops.http import setup_ops
from services.ops.kpis import KpiBoard
from services.ops.playbook import setup_watch
from services.platform.service import settings_from_env
from services.platform.service import settle_feed
from services.platform.stream import SettleStream
from services.platform.webhooks import Endpoint

log = logging.getLogger("livebridge")

SETTINGS = web.AppKey("settings", Settings)
NATS_URL = web.AppKey("nats_url", str)
NATS_FSYNC = web.AppKey("nats_fsync", bool)
NATS = web.AppKey("nats", Client)
NATS_KEEPERS = web.AppKey("nats_keepers", list[NatsKeeper])
POSTGRES = web.AppKey("postgres", Postgres)
LEDGER = web.AppKey("ledger", Ledger)
PROTECTION = web.AppKey("protection", Protection)
CATALOG = web.AppKey("catalog", CatalogBox)
FRONTDOOR_CONFIG = web.AppKey("frontdoor_config", FrontdoorConfig)
_encoder = msgspec.json.Encoder(decimal_format="string")


async def nats_server(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if settings.nats_url:
        fitness = await check_server(
            settings.nats_url,
            monitor_url=settings.nats_monitor_url,
            allow_unsynced=settings.allow_unsynced_nats,
        )
        app[NATS_URL] = settings.nats_url
        app[NATS_FSYNC] = fitness.sync_always
        yield
        return
    servers: NatsServer | NatsCluster
    if settings.cluster:
        servers = NatsCluster(settings.home / "nats-cluster")
        nodes = list(servers.nodes.values())
    else:
        servers = NatsServer(settings.home / "nats")
        nodes = [servers]
    await asyncio.to_thread(servers.start)
    if isinstance(servers, NatsCluster):
        await servers.placed()
    log.info("nats-server %s (fsync always), data in %s", servers.url, servers.store_dir)
    app[NATS_URL] = servers.url
    app[NATS_FSYNC] = True  # started from infra/nats/, checked by the launcher
    app[NATS_KEEPERS] = keepers = [NatsKeeper(node) for node in nodes]
    watching = [asyncio.create_task(k.watch(), name="nats-keeper") for k in keepers]
    try:
        yield
    finally:
        for task in watching:
            task.cancel()
        await asyncio.gather(*watching, return_exceptions=True)
        await asyncio.to_thread(servers.stop)


async def nats_client(app: web.Application) -> AsyncIterator[None]:
    client = await natslink.connect(app[NATS_URL], "livebridge", max_reconnect_attempts=-1)
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


def ledger_env(app: web.Application) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "services.eventstore",
        "NATS_URL": app[NATS_URL],
        "NATS_STREAM_PREFIX": app[SETTINGS].stream_prefix,
        "NATS_REPLICAS": str(app[SETTINGS].nats_replicas),
    }


async def endpoints_file(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    settings.home.mkdir(parents=True, exist_ok=True)
    path = settings.home / ENDPOINTS_FILE
    found = {"nats_url": app[NATS_URL], "database_url": app[POSTGRES].url, "pid": os.getpid()}
    path.write_text(json.dumps(found, indent=2))
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def follow_round_book(ledger: Ledger, stop: threading.Event, held: Callable[[], bool]) -> None:
    """The round book's follower thread, while this bridge holds its lease (`held`).

    A failed pass is logged and tried again; one failing as the bridge stops (its ledger
    closing under it) is not news.
    """
    while not stop.is_set():
        try:
            if not held() or not ledger.follow_round_book_once():
                stop.wait(0.05)
        except Exception as error:
            if not stop.is_set():
                natslink.log_failure(log, "round book follower failed; retrying in 1 s", error)
                stop.wait(1.0)


async def ledger(app: web.Application) -> AsyncIterator[None]:
    bounds = app[SETTINGS].memory
    log.info("%s", bounds.describe())
    app[LEDGER] = await asyncio.to_thread(Ledger, {**ledger_env(app), **bounds.ledger_env()})
    stop = threading.Event()
    held = app[LEASES].lease("round-book").holding
    follower = threading.Thread(
        target=follow_round_book, args=(app[LEDGER], stop, held), name="round-book", daemon=True
    )
    follower.start()
    try:
        yield
    finally:
        stop.set()
        await asyncio.to_thread(follower.join, 10)
        await asyncio.to_thread(app[LEDGER].close)


async def protection(app: web.Application) -> AsyncIterator[None]:
    """Limits and player protection from their log, followed in a thread; the ledger
    checks them before every hold from here on."""
    guard = await asyncio.to_thread(
        Protection, ledger_env(app), baseline=app[FRONTDOOR_CONFIG].limits
    )
    await asyncio.to_thread(guard.catch_up)
    box = app.get(CATALOG)
    if box is not None:  # the catalogue's per-table bet-type limits, read in memory per bet
        guard.state.table_limits = lambda p, t, c: box.current.bet_limits(p, t, c)
    app[PROTECTION] = guard
    app[LEDGER].policy = guard

    def follow() -> None:
        while not stopped.is_set():
            try:
                guard.follow()
            except Exception as error:
                if not stopped.is_set():
                    natslink.log_failure(log, "protection follower failed; retrying in 1 s", error)
                    stopped.wait(1.0)

    stopped = threading.Event()
    follower = threading.Thread(target=follow, name="protection", daemon=True)
    follower.start()
    try:
        yield
    finally:
        stopped.set()
        app[LEDGER].policy = None
        guard.stop_following()
        await asyncio.to_thread(follower.join, 10)
        await asyncio.to_thread(guard.close)


class _LedgerSink:
    """The feeds' event sink: the ledger, once its context has started it."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    def record_event(self, event: AnyProviderEvent) -> None:
        self._app[LEDGER].record_event(event)


def views_env(app: web.Application) -> dict[str, str]:
    """The projections' settings: the ledger's log and the views' PostgreSQL."""
    return {**ledger_env(app), **view_env(app[POSTGRES].url)}


def view_leases(app: web.Application) -> dict[str, Callable[[], bool]]:
    """Each view's runner runs while this bridge holds the lease `view-<name>`."""
    return {name: app[LEASES].lease(f"view-{name}").holding for name in VIEW_SPECS}


def settle_ctx(
    settings: Settings, stream: SettleStream, endpoints: Sequence[Endpoint]
) -> Callable[[web.Application], AsyncIterator[None]]:
    """The settle publisher and its webhook deliveries (run under the `round-settle` lease)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        ledger: Ledger = app[LEDGER]
        async with settle_feed(
            ledger=ledger,
            nc=app[NATS],
            endpoints=endpoints,
            stream=stream,
            reported_bets=settings.memory.reported_bets,
        ):
            yield

    return ctx


async def healthz(request: web.Request) -> web.Response:
    """Alive: the process answers, and no dependency it owns is down beyond its repair.

    503 while the nats-server it started is dead and could not be restarted (see
    `services.bridge.nats_keeper`); everything else is `/readyz`'s business.
    """
    down = [k.down for k in request.app.get(NATS_KEEPERS, []) if k.down is not None]
    if down:
        return web.json_response({"status": "failing", "nats-server": "; ".join(down)}, status=503)
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready: NATS connected (to a server checked for fsync at start) and PostgreSQL answers.

    A server let through unchecked (`LIVEBRIDGE_ALLOW_UNSYNCED_NATS=1`) is never ready:
    acknowledging bets that may not be on disk is what I6 forbids (docs/invariants.md).
    """
    app = request.app
    checks: dict[str, str] = {}
    client = app.get(NATS)
    checks["nats"] = "ok" if client is not None and client.is_connected else "not connected"
    checks["fsync"] = "ok" if app.get(NATS_FSYNC, False) else "not verified"
    checks["ledger"] = "ok" if LEDGER in app else "not started"
    pg = app.get(POSTGRES)
    checks["postgres"] = "not started"
    if pg is not None:
        checks["postgres"] = "ok"
        try:
            async with await psycopg.AsyncConnection.connect(pg.url, connect_timeout=2) as conn:
                await conn.execute("SELECT 1")
        except psycopg.Error as error:
            checks["postgres"] = f"error: {error.__class__.__name__}"
    checks.update(natslink.readiness(app))  # the edge's own connections (sessions, feeds)
    ready = all(value == "ok" for value in checks.values())
    return web.json_response(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status=200 if ready else 503,
    )


def build_app(settings: Settings, config: BridgeConfig | None = None) -> web.Application:
    """The bridge, built from `settings` and its configuration file (`config`, else read
    now: a `SettingsError` says what is wrong with it); nothing starts until it runs."""
    config = config or read_config(settings)
    for note in config.notes:
        logging.getLogger(note.name).handle(note)
    if not config.found:
        log.warning(
            "no provider configuration at %s: wallet routes are not mounted "
            "(copy infra/livebridge.example.toml, or set LIVEBRIDGE_CONFIG)",
            settings.config_path,
        )
    app = web.Application(client_max_size=1024**2)
    app[SETTINGS] = settings
    app.cleanup_ctx.extend(
        [
            nats_server,
            nats_client,
            leases_ctx(
                NATS,
                prefix=settings.stream_prefix,
                replicas=settings.nats_replicas,
                ttl=settings.lease_ttl,
            ),
            postgres,
            endpoints_file,
            ledger,
            protection,
            malloc.trim_ctx(),
            heapwatch.watch_ctx(settings.environ),
        ]
    )
    # the views' runners (each under its lease), and the read API over them (in every bridge)
    setup_views(
        app,
        views_env,
        gates=view_leases,
        elsewhere=viewsproc.views_process if settings.views_process else None,
    )
    settle_stream = settings_from_env(settings.environ, settings.nats_replicas)
    app.cleanup_ctx.append(
        leased("round-settle", settle_ctx(settings, settle_stream, config.webhooks))
    )
    app[FRONTDOOR_CONFIG] = config.frontdoor
    frontdoor = setup_frontdoor(app, config=app[FRONTDOOR_CONFIG], documented=READ_OPERATIONS)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", serve_metrics)
    app.router.add_get("/readyz", readyz)
    configured = config.providers
    gateway = setup_edge(
        app,
        ledger=lambda: app[LEDGER],
        providers=configured,
        nats_url=lambda: app[NATS_URL],
        replicas=settings.nats_replicas,
    )
    setup_feeds(
        app,
        sink=_LedgerSink(app),
        providers=configured,
        nats_url=lambda: app[NATS_URL],
        replicas=settings.nats_replicas,
        environ=settings.environ,
        health=gateway.health,
        wrap=lambda ctx: leased("feeds", ctx),
    )
    setup_cashier(
        app,
        frontdoor.table,
        ledger=lambda: app[LEDGER],
        balances=lambda: app[VIEWS].balances,
        providers=configured,
    )
    # the front door's hot state, each bucket on a connection of its own, reopened if lost
    app[PLATFORM_SESSIONS] = PlatformSessions()
    app[TABLE_STATUSES] = TableStatuses()
    hot: tuple[tuple[natslink.ClosableBucketStore, str, str], ...] = (
        (app[PLATFORM_SESSIONS], "livebridge-frontdoor", "platform_sessions"),
        (app[TABLE_STATUSES], "livebridge-tables", "table_status"),
    )
    for store, name, bucket in hot:
        app.cleanup_ctx.append(
            natslink.bucket_ctx(
                store,
                lambda: app[NATS_URL],
                name,
                f"{settings.stream_prefix}_{bucket}",
                settings.nats_replicas,
                natslink.links(app),
            )
        )
    catalog = CatalogBox(config.catalog)
    app[CATALOG] = catalog
    app.cleanup_ctx.append(catalog_poll_ctx(catalog, config.catalog_sources, configured))
    setup_lobby(app, frontdoor.table, catalog=lambda: catalog.current, providers=configured)
    end_sessions = setup_launch(
        app,
        frontdoor.table,
        sessions=gateway.context.sessions,
        tokens=frontdoor.tokens,
        ledger=lambda: app[LEDGER],
        providers=configured,
        idle_s=frontdoor.config.provider_idle_s,
        protection=lambda: app[PROTECTION],
        catalog=lambda: catalog.current,
    )
    take_bet = setup_bets(
        app,
        frontdoor.table,
        ledger=lambda: app[LEDGER],
        protection=lambda: app[PROTECTION],
        refusal=lambda provider, table, seat: catalog.current.refusal(
            app[TABLE_STATUSES], provider, table, datetime.now(UTC), seat
        ),
    )

    async def publish_limits(update: LimitsUpdate) -> None:
        await app[NATS].publish(limits_subject(settings.stream_prefix), _encoder.encode(update))

    setup_protection(
        app,
        frontdoor.table,
        protection=lambda: app[PROTECTION],
        publish=publish_limits,
        end_sessions=end_sessions,
    )
    app.cleanup_ctx.append(
        push_hub_ctx(
            ledger=lambda: app[LEDGER],
            nc=lambda: app[NATS],
            stream=settle_stream,
            statuses=lambda: app[TABLE_STATUSES],
            limits_subject=limits_subject(settings.stream_prefix),
            sessions_bucket=f"{settings.stream_prefix}_platform_sessions",
        )
    )
    setup_socket(app, frontdoor.table, take=take_bet, protection=lambda: app[PROTECTION])
    mount_asyncapi(
        app,
        frontdoor.table,
        settle_root=settle_stream.root,
        limits_subject=limits_subject(settings.stream_prefix),
    )
    board = KpiBoard(lambda: app[VIEWS].rounds, config.kpis)
    setup_ops(
        app,
        frontdoor.table,
        board,
        cases_env=lambda: ledger_env(app),
        reconcile=AuditRuns(lambda: ledger_env(app)),
    )
    setup_watch(
        app,
        config=config.sla,
        env=lambda: ledger_env(app),
        health=gateway.health,
        throttle=SessionThrottle(),
        publish=lambda: app[NATS].publish,
        board=board,
        tables=lambda: app.get(TABLE_STATUSES),
        switchable={p.id for p in configured.providers if p.option("feed_url_alternate", "")},
    )
    # last: once every part has started, what the bridge holds is frozen out of collections
    collector.freeze_after_start(app, enabled=not heapwatch.census_on(settings.environ))
    return app


def run(settings: Settings, config: BridgeConfig) -> int:
    """Serve until Ctrl-C (0); `config` was read and checked before (`read_config`).

    A server the bridge needs that does not answer or cannot be trusted as it starts
    (PostgreSQL, or the nats-server: see `services.infra.natsserver`) stops it, once what
    had started is stopped, with that line on stderr and status 1."""
    arenas = malloc.limit_arenas(settings.environ)  # before the bridge starts its threads
    if heapwatch.start(settings.environ):
        log.warning("tracemalloc on (LIVEBRIDGE_HEAP_WATCH_DIR): for a diagnosis only")
    setup_telemetry(settings.environ)
    if arenas is not None:
        log.info("malloc: at most %d arenas (MALLOC_ARENA_MAX unset)", arenas)
    mapped = malloc.map_large_chunks(settings.environ)
    if mapped is not None:
        log.info("malloc: chunks of %d bytes or more mapped on their own", mapped)
    settings.home.mkdir(parents=True, exist_ok=True)
    app = build_app(settings, config)
    print(f"livebridge serving http://{settings.http_host}:{settings.http_port} (Ctrl-C stops)")
    with suppress(KeyboardInterrupt):
        # uvloop: the HTTP edge, the sockets and every bet's answer run on this loop.
        loop = uvloop.new_event_loop()
        try:
            web.run_app(
                app,
                host=settings.http_host,
                port=settings.http_port,
                print=None,
                loop=loop,
                access_log_class=AccessLog,
            )
        except (PostgresUnavailable, NatsServerError) as exc:
            print(f"livebridge run: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            if not (isinstance(exc, socket.gaierror) or "attempting to bind" in str(exc)):
                raise
            # found only by trying, once everything else started (and was then stopped)
            print(
                f"livebridge run: cannot listen on {settings.http_host}:{settings.http_port} "
                f"({exc.strerror or exc}); free the port or set LIVEBRIDGE_HTTP_PORT "
                "(and LIVEBRIDGE_HTTP_HOST)",
                file=sys.stderr,
            )
            return 1
    return 0
