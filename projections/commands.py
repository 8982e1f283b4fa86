"""`livebridge replay <roundId>`, `livebridge projections rebuild [NAME]` and `... parked`.

Both read the ledger's log and the views in PostgreSQL, configured by the `env` the CLI
passes in (`projections.catalog.settings`: `PERSISTENCE_MODULE=services.eventstore` with
`NATS_URL`, `NATS_STREAM_PREFIX`; `LIVEBRIDGE_DATABASE_URL`, schema
`LIVEBRIDGE_VIEWS_SCHEMA`, default `public`).

Exit codes: 0 all good; 1 the view and the log differ (replay; a round only the log has
is shown from the log) or a rebuild found differences (nothing swapped); 2 the round is
neither in the view nor in the log; 3 not configured, or the views' database or the
ledger's log does not answer (said within seconds). `projections parked` lists the
events each view parked (could not store; see `projections.pgview`) and exits 1 when
there are any.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from collections.abc import Mapping
from functools import partial
from typing import TextIO

import msgspec
import psycopg

from projections.catalog import VIEWS
from projections.catalog import NotConfigured
from projections.catalog import ViewSpec
from projections.catalog import settings
from projections.export.commands import LogUnavailable
from projections.export.commands import check_log

EXIT_DIFFERENT = 1
EXIT_NOT_FOUND = 2
EXIT_CONFIG = 3


def _settings(env: Mapping[str, str], command: str, *, log: bool = True) -> dict[str, str] | None:
    """The settings `command` runs with, or None once stderr says what is missing or does not
    answer: the views' database (the library would wait 30 s for it ten times over, then
    fail with a traceback) and, when `log`, the ledger's log (`check_log`)."""
    try:
        configured = settings(env)
        with psycopg.connect(configured["LIVEBRIDGE_DATABASE_URL"], connect_timeout=3):
            pass
        if log:
            check_log(configured)
    except psycopg.Error as error:
        reason = " ".join(str(error).split())
        print(
            f"livebridge {command}: cannot connect to the views' database ({reason}); check "
            "LIVEBRIDGE_DATABASE_URL",
            file=sys.stderr,
        )
        return None
    except (NotConfigured, LogUnavailable) as error:
        print(f"livebridge {command}: {error}", file=sys.stderr)
        return None
    return configured


def _chosen_views(args: argparse.Namespace) -> list[tuple[str, ViewSpec]]:
    """The view `args.name` names, or every view."""
    names = [args.name] if args.name else list(VIEWS)
    return [(name, VIEWS[name]) for name in names]


def replay(args: argparse.Namespace, env: Mapping[str, str], out: TextIO = sys.stdout) -> int:
    from projections.rebuild import open_view
    from projections.rounds.postgres import PostgresRoundsView
    from projections.rounds.projection import RoundsProjection
    from projections.rounds.replay import render
    from projections.rounds.replay import replay_from_log
    from projections.rounds.replay import replay_round
    from services.ledger.application import Ledger

    configured = _settings(env, "replay")
    if configured is None:
        return EXIT_CONFIG
    ledger = Ledger(configured)
    view = open_view(RoundsProjection, PostgresRoundsView, configured)
    try:
        assert isinstance(view, PostgresRoundsView)
        replays = replay_round(ledger, view, args.round_id, args.provider)
        providers = [args.provider] if args.provider else view.providers()
        if not replays:
            # Not in the view: the ledger names the round by provider and id; look there.
            position = view.max_tracking_id(ledger.name) or 0
            replays = replay_from_log(ledger, args.round_id, providers, position)
    finally:
        view.close()
        ledger.close()
    if not replays:
        who = f" of provider {args.provider}" if args.provider else ""
        searched = ", ".join(providers) or "none known to the view: pass --provider"
        print(
            f"livebridge replay: LBRG-404 ROUND_NOT_FOUND: no round {args.round_id!r}{who} in the "
            f"dispute view nor in the log (providers searched: {searched}); check the id "
            "(and --provider)",
            file=sys.stderr,
        )
        return EXIT_NOT_FOUND
    if args.json:
        body = [
            {"round": r.record, "agrees": r.agrees, "differences": r.differences} for r in replays
        ]
        out.write(msgspec.json.encode(body).decode() + "\n")
    else:
        for r in replays:
            out.write("\n".join(render(r)) + "\n")
    return 0 if all(r.agrees for r in replays) else EXIT_DIFFERENT


def rebuild_views(
    args: argparse.Namespace, env: Mapping[str, str], out: TextIO = sys.stdout
) -> int:
    from projections.rebuild import rebuild
    from services.ledger.application import Ledger

    configured = _settings(env, "projections rebuild")
    if configured is None:
        return EXIT_CONFIG
    ledger = Ledger(configured)
    status = 0
    try:
        for _, spec in _chosen_views(args):
            report = rebuild(
                ledger, spec.projection_class, spec.view_class, configured, swap=args.swap
            )
            out.write("\n".join(report.lines()) + "\n")
            if not report.ok:
                status = EXIT_DIFFERENT
    finally:
        ledger.close()
    return status


def parked_events(
    args: argparse.Namespace, env: Mapping[str, str], out: TextIO = sys.stdout
) -> int:
    from projections.rebuild import open_view
    from services.ledger.application import Ledger

    configured = _settings(env, "projections parked", log=False)
    if configured is None:
        return EXIT_CONFIG
    total = 0
    for name, spec in _chosen_views(args):
        view = open_view(spec.projection_class, spec.view_class, configured)
        try:
            count = view.parked_count(Ledger.name)
            shown = view.parked(Ledger.name, limit=args.limit)
        finally:
            view.close()
        total += count
        out.write(f"{name}: {count} parked\n")
        for event in shown:
            out.write(f"    position {event.position}: {event.what}: {event.reason}\n")
    return EXIT_DIFFERENT if total else 0


def replay_arguments(
    replay_cmd: argparse.ArgumentParser, env: Mapping[str, str]
) -> Callable[[argparse.Namespace], int]:
    """`livebridge replay`'s arguments; it reads `env`."""
    replay_cmd.description = (
        "Print the round as the dispute view has it (timeline with log positions, provider "
        "seq and video timecodes; bets; hash check), rebuild it from the log by id, and "
        "exit 1 if the two differ. A round the view lacks is read from the log alone "
        "(give --provider when the view knows no provider)."
    )
    replay_cmd.add_argument("round_id", help="the provider's round id")
    replay_cmd.add_argument("--provider", default=None, help="when providers share round ids")
    replay_cmd.add_argument("--json", action="store_true", help="JSON instead of text")
    return partial(replay, env=env)


def views_arguments(views: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """`livebridge projections rebuild|parked`'s actions and arguments; they read `env`."""
    views_sub = views.add_subparsers(dest="projections_command", required=True)
    rebuild_cmd = views_sub.add_parser(
        "rebuild",
        help="rebuild views from the log into a scratch schema, diff, then swap",
    )
    rebuild_cmd.add_argument("name", nargs="?", choices=sorted(VIEWS), help="default: all")
    rebuild_cmd.add_argument(
        "--no-swap", dest="swap", action="store_false", help="diff only; keep the live tables"
    )
    rebuild_cmd.set_defaults(handler=partial(rebuild_views, env=env))
    parked_cmd = views_sub.add_parser(
        "parked",
        help="list the events each view could not store (parked, with position and reason)",
    )
    parked_cmd.add_argument("name", nargs="?", choices=sorted(VIEWS), help="default: all")
    parked_cmd.add_argument("--limit", type=int, default=20, help="events shown per view")
    parked_cmd.set_defaults(handler=partial(parked_events, env=env))
