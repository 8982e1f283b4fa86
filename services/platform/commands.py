"""`livebridge webhooks parked|resend`: see and re-send settlements parked for an endpoint.

Endpoints come from `[[webhooks]]` in `LIVEBRIDGE_CONFIG` (see `services.platform.service`);
NATS from `--nats-url`, else `LIVEBRIDGE_NATS_URL`, else `NATS_URL`. `resend` delivers the
parked settlements of the endpoint in stream order (each player's in order), with the
endpoint's retries, removes each one delivered, and exits 1 if some are still parked.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from functools import partial
from typing import NoReturn

import aiohttp
import nats
from nats.aio.client import Client
from nats.js.errors import NotFoundError

from services.platform.service import load_endpoints
from services.platform.service import parked_bucket
from services.platform.service import settings_from_env
from services.platform.stream import SettleStream
from services.platform.webhooks import Endpoint
from services.platform.webhooks import ParkedStore
from services.platform.webhooks import WebhookDelivery


def arguments(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """`livebridge webhooks parked|resend`'s actions and arguments; they read `env`."""
    actions = parser.add_subparsers(dest="webhooks_action", required=True)
    for name, handler, text in (
        ("parked", run_parked, "list the settlements parked for an endpoint"),
        ("resend", run_resend, "deliver the parked settlements again, in order"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("--endpoint", required=True, help="the endpoint's name in the config")
        action.add_argument("--nats-url", default=None)
        action.set_defaults(handler=partial(handler, env=env))


def _refuse(message: str) -> NoReturn:
    """One line on stderr and exit status 2: what the command was given cannot be used
    (status 1 is `resend`'s "some are still parked", which a script retries)."""
    print(f"livebridge webhooks: {message}", file=sys.stderr)
    raise SystemExit(2)


def _nats_url(args: argparse.Namespace, env: Mapping[str, str]) -> str:
    url: str | None = args.nats_url or env.get("LIVEBRIDGE_NATS_URL") or env.get("NATS_URL")
    if not url:
        _refuse("give --nats-url or set LIVEBRIDGE_NATS_URL")
    return url


async def _connect(url: str) -> Client:
    """NATS at `url`; one line and exit 2 within seconds when it does not answer (nats-py
    alone tries for two minutes, then ends in a traceback)."""

    async def quiet(_error: Exception) -> None:
        pass  # the line below says it once

    try:
        return await asyncio.wait_for(
            nats.connect(
                url.split(","),
                connect_timeout=3,
                max_reconnect_attempts=1,  # each server tried once: nats-py's 60 take two minutes
                error_cb=quiet,
            ),
            timeout=8,
        )
    except Exception as exc:
        reason = str(exc) or type(exc).__name__
        _refuse(f"cannot reach NATS at {url} ({reason}); check --nats-url or LIVEBRIDGE_NATS_URL")


async def _settle_stream_at(nc: Client, stream: SettleStream, url: str) -> None:
    """The settle stream is on the server: another server (or stream name) is an error, not
    "0 parked" from a parked bucket that the look itself would have made there."""
    try:
        await nc.jetstream().stream_info(stream.name)
    except NotFoundError:
        _refuse(
            f"{url} holds no stream {stream.name}: settlements are published there "
            "(check --nats-url, LIVEBRIDGE_NATS_URL and LIVEBRIDGE_SETTLE_STREAM)"
        )


def _endpoint(name: str, env: Mapping[str, str]) -> Endpoint:
    """The endpoint `name` of `[[webhooks]]`; one that cannot be used (its `secret_env`
    unset, a value of the wrong type, a settle stream NATS would refuse) is one line and
    exit 2, as `livebridge run` says it."""
    try:
        settings_from_env(env)
        endpoints = load_endpoints(None, env)
    except ValueError as exc:  # msgspec's ValidationError too: its lines made one
        _refuse(" / ".join(line.strip() for line in str(exc).splitlines() if line.strip()))
    for endpoint in endpoints:
        if endpoint.name == name:
            return endpoint
    config = env.get("LIVEBRIDGE_CONFIG", "livebridge.toml")
    known = ", ".join(repr(e.name) for e in endpoints) or "none"
    _refuse(
        f"no endpoint {name!r} in [[webhooks]] of {config} "
        f"(endpoints there: {known}); give one of those with --endpoint"
    )


def run_parked(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    _endpoint(args.endpoint, env)  # an unknown name is an error, not "0 parked"

    async def main() -> int:
        stream = settings_from_env(env)
        nc = await _connect(url := _nats_url(args, env))
        try:
            await _settle_stream_at(nc, stream, url)
            store = await ParkedStore.open(nc.jetstream(), parked_bucket(stream))
            entries = await store.list(args.endpoint)
        finally:
            await nc.close()
        for e in entries:
            when = datetime.fromtimestamp(e.parked_at, UTC).isoformat(timespec="seconds")
            print(f"seq {e.seq} {e.event_id} player {e.player} parked {when}: {e.error}")
        print(f"{len(entries)} parked for {args.endpoint}")
        return 0

    return asyncio.run(main())


def run_resend(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    endpoint = _endpoint(args.endpoint, env)

    async def main() -> tuple[int, int]:
        stream = settings_from_env(env)
        nc = await _connect(url := _nats_url(args, env))
        try:
            await _settle_stream_at(nc, stream, url)
            js = nc.jetstream()
            store = await ParkedStore.open(js, parked_bucket(stream))
            async with aiohttp.ClientSession() as session:
                return await WebhookDelivery(js, session, stream, endpoint, store).resend()
        finally:
            await nc.close()

    delivered, left = asyncio.run(main())
    print(f"resent {delivered} settlements to {endpoint.name}; {left} still parked")
    if left:
        print("the endpoint still refuses some; run resend again once it answers", file=sys.stderr)
    return 1 if left else 0
