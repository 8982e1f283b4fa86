"""`livebridge simulate`: play live tables against a running bridge and check every balance.

    livebridge simulate --url http://127.0.0.1:8080 --dialect softswiss --tables 3 \\
        --players 50 --rounds 100 --seed 7

The simulator is the provider: it signs wallet calls in the chosen dialect (secret from
the provider's entry in `livebridge.toml`, or `--secret-env`/`--secret-file`; Hub88 needs
its private key, `--key-file`), pushes game events to `/feed/<provider>` (HMAC under
`--feed-secret-env`, default LIVEBRIDGE_FEED_SECRET), and plays the platform's part too:
it opens and funds the players in the ledger and issues their sessions in JetStream KV,
on the bridge's own NATS (`--nats-url`, default LIVEBRIDGE_NATS_URL, and the bridge's
stream prefix, `LIVEBRIDGE_STREAM_PREFIX`, default LB). It prints a JSON report and exits
1 on any mismatch.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from collections.abc import Mapping
from decimal import Decimal
from functools import partial
from pathlib import Path

import aiohttp
import nats

from services.edge.config import ConfigError
from services.edge.config import load_providers
from services.edge.sessions import SESSION_BUCKET
from services.edge.sessions import KvSessionStore
from services.simulate.bank import LedgerBank
from services.simulate.clients.base import HttpTransport
from services.simulate.clients.hub88 import load_private_key
from services.simulate.drivers import WalletDriver
from services.simulate.drivers.by_dialect import DIALECTS
from services.simulate.drivers.by_dialect import driver_for
from services.simulate.simulation import DEFAULT_GAMES
from services.simulate.simulation import simulate
from services.simulate.table import http_pusher


def arguments(
    p: argparse.ArgumentParser, env: Mapping[str, str]
) -> Callable[[argparse.Namespace], int]:
    """`livebridge simulate`'s arguments; it reads `env`."""
    p.add_argument("--url", default="http://127.0.0.1:8080", help="the bridge's base URL")
    p.add_argument("--dialect", choices=DIALECTS, default="softswiss")
    p.add_argument("--provider", default="", help="provider id (default: the dialect name)")
    p.add_argument("--tables", type=int, default=1)
    p.add_argument("--players", type=int, default=50, help="players per table")
    p.add_argument("--rounds", type=int, default=100, help="rounds per table")
    p.add_argument(
        "--bettors", type=int, default=0, help="players betting each round (default: all)"
    )
    p.add_argument("--parallel", type=int, default=1, help="rounds of a table in play at once")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--currency", default="EUR")
    p.add_argument("--games", nargs="*", default=list(DEFAULT_GAMES))
    p.add_argument("--secret-env", default="", help="env var holding the signing secret")
    p.add_argument("--secret-file", default="", help="file holding the signing secret")
    p.add_argument("--key-file", default="", help="Hub88: the RSA private key (PEM)")
    p.add_argument("--operator-id", type=int, default=0, help="Ezugi operatorId")
    p.add_argument("--feed-secret-env", default="LIVEBRIDGE_FEED_SECRET")
    p.add_argument("--nats-url", default=env.get("LIVEBRIDGE_NATS_URL", ""))
    # `env` is the CLI's command_env: the prefix as the bridge reads it.
    p.add_argument("--stream-prefix", default=env.get("NATS_STREAM_PREFIX", ""))
    p.add_argument("--session-bucket", default=SESSION_BUCKET, help="the edge's session KV")
    return partial(run, env=env)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """The subcommand: 0 when every balance matched, 1 on a mismatch, 2 when it could not run."""
    try:
        report = asyncio.run(_simulate(args, env))
    except (ConfigError, ValueError, OSError, aiohttp.ClientError) as exc:
        print(f"livebridge simulate: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


def _secret(args: argparse.Namespace, env: Mapping[str, str], provider: str) -> str:
    if args.secret_env:
        value = env.get(args.secret_env, "")
        if not value:
            raise ValueError(f"environment variable {args.secret_env} is not set")
        return value
    if args.secret_file:
        return Path(args.secret_file).read_text().strip()
    return load_providers(environ=env).get(provider).text_secret()


def _operator(args: argparse.Namespace, env: Mapping[str, str], provider: str) -> int:
    if args.operator_id:
        return int(args.operator_id)
    value = load_providers(environ=env).get(provider).option("operator_id", 0)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError("Ezugi needs --operator-id (or options.operator_id in the config)")
    return value


def _driver(
    args: argparse.Namespace, env: Mapping[str, str], provider: str, http: aiohttp.ClientSession
) -> WalletDriver:
    transport = HttpTransport(http, f"{args.url.rstrip('/')}/wallet/{args.dialect}/{provider}")
    if args.dialect != "hub88":
        operator = _operator(args, env, provider) if args.dialect == "ezugi" else 0
        return driver_for(
            args.dialect, transport, _secret(args, env, provider), ezugi_operator=operator
        )
    if not args.key_file:
        raise ValueError("Hub88 requests are signed with Hub88's private key: pass --key-file")
    key = load_private_key(Path(args.key_file).read_bytes())
    return driver_for(args.dialect, transport, hub88_key=key)


async def _simulate(args: argparse.Namespace, env: Mapping[str, str]) -> dict[str, object]:
    from services.ledger.application import Ledger

    provider = args.provider or args.dialect
    feed_secret = env.get(args.feed_secret_env, "")
    if not feed_secret:
        raise ValueError(f"set {args.feed_secret_env} to the provider's feed secret")
    if not args.nats_url:
        raise ValueError("pass --nats-url (or LIVEBRIDGE_NATS_URL): players are funded there")
    ledger_env = {"PERSISTENCE_MODULE": "services.eventstore", "NATS_URL": args.nats_url}
    if args.stream_prefix:  # else the event store's default, the bridge's too
        ledger_env["NATS_STREAM_PREFIX"] = args.stream_prefix
    ledger = Ledger(ledger_env)
    nc = await nats.connect(args.nats_url.split(","), name="livebridge-simulate")
    try:
        sessions = await KvSessionStore.open(nc.jetstream(), args.session_bucket)
        connector = aiohttp.TCPConnector(limit=200)
        async with aiohttp.ClientSession(connector=connector) as http:
            report = await simulate(
                driver=_driver(args, env, provider, http),
                push=http_pusher(http, f"{args.url.rstrip('/')}/feed/{provider}", feed_secret),
                bank=LedgerBank(ledger, sessions),
                provider=provider,
                tables=args.tables,
                players=args.players,
                rounds=args.rounds,
                bettors=args.bettors or None,
                parallel=args.parallel,
                seed=args.seed,
                currency=args.currency,
                deposit=Decimal("100000"),
                game_names=args.games,
            )
        return report.summary()
    finally:
        await nc.drain()
        await asyncio.to_thread(ledger.close)
