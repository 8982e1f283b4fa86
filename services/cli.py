"""`livebridge`: one command, a subcommand per job.

The composition root of every command but `run` (whose root is `services.bridge.main`):
it reads the process environment once, points the commands at a running bridge where
their settings are unset (`services.bridge.config.use_running_bridge`), and passes that
environment to the function of each area that adds a command's arguments (COMMANDS).
Only the area of the command given is imported, so a command that is refused (`run` with a
configuration it cannot use: one line, exit 2) is refused at once.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, cast

from services.bridge.config import Settings, SettingsError, command_env, use_running_bridge

if TYPE_CHECKING:
    Handler = Callable[[argparse.Namespace], int]
    Arguments = Callable[[argparse.ArgumentParser, Mapping[str, str]], Handler | None]


def run_arguments(_parser: argparse.ArgumentParser, env: Mapping[str, str]) -> Handler:
    def run(_args: argparse.Namespace) -> int:
        """The settings and the configuration file are checked whole before the bridge is
        imported or anything starts (a `SettingsError`: see `main`)."""
        settings = Settings.from_env(env)
        from services.bridge.configfile import read_config

        config = read_config(settings)
        from services.bridge import main as bridge_main

        return bridge_main.run(settings, config)

    return run


def bench_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> Handler:
    from services.bench import runner as bench_runner

    parser.add_argument("--only", nargs="*", default=None, help="areas to measure")
    parser.add_argument("--out", default=".livebridge/bench.json")
    return partial(bench_runner.main, env=env)


@dataclass(frozen=True, slots=True)
class Command:
    """A subcommand: its name and help, and the area's function that adds its arguments.

    `arguments` names that function, `module:function`, imported only when the command is
    the one given (`load`); it returns the handler, or None when it set one on each action
    of its own. `documented`: the module's docstring is shown as written under `--help`.
    """

    name: str
    help: str
    arguments: str
    documented: bool = False
    reads_config: bool = False
    """It reads a part of `livebridge.toml`: the file is checked first, as `run` checks it."""

    def load(self) -> tuple[Arguments, str | None]:
        """The function that adds the command's arguments, and its module's docstring."""
        module_name, _, function = self.arguments.partition(":")
        module = importlib.import_module(module_name)
        return cast("Arguments", getattr(module, function)), (
            module.__doc__ if self.documented else None
        )


COMMANDS: tuple[Command, ...] = (
    Command(
        "run", "serve the bridge (starts nats-server and PostgreSQL)", f"{__name__}:run_arguments"
    ),
    Command(
        "bench",
        "measure throughput and latency; JSON to .livebridge",
        f"{__name__}:bench_arguments",
    ),
    Command(
        "replay",
        "print one round's timeline for a dispute, checked against the log",
        "projections.commands:replay_arguments",
    ),
    Command(
        "projections", "maintain the read models (views)", "projections.commands:views_arguments"
    ),
    Command(
        "export",
        "export every event of a round, session or period, hash-chained, for auditors",
        "projections.export.commands:export_arguments",
    ),
    Command(
        "verify",
        "check an export and its signature (offline unless --against is given)",
        "projections.export.commands:verify_arguments",
    ),
    Command(
        "export-key", "the key pair that signs exports", "projections.export.commands:key_arguments"
    ),
    Command(
        "reconcile",
        "match a provider's report against the ledger",
        "projections.reconcile.commands:arguments",
    ),
    Command(
        "pilot",
        "a provider's pilot scorecard: its last rounds cross-verified, exit 1 above 0.5%%",
        "projections.pilot:arguments",
        documented=True,
    ),
    Command(
        "webhooks",
        "settlements parked for a webhook endpoint",
        "services.platform.commands:arguments",
        reads_config=True,
    ),
    Command(
        "simulate",
        "play live tables (roulette, baccarat, blackjack) against a running bridge",
        "services.simulate.commands:arguments",
        documented=True,
    ),
    Command(
        "chaos",
        "simulated load under faults from a seed, judged by the history checker",
        "services.chaos.run:arguments",
        documented=True,
    ),
    Command(
        "check",
        "judge a history of offered calls against the ledger's log (the chaos checker)",
        "services.checker.commands:arguments",
        documented=True,
    ),
)

SERVES = frozenset({"run", "bench", "chaos"})
"""Commands that start servers of their own rather than use a running bridge's."""


def parser(env: Mapping[str, str], only: str | None = None) -> argparse.ArgumentParser:
    """Every command with its arguments; with `only`, that command's alone (the others are
    listed, with their help, and their areas are not imported)."""
    top = argparse.ArgumentParser(
        prog="livebridge", description="one command, a subcommand per job"
    )
    sub = top.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        if only is not None and command.name != only:
            sub.add_parser(command.name, help=command.help)
            continue
        arguments, doc = command.load()
        formatter = argparse.RawDescriptionHelpFormatter if doc else argparse.HelpFormatter
        cmd = sub.add_parser(
            command.name, help=command.help, description=doc, formatter_class=formatter
        )
        handler = arguments(cmd, env)
        if handler is not None:
            cmd.set_defaults(handler=handler)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command `argv` gives; a setting it cannot use (`SettingsError`, naming the
    variable, or the file and key) is one line on stderr and exit status 2."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    environ = dict(os.environ)  # the one read of the environment for every command
    if not SERVES.intersection(arguments[:1]):  # before parsing: defaults read the environment
        use_running_bridge(environ)
    given = arguments[0] if arguments else ""
    try:
        env = command_env(environ)
        args = parser(env, only=given).parse_args(arguments)
        if any(c.reads_config for c in COMMANDS if c.name == given):
            from services.bridge.configfile import check_document

            check_document(env)
        handler: Handler = args.handler
        return handler(args)
    except SettingsError as exc:
        print(f"livebridge {given}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
