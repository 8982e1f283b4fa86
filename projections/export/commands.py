"""`livebridge export`, `livebridge verify` and `livebridge export-key new`.

`export` reads the ledger's log (persistence from the `env` the CLI passes in: `NATS_URL`,
`NATS_STREAM_PREFIX`, or another `PERSISTENCE_MODULE`) and writes
`events.jsonl` and `manifest.json`, signed with the export key the configuration's
`[export]` table names (`signing.py`), into `--out`. A server that does not answer, or
holds no ledger stream under the prefix (a wrong URL or prefix), is refused with exit 2,
rather than exported from (and its stream created) as an empty log.

`verify DIR --key PUBLIC.pem` needs only the export directory and the bridge's public key
(no network): exit 0 when the export is intact and signed with that key; exit 1 naming
each thing that is wrong (a line, a manifest field, an unsigned manifest, another key, a
bad signature); exit 3 when it is intact but its origin is not proven (no `--key` given,
or a legacy unsigned export). `--against NATS_URL` also reads every event back from the
log by its position and runs the query again there (`online.py`).

`export-key new --out DIR` makes a key pair: the private key for the bridge's
configuration, the public key for auditors.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import nats
from nats.js.errors import NotFoundError

from projections.export.chain import LEGACY_FORMAT
from projections.export.chain import Manifest
from projections.export.chain import Mismatch
from projections.export.exporter import export
from projections.export.online import check_against
from projections.export.selection import PeriodQuery
from projections.export.selection import Query
from projections.export.selection import RoundQuery
from projections.export.selection import SessionQuery
from projections.export.signing import ExportKeyError
from projections.export.signing import generate
from projections.export.signing import public_key_file
from projections.export.signing import signing_key
from projections.export.verify import EXIT_FAILED
from projections.export.verify import EXIT_ORIGIN_UNPROVEN
from projections.export.verify import verify


def export_arguments(
    parser: argparse.ArgumentParser, env: Mapping[str, str]
) -> Callable[[argparse.Namespace], int]:
    """`livebridge export`'s arguments; it reads `env`."""
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--round", type=_an_id, metavar="ID", help="a round id")
    which.add_argument("--session", type=_an_id, metavar="ID", help="a session id")
    which.add_argument(
        "--period", nargs=2, metavar=("FROM", "TO"), help="ISO 8601 times, FROM inclusive"
    )
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    return partial(run_export, env=env)


def verify_arguments(
    check: argparse.ArgumentParser, _env: Mapping[str, str]
) -> Callable[[argparse.Namespace], int]:
    """`livebridge verify`'s arguments: it needs the export and the key, not the bridge."""
    check.add_argument("export", type=Path, help="the export directory")
    check.add_argument(
        "--key", type=Path, metavar="PUBLIC.pem", help="the bridge's export public key"
    )
    check.add_argument(
        "--against",
        metavar="NATS_URL",
        help="also check every event against the log the export names, read from this server",
    )
    return run_verify


def key_arguments(keys: argparse.ArgumentParser, _env: Mapping[str, str]) -> None:
    """`livebridge export-key new`'s arguments."""
    actions = keys.add_subparsers(dest="action", required=True)
    new = actions.add_parser("new", help="make a new key pair (never overwrites)")
    new.add_argument("--out", type=Path, required=True, help="directory to write the two files")
    new.set_defaults(handler=run_new_key)


