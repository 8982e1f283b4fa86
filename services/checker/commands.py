"""`livebridge check`: judge a history against a ledger's log (and its balances view).

    livebridge check --history run/history.jsonl --nats-url nats://127.0.0.1:4222 \\
        [--stream LB_LEDGER] [--database-url postgresql://...]

Prints offered, acknowledged, refused, indefinite, lost, duplicated and violations as
JSON (with the first examples of each fault); exit 1 when anything was lost, duplicated
or violated, 2 (one line on stderr) when the history, the stream or the view cannot be
read. `make chaos` runs the same judgement after its run.
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

import msgspec
import nats.errors
import psycopg
from nats.js.errors import NotFoundError

from services.checker.history import read_history
from services.checker.log import read_stream
from services.checker.verdict import ViewRows
from services.checker.verdict import judge


def read_view(database_url: str) -> ViewRows:
    """The balances view's wallets, read raw: (player, currency) -> (balance, held)."""
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        rows = conn.execute("SELECT player, currency, balance, held FROM balances_wallets")
        return {(p, c): (Decimal(b), Decimal(h)) for p, c, b, h in rows.fetchall()}


def arguments(
    p: argparse.ArgumentParser, env: Mapping[str, str]
) -> Callable[[argparse.Namespace], int]:
    p.add_argument("--history", required=True, help="the JSON-lines history of a run")
    p.add_argument("--nats-url", default=env.get("LIVEBRIDGE_NATS_URL", ""))
    prefix = env.get("NATS_STREAM_PREFIX", "LB")
    p.add_argument("--stream", default=f"{prefix}_LEDGER", help="the ledger's stream")
    p.add_argument("--database-url", default="", help="also compare the balances view (I7)")
    return partial(main, env=env)


def main(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    if not args.nats_url:
        raise SystemExit("livebridge check: give --nats-url (or set LIVEBRIDGE_NATS_URL)")
    try:
        history = list(read_history(Path(args.history)))
        events = asyncio.run(read_stream(args.nats_url, args.stream))
        view = read_view(args.database_url) if args.database_url else None
    except NotFoundError:
        print(f"livebridge check: {args.nats_url} holds no stream {args.stream}", file=sys.stderr)
        return 2
    except (OSError, msgspec.MsgspecError, nats.errors.Error, psycopg.Error) as exc:
        print(f"livebridge check: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    verdict = judge(history, events, view)
    print(json.dumps(verdict.summary(), indent=2))
    return 0 if verdict.ok else 1
