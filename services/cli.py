"""`livebridge`: one command, a subcommand per job.

The composition root of every command but `run` (whose root is `services.bridge.main`):
it reads the process environment once, points the commands at a running bridge where
their settings are unset (`services.bridge.config.use_running_bridge`), and passes that
environment to the function of each area that adds a command's arguments (COMMANDS).
A setting a command cannot use is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from projections import commands as views_commands
from projections import pilot as pilot_commands
from projections.export import commands as export_commands
from projections.reconcile import commands as reconcile_commands
from services.bench import runner as bench_runner
from services.bridge import main as bridge_main
from services.bridge.config import Settings
from services.bridge.config import SettingsError
from services.bridge.config import command_env
from services.bridge.config import use_running_bridge
from services.bridge.configfile import check_document
from services.bridge.configfile import read_config
from services.chaos import run as chaos_run
from services.checker import commands as checker_commands
from services.platform import commands as platform_commands
from services.simulate import commands as simulate_commands

if TYPE_CHECKING:
    Handler = Callable[[argparse.Namespace], int]
    Arguments = Callable[[argparse.ArgumentParser, Mapping[str, str]], Handler | None]


def run_arguments(_parser: argparse.ArgumentParser, env: Mapping[str, str]) -> Handler:
    def run(_args: argparse.Namespace) -> int:
        """The settings and the configuration file are checked whole before anything starts
        (a `SettingsError`: see `main`)."""
        settings = Settings.from_env(env)
        return bridge_main.run(settings, read_config(settings))

    return run


def bench_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> Handler:
    parser.add_argument("--only", nargs="*", default=None, help="areas to measure")
    parser.add_argument("--out", default=".livebridge/bench.json")
    return partial(bench_runner.main, env=env)


@dataclass(frozen=True, slots=True)
class Command:
    """A subcommand: its name and help, and the area's function that adds its arguments.

    That function returns the handler, or None when it set one on each action of its own.
    `doc` is a module docstring, shown as written under `--help`.
    """

    name: str
    help: str
    arguments: Arguments
    doc: str | None = None
    reads_config: bool = False
    """It reads a part of `livebridge.toml`: the file is checked first, as `run` checks it."""


COMMANDS: tuple[Command, ...] = (
    Command("run", "serve the bridge (starts nats-server and PostgreSQL)", run_arguments),
    Command("bench", "measure throughput and latency; JSON to .livebridge", bench_arguments),
    Command(
        "replay",
        "print one round's timeline for a dispute, checked against the log",
        views_commands.replay_arguments,
    ),
    Command("projections", "maintain the read models (views)", views_commands.views_arguments),
    Command(
        "export",
        "export every event of a round, session or period, hash-chained, for auditors",
        export_commands.export_arguments,
    ),
    Command(
        "verify",
        "check an export and its signature (offline unless --against is given)",
        export_commands.verify_arguments,
    ),
    Command("export-key", "the key pair that signs exports", export_commands.key_arguments),
    Command(
        "reconcile", "match a provider's report against the ledger", reconcile_commands.arguments
    ),
    Command(
        "pilot",
        "a provider's pilot scorecard: its last rounds cross-verified, exit 1 above 0.5%%",
        pilot_commands.arguments,
        pilot_commands.__doc__,
    ),
    Command(
        "webhooks",
        "settlements parked for a webhook endpoint",
        platform_commands.arguments,
        reads_config=True,
    ),
    Command(
        "simulate",
        "play live tables (roulette, baccarat, blackjack) against a running bridge",
        simulate_commands.arguments,
        simulate_commands.__doc__,
    ),
    Command(
        "chaos",
        "simulated load under faults from a seed, judged by the history checker",
        chaos_run.arguments,
        chaos_run.__doc__,
    ),
    Command(
        "check",
        "judge a history of offered calls against the ledger's log (the chaos checker)",
        checker_commands.arguments,
        checker_commands.__doc__,
    ),
)

SERVES = frozenset({"run", "bench", "chaos"})
"""Commands that start servers of their own rather than use a running bridge's."""


def parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="livebridge", description="one command, a subcommand per job"
    )
    sub = top.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        formatter = argparse.RawDescriptionHelpFormatter if command.doc else argparse.HelpFormatter
        cmd = sub.add_parser(
            command.name, help=command.help, description=command.doc, formatter_class=formatter
        )
        handler = command.arguments(cmd, env)
        if handler is not None:
            cmd.set_defaults(handler=handler)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command `argv` gives; a setting it cannot use (`SettingsError`, naming the
    variable, or the file and key) is one line on stderr and exit status 2, and Ctrl-C one
    line and status 130 (as a shell reports it)."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    environ = dict(os.environ)  # the one read of the environment for every command
    if not SERVES.intersection(arguments[:1]):  # before parsing: defaults read the environment
        use_running_bridge(environ)
    given = arguments[0] if arguments else ""
    try:
        env = command_env(environ)
        args = parser(env).parse_args(arguments)
        if any(c.reads_config for c in COMMANDS if c.name == given):
            check_document(env)
        handler: Handler = args.handler
        return handler(args)
    except SettingsError as exc:
        print(f"livebridge {given}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: one line, not the traceback of wherever it fell
        print(f"livebridge {given}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