def _an_id(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("an id may not be empty")
    return text


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


def open_ledger(env: Mapping[str, str]) -> Any:
    """The ledger application, its persistence configured by `env`."""
    from services.ledger.application import Ledger

    return Ledger(dict(env))


def run_export(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    try:
        query = query_from(args)
        key = signing_key(env)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        print(f"livebridge export: {exc}", file=sys.stderr)
        return 2
    try:
        check_log(env)
    except LogUnavailable as exc:
        print(f"livebridge export: {exc}", file=sys.stderr)
        return 2
    app = open_ledger(env)
    try:
        manifest = export(app, query, args.out, key)
    except OSError as exc:  # an --out that cannot be made or written
        print(f"livebridge export: {exc}", file=sys.stderr)
        return 2
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
        f"{manifest.scanned.last} scanned) to {args.out}; head hash {manifest.head_hash}; "
        f"signed with key {manifest.signature.key_id if manifest.signature else None}"
    )
    return 0


SHOWN = 20
"""Problems printed at most; the rest are counted."""


def run_verify(args: argparse.Namespace) -> int:
    where = f"export {args.export}"
    try:
        key = public_key_file(args.key) if args.key is not None else None
    except ExportKeyError as exc:
        print(f"livebridge verify: {exc}", file=sys.stderr)
        return 2
    report = verify(args.export, key)
    problems = list(report.problems)
    # Only an events file whose every line was read can be compared with the log.
    if args.against is not None and report.manifest is not None and report.chain is not None:
        try:
            problems.extend(online_problems(args.export, report.manifest, args.against))
        except LogUnavailable as exc:
            print(f"livebridge verify: {exc}", file=sys.stderr)
            return 2
    origin = report.origin
    code = EXIT_FAILED if problems else report.exit_code
    if code == EXIT_FAILED:
        print(f"{where} does NOT verify:", file=sys.stderr)
        for problem in problems[:SHOWN]:
            print(f"  {problem}", file=sys.stderr)
        if len(problems) > SHOWN:
            print(f"  ... and {len(problems) - SHOWN} more", file=sys.stderr)
        print(f"  origin: {origin.detail}", file=sys.stderr)
        return code
    chain = report.chain
    assert chain is not None
    summary = f"{chain.events} events, head hash {chain.head_hash}"
    checked = f"; checked against the log at {args.against}" if args.against else ""
    if code == EXIT_ORIGIN_UNPROVEN:
        print(
            f"{where} is intact ({summary}{checked}) but its origin is NOT proven: {origin.detail}"
        )
        return code
    print(f"{where} verifies: {summary}, {origin.detail}{checked}")
    return code


class LogUnavailable(Exception):
    """The log an online check needs cannot be read: the message says why."""


def online_problems(directory: Path, manifest: Manifest, url: str) -> list[Mismatch]:
    """`check_against` on the ledger whose stream the manifest names, read at `url`."""
    from services.eventstore import stream_name

    if manifest.format == LEGACY_FORMAT:
        raise LogUnavailable(
            f"--against: a legacy {LEGACY_FORMAT} manifest names no stream to read; export "
            "the query again to check it against the log"
        )
    if manifest.stream is None:
        raise LogUnavailable(
            "--against: this export was not read from a JetStream log (its manifest names no "
            "stream)"
        )
    token = stream_name("", manifest.application)
    prefix = manifest.stream.removesuffix("_" + token) if manifest.stream != token else ""
    if stream_name(prefix, manifest.application) != manifest.stream:
        raise LogUnavailable(
            f"--against: stream {manifest.stream!r} is not one of application "
            f"{manifest.application!r}"
        )
    try:
        asyncio.run(_probe(url, manifest.stream))
    except LogUnavailable as exc:
        raise LogUnavailable(f"--against: {exc}") from None
    app = open_ledger(
        {
            "PERSISTENCE_MODULE": "services.eventstore",
            "NATS_URL": url,
            "NATS_STREAM_PREFIX": prefix,
            "CREATE_TABLE": "n",
        }
    )
    try:
        return check_against(directory, manifest, app.recorder, app.mapper)
    finally:
        app.close()


def check_log(env: Mapping[str, str]) -> None:
    """Refuse (`LogUnavailable`) the ledger's JetStream log when its server does not answer
    or holds no ledger stream (a wrong URL or prefix): opening the ledger would wait 30 s
    and fail with a traceback, or create an empty stream and read nothing from it."""
    from services.eventstore import stream_name
    from services.ledger.application import Ledger

    if env.get("PERSISTENCE_MODULE") != "services.eventstore":
        return
    stream = stream_name(env.get("NATS_STREAM_PREFIX", "LB"), Ledger.name)
    try:
        asyncio.run(_probe(env.get("NATS_URL", ""), stream))
    except LogUnavailable as exc:
        raise LogUnavailable(
            f"{exc}: the ledger's log is read there (check LIVEBRIDGE_NATS_URL and "
            "LIVEBRIDGE_STREAM_PREFIX)"
        ) from None


async def _probe(url: str, stream: str) -> None:
    """Fail fast and clearly when the server is not there or holds no such stream."""

    async def quiet(_error: Exception) -> None:
        pass  # the refusal below says it once

    try:
        client = await asyncio.wait_for(
            nats.connect(
                url.split(","),
                connect_timeout=3,
                max_reconnect_attempts=1,  # nats-py: 0 would mean "retry forever"
                reconnect_time_wait=0.1,
                allow_reconnect=False,
                error_cb=quiet,
            ),
            timeout=8,
        )
    except Exception as exc:
        reason = str(exc) or type(exc).__name__
        raise LogUnavailable(f"cannot reach {url} ({reason})") from None
    try:
        await client.jetstream().stream_info(stream)
    except NotFoundError:
        raise LogUnavailable(f"{url} holds no stream {stream}") from None
    finally:
        await client.close()


def run_new_key(args: argparse.Namespace) -> int:
    try:
        private, public, identity = generate(args.out)
    except (ExportKeyError, OSError) as exc:
        print(f"livebridge export-key new: {exc}", file=sys.stderr)
        return 2
    print(
        f"export key {identity}\n"
        f"  private: {private} (keep it out of the repository; in livebridge.toml:\n"
        f"           [export]\n"
        f'           signing_key_file = "{private.resolve()}")\n'
        f"  public:  {public} (for auditors: livebridge verify DIR --key {public})"
    )
    return 0
