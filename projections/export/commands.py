"""`livebridge export` and `livebridge verify`.

`export` reads the ledger's log (persistence from the environment: `LIVEBRIDGE_NATS_URL` or
`NATS_URL`, `NATS_STREAM_PREFIX`, or another `PERSISTENCE_MODULE`) and writes
`events.jsonl` and `manifest.json` into `--out`.
`verify` needs only the export directory: it exits 0 and prints the head hash when the
export is intact, else exits 1 naming the first line that does not match.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from projections.export.chain import Mismatch, verify
from projections.export.exporter import export
from projections.export.selection import PeriodQuery, Query, RoundQuery, SessionQuery


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "export",
        help="export every event of a round, session or period, hash-chained, for auditors",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--round", metavar="ID", help="a round id")
    which.add_argument("--session", metavar="ID", help="a session id")
    which.add_argument(
        "--period", nargs=2, metavar=("FROM", "TO"), help="ISO 8601 times, FROM inclusive"
    )
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    parser.set_defaults(handler=run_export)

    check = sub.add_parser("verify", help="check an export offline (no NATS, no PostgreSQL)")
    check.add_argument("export", type=Path, help="the export directory")
    check.set_defaults(handler=run_verify)


def parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone; add Z or +00:00")
    return value


def query_from(args: argparse.Namespace) -> Query:
    if args.round:
        return RoundQuery(args.round)
    if args.session:
        return SessionQuery(args.session)
    start, end = args.period
    return PeriodQuery(parse_time(start), parse_time(end))


def ledger_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ledger's settings from the environment, as the service uses them.

    `LIVEBRIDGE_NATS_URL` stands for `NATS_URL` and `LIVEBRIDGE_STREAM_PREFIX` for
    `NATS_STREAM_PREFIX` (as the bridge reads them); with a NATS URL the persistence module
    defaults to the JetStream store.
    """
    env = dict(os.environ if environ is None else environ)
    if not env.get("NATS_STREAM_PREFIX") and env.get("LIVEBRIDGE_STREAM_PREFIX"):
        env["NATS_STREAM_PREFIX"] = env["LIVEBRIDGE_STREAM_PREFIX"]
    if not env.get("NATS_URL") and env.get("LIVEBRIDGE_NATS_URL"):
        env["NATS_URL"] = env["LIVEBRIDGE_NATS_URL"]
    if env.get("NATS_URL"):
        env.setdefault("PERSISTENCE_MODULE", "services.eventstore")
    return env


def open_ledger() -> Any:
    """The ledger application, its persistence configured from the environment."""
    from services.ledger.application import Ledger

    return Ledger(ledger_env())


def run_export(args: argparse.Namespace) -> int:
    try:
        query = query_from(args)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        print(f"livebridge export: {exc}", file=sys.stderr)
        return 2
    app = open_ledger()
    try:
        manifest = export(
            recorder=app.recorder,
            mapper=app.mapper,
            application=app.name,
            query=query,
            directory=args.out,
        )
    finally:
        app.close()
    if manifest.events == 0:
        print(
            f"livebridge export: no event in log positions {manifest.scanned.first}.."
            f"{manifest.scanned.last} names {query.describe()}; check the id (session ids are "
            "found only in events that record them)",
            file=sys.stderr,
        )
    print(
        f"exported {manifest.events} events (log positions {manifest.scanned.first}.."
        f"{manifest.scanned.last} scanned) to {args.out}; head hash {manifest.head_hash}"
    )
    return 0


def run_verify(args: argparse.Namespace) -> int:
    result = verify(args.export)
    if isinstance(result, Mismatch):
        print(f"export {args.export} does NOT verify: {result}", file=sys.stderr)
        return 1
    print(f"export {args.export} verifies: {result.events} events, head hash {result.head_hash}")
    return 0
