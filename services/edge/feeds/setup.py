"""Mount the game-event feeds of every configured provider on the edge's aiohttp app.

A provider opts in with options in its `livebridge.toml` entry (secrets by reference,
never inline, like the wallet secret)::

    [[provider]]
    id = "evo"
    dialect = "evolution"
    ...
    [provider.options]
    feed = "push"                      # or "pull" or "socket"
    feed_secret_env = "EVO_FEED_SECRET"  # or feed_secret_file = "/etc/livebridge/evo-feed"
    feed_url = "https://studio.example/feed"   # pull and socket: where to read from
    feed_url_alternate = "https://dr.studio.example/feed"  # where the ops playbook
                                       # switches it while the provider is degraded
    feed_token_env = "EVO_FEED_TOKEN"  # pull and socket: sent as `Authorization: Bearer`
    feed_poll_s = 1.0                  # pull: wait between empty polls
    feed_gap_timeout_s = 5.0           # how long a missing seq is waited for

The composition root calls, beside `setup_edge`::

    setup_feeds(app, sink=ledger, providers=providers, nats_url=nats_url)

Push providers get `POST /feed/<provider>`, behind the provider's `allow_ips` (seen
through its `trusted_proxies`) and `rate_limit`; pull and socket feeds run as tasks for the
app's lifetime. Positions (cursors, each round's last seq) live in JetStream KV bucket
`livebridge_feed_cursors` when `nats_url` is given, in memory otherwise (one process,
tests). Every feed's `FeedProcessor` is in `app[FEEDS_KEY]`, by provider id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from contracts.urls import HTTP
from contracts.urls import fetchable
from services.edge.config import ConfigError
from services.edge.config import ProviderConfig
from services.edge.config import ProvidersConfig
from services.edge.feeds.cursors import DEFAULT_BUCKET
from services.edge.feeds.cursors import CursorStore
from services.edge.feeds.cursors import JetStreamCursorStore
from services.edge.feeds.cursors import MemoryCursorStore
from services.edge.feeds.processor import FeedProcessor
from services.edge.feeds.pull import PullFeed
from services.edge.feeds.push import PushFeed
from services.edge.feeds.push import add_push_routes
from services.edge.feeds.sequencer import Sequencer
from services.edge.feeds.sink import EventSink
from services.edge.feeds.source import FeedOptions
from services.edge.feeds.websocket import SocketFeed
from services.edge.health import Health
from services.edge.natslink import NatsLink
from services.edge.natslink import links
from services.edge.natslink import watched_bucket
from services.edge.security import IpAllowlist
from services.edge.security import TokenBucket

log = logging.getLogger(__name__)

MODES = ("push", "pull", "socket")
_SCHEMES = (*HTTP, "ws", "wss")


@dataclass(frozen=True, slots=True)
class FeedConfig:
    provider: str
    mode: str
    secret: str
    url: str = ""
    alternate_url: str = ""
    token: str = ""
    poll_s: float = 1.0
    gap_timeout_s: float = 5.0


FEEDS_KEY = web.AppKey("edge_feeds", dict)  # provider id -> FeedProcessor


def feed_configs(providers: ProvidersConfig, environ: Mapping[str, str]) -> list[FeedConfig]:
    """The feeds the configuration asks for; a missing secret or URL fails now, not later."""
    env = environ
    found: list[FeedConfig] = []
    for provider in providers.providers:
        mode = provider.option("feed", "")
        if not mode:
            continue
        where = f"provider {provider.id!r}: feed"
        if mode not in MODES:
            raise ConfigError(f"{where} must be one of {', '.join(MODES)}, got {mode!r}")
        url = str(provider.option("feed_url", ""))
        if mode != "push" and not fetchable(url, _SCHEMES):
            raise ConfigError(
                f"{where} {mode} needs feed_url, an http(s):// or ws(s):// URL with a host, "
                f"got {url!r}"
            )
        alternate = str(provider.option("feed_url_alternate", ""))
        if alternate and not fetchable(alternate, _SCHEMES):
            raise ConfigError(
                f"{where}_url_alternate must be an http(s):// or ws(s):// URL with a host, "
                f"got {alternate!r}"
            )
        found.append(
            FeedConfig(
                provider=provider.id,
                mode=str(mode),
                secret=_reference(provider, "feed_secret", env, required=mode != "socket"),
                url=url,
                alternate_url=alternate,
                token=_reference(provider, "feed_token", env, required=False),
                poll_s=provider.seconds("feed_poll_s", 1.0),
                gap_timeout_s=provider.seconds("feed_gap_timeout_s", 5.0),
            )
        )
    return found


def _reference(
    provider: ProviderConfig, name: str, env: Mapping[str, str], *, required: bool
) -> str:
    variable = str(provider.option(f"{name}_env", ""))
    file = str(provider.option(f"{name}_file", ""))
    if variable:
        value = env.get(variable, "").strip()
        if not value:
            raise ConfigError(f"provider {provider.id!r}: {name}_env {variable} is not set")
        return value
    if file:
        try:
            value = Path(file).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"provider {provider.id!r}: {name}_file {file}: {exc}") from None
        if not value:
            raise ConfigError(f"provider {provider.id!r}: {name}_file {file} is empty")
        return value
    if required:
        raise ConfigError(f"provider {provider.id!r}: set {name}_env or {name}_file")
    return ""


def setup_feeds(
    app: web.Application,
    *,
    sink: EventSink,
    providers: ProvidersConfig,
    nats_url: str | Callable[[], str] | None = None,
    cursors: CursorStore | None = None,
    bucket: str = DEFAULT_BUCKET,
    replicas: int = 1,
    environ: Mapping[str, str],
    health: Health | None = None,
    wrap: Callable[[FeedsCtx], FeedsCtx] | None = None,
) -> dict[str, FeedProcessor]:
    """Mount push routes and start pull/socket feeds with the app; returns the processors.

    `health` (the gateway's) receives each poll's outcome and holds the playbook's switch
    to each feed's alternate endpoint. `wrap` is given the pull and socket clients'
    `cleanup_ctx` entry and returns the one to register (the bridge runs them under a
    lease: one process of several polls each feed)."""
    configs = feed_configs(providers, environ)
    store: CursorStore
    kv_store: JetStreamCursorStore | None = None
    if cursors is not None:
        store = cursors
    elif nats_url:
        store = kv_store = JetStreamCursorStore()  # its bucket is opened as the app starts
    else:
        if configs:
            log.warning("feed cursors are in process memory: a restart re-reads the feeds")
        store = MemoryCursorStore()
    processors = {
        c.provider: FeedProcessor(
            c.provider, sink, store, sequencer=Sequencer(gap_timeout=c.gap_timeout_s)
        )
        for c in configs
    }
    app[FEEDS_KEY] = processors
    pushed = {}
    for c in configs:
        if c.mode == "push":
            p = providers.get(c.provider)
            pushed[c.provider] = PushFeed(
                c.secret,
                processors[c.provider],
                allowlist=IpAllowlist(p.allow_ips),
                limiter=TokenBucket(p.rate_limit, p.burst),
                trusted_proxies=p.trusted_proxies,
            )
    if pushed:
        add_push_routes(app, pushed)
    if configs:
        app.cleanup_ctx.append(
            _run_feeds(configs, processors, kv_store, nats_url, bucket, links(app), replicas)
        )
        clients = _feed_clients(configs, processors, health or Health())
        app.cleanup_ctx.append(wrap(clients) if wrap is not None else clients)
    return processors


FeedsCtx = Callable[[web.Application], AsyncIterator[None]]


def _run_feeds(
    configs: list[FeedConfig],
    processors: dict[str, FeedProcessor],
    kv_store: JetStreamCursorStore | None,
    nats_url: str | Callable[[], str] | None,
    bucket: str,
    watched: list[NatsLink],
    replicas: int,
) -> FeedsCtx:
    """The cursor store's connection and the gap sweepers: in every process (push feeds
    may reach any of them)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        link = None
        if kv_store is not None:
            url = nats_url() if callable(nats_url) else nats_url
            if not url:
                raise RuntimeError("feeds: the NATS URL for the cursor store resolved to nothing")
            link = await watched_bucket(
                kv_store, url, "livebridge-feeds", bucket, replicas, watched
            )
        tasks = [asyncio.create_task(p.run_sweeper()) for p in processors.values()]
        try:
            yield
        finally:
            await _cancel(tasks)
            if link is not None:
                await link.stop()

    return ctx


def _feed_clients(
    configs: list[FeedConfig], processors: dict[str, FeedProcessor], health: Health
) -> FeedsCtx:
    """The pull and socket feed clients: one process of several runs them (`wrap`)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50))
        tasks = []
        for c in configs:
            if c.mode not in ("pull", "socket"):
                continue  # pushed to us: no client of ours
            processor = processors[c.provider]
            options = FeedOptions(
                token=c.token, alternate_url=c.alternate_url, health=health[c.provider]
            )
            feed: PullFeed | SocketFeed
            if c.mode == "pull":
                feed = PullFeed(
                    processor, http, c.url, secret=c.secret, interval=c.poll_s, **options
                )
            else:
                feed = SocketFeed(processor, http, c.url, **options)
            tasks.append(asyncio.create_task(feed.run()))
        try:
            yield
        finally:
            await _cancel(tasks)
            await http.close()

    return ctx


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
