"""Composition seam for the platform feed: the settle publisher plus one delivery per webhook.

The composition root builds the ledger and the NATS connection, and keeps
`settle_feed(...)` open for the life of the process; in aiohttp, after the entries that
store them under their keys::

    app.cleanup_ctx.append(
        settle_feed_ctx(ledger=LEDGER, nc=NATS, endpoints=endpoints, stream=stream)
    )

which stores the running `SettleFeed` under `SETTLE_FEED`. On exit every task is stopped
and awaited; nothing is lost by stopping (the log and the stream are the state).

Settings, from the environment the root passes in: `settings_from_env(env)` reads
`LIVEBRIDGE_SETTLE_STREAM` (default `ROUND_SETTLE`) and `LIVEBRIDGE_SETTLE_SUBJECT` (default
`round.settle`); `load_endpoints(path, env)` the `[[webhooks]]` tables of `LIVEBRIDGE_CONFIG`
(default `livebridge.toml`): `name`, `url`, and `secret` or `secret_env` (the name of an
environment variable holding it), optional `timeout`, `max_attempts`, `backoff_base`,
`backoff_max`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import tomllib
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
from aiohttp import web
from eventsourcing.application import Application
from nats.aio.client import Client

from services.platform.publisher import CHECKPOINT_EVERY
from services.platform.publisher import SettlePublisher
from services.platform.publisher import log_reader
from services.platform.publisher import placed_reader
from services.platform.settle import REPORTED_MEMORY
from services.platform.stream import SettleStream
from services.platform.webhooks import Endpoint
from services.platform.webhooks import ParkedStore
from services.platform.webhooks import WebhookDelivery


@dataclass
class SettleFeed:
    publisher: SettlePublisher
    deliveries: dict[str, WebhookDelivery]
    stop: asyncio.Event
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


SETTLE_FEED = web.AppKey("settle_feed", SettleFeed)
STOP_GRACE_S = 2.0
"""Seconds the publisher and the deliveries get to end their step once told to stop. One
still waiting on a server that went away (five-second requests, one after another) is then
cancelled, as a crash would end it: the publisher resumes from the stream's last message
(nothing skipped, nothing published twice), and a delivery resends what its consumer had
not acknowledged, under the same event id."""


def settings_from_env(env: Mapping[str, str], replicas: int = 1) -> SettleStream:
    """The settle stream the environment names; a ValueError names a setting NATS would
    refuse (as the feed starts, or at a command's first look)."""
    name = env.get("LIVEBRIDGE_SETTLE_STREAM", "ROUND_SETTLE")
    root = env.get("LIVEBRIDGE_SETTLE_SUBJECT", "round.settle")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):  # it begins the feed's bucket names too
        raise ValueError(f"LIVEBRIDGE_SETTLE_STREAM={name!r}: use letters, digits, _ and -")
    if not re.fullmatch(r"[^.*>\s]+(\.[^.*>\s]+)*", root):
        raise ValueError(
            f"LIVEBRIDGE_SETTLE_SUBJECT={root!r}: dot-separated tokens without spaces, "
            "`*` or `>` (e.g. round.settle)"
        )
    return SettleStream(name=name, root=root, replicas=replicas)


def parked_bucket(stream: SettleStream) -> str:
    return f"{stream.name}_WEBHOOK_PARKED"


def load_endpoints(path: Path | None, env: Mapping[str, str]) -> list[Endpoint]:
    """The `[[webhooks]]` of the config file; none when the file does not exist."""
    path = path or Path(env.get("LIVEBRIDGE_CONFIG", "livebridge.toml"))
    if not path.is_file():
        return []
    return parse_endpoints(tomllib.loads(path.read_text()).get("webhooks", []), path, env)


def parse_endpoints(
    tables: Sequence[Mapping[str, Any]], path: Path, env: Mapping[str, str]
) -> list[Endpoint]:
    """Webhook endpoint tables (`name`, `url`, `secret` or `secret_env`...) as `Endpoint`s;
    also read for the ops alerts' `[[sla.webhook]]`."""
    endpoints: list[Endpoint] = []
    for table in tables:
        fields = dict(table)
        secret_env = fields.pop("secret_env", None)
        if secret_env:
            if secret_env not in env:
                raise ValueError(
                    f"{path}: webhook {fields.get('name')!r} reads its secret from "
                    f"${secret_env}, which is not set"
                )
            fields["secret"] = env[secret_env]
        try:
            endpoint = msgspec.convert(fields, Endpoint)
        except msgspec.ValidationError as exc:
            raise ValueError(f"{path}: webhook {fields.get('name')!r}: {exc}") from None
        if any(e.name == endpoint.name for e in endpoints):
            # one consumer and one parked list per name: the second would silently replace
            # the first, whose URL would never get a settlement
            raise ValueError(
                f"{path}: two webhooks are named {endpoint.name!r}; give each its own name"
            )
        endpoints.append(endpoint)
    return endpoints


@contextlib.asynccontextmanager
async def settle_feed(
    *,
    ledger: Application[Any],
    nc: Client,
    endpoints: Sequence[Endpoint] = (),
    stream: SettleStream,
    session: aiohttp.ClientSession | None = None,
    poll: float = 0.05,
    checkpoint_every: float | None = CHECKPOINT_EVERY,
    reported_bets: int = REPORTED_MEMORY,
) -> AsyncIterator[SettleFeed]:
    """Run the settle publisher and a delivery per endpoint until the block exits."""
    js = nc.jetstream()
    await stream.ensure(js)
    own_session = session is None
    http = session or aiohttp.ClientSession()
    try:
        parked = (
            await ParkedStore.open(js, parked_bucket(stream), stream.replicas)
            if endpoints
            else None
        )
        stop = asyncio.Event()
        feed = SettleFeed(
            publisher=SettlePublisher(
                nc,
                stream,
                log_reader(ledger),
                poll=poll,
                checkpoint_every=checkpoint_every,
                reported_bets=reported_bets,
                recall=placed_reader(ledger),
            ),
            deliveries={},
            stop=stop,
        )
        for endpoint in endpoints:
            assert parked is not None
            delivery = WebhookDelivery(js, http, stream, endpoint, parked)
            await delivery.start_parked()
            feed.deliveries[endpoint.name] = delivery
        feed.tasks.append(asyncio.create_task(feed.publisher.run(stop), name="settle-publisher"))
        for name, delivery in feed.deliveries.items():
            feed.tasks.append(asyncio.create_task(delivery.run(stop), name=f"webhook-{name}"))
        try:
            yield feed
        finally:
            stop.set()
            _, late = await asyncio.wait(feed.tasks, timeout=STOP_GRACE_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*feed.tasks, return_exceptions=True)
    finally:
        if own_session:
            await http.close()


def settle_feed_ctx(
    *,
    ledger: Application[Any] | web.AppKey[Any],
    nc: Client | web.AppKey[Client],
    endpoints: Sequence[Endpoint],
    stream: SettleStream,
    reported_bets: int = REPORTED_MEMORY,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """`settle_feed` as an aiohttp `cleanup_ctx` entry; the running feed is `app[SETTLE_FEED]`.

    `ledger` and `nc` may be the `web.AppKey`s under which earlier `cleanup_ctx` entries
    store them; they are looked up when the application starts.
    """

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        async with settle_feed(
            ledger=app[ledger] if isinstance(ledger, web.AppKey) else ledger,
            nc=app[nc] if isinstance(nc, web.AppKey) else nc,
            endpoints=endpoints,
            stream=stream,
            reported_bets=reported_bets,
        ) as feed:
            app[SETTLE_FEED] = feed
            yield

    return ctx
