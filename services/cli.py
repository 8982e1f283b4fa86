"""`livebridge`: one command, a subcommand per job.

The composition root of every command but `run` (whose root is `services.bridge.main`):
it reads the process environment once, points the commands at a running bridge where
their settings are unset (`services.bridge.config.use_running_bridge`), and passes that
environment to each area's `register(subparsers, env)`, listed in COMMANDS.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from projections import commands as views_commands
from projections import pilot as pilot_commands
from projections.export import commands as export_commands
from projections.reconcile import commands as reconcile_commands
from services.bench import runner as bench_runner
from services.bridge import main as bridge_main
from services.bridge.config import Settings, command_env, use_running_bridge
from services.bridge.memory import MemoryBudgetError
from services.chaos import run as chaos_run
from services.checker import commands as checker_commands
from services.platform import commands as platform_commands
from services.simulate import commands as simulate_commands

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
    Register = Callable[[Subparsers, Mapping[str, str]], None]
    Handler = Callable[[argparse.Namespace], int]


def register_serving(sub: Subparsers, env: Mapping[str, str]) -> None:
    """`run` and `bench`: commands that start servers of their own."""

    def run(_args: argparse.Namespace) -> int:
        try:
            settings = Settings.from_env(env)
        except MemoryBudgetError as exc:
            print(f"livebridge run: {exc}", file=sys.stderr)
            return 2
        bridge_main.run(settings)
        return 0

    serve = sub.add_parser("run", help="serve the bridge (starts nats-server and PostgreSQL)")
    serve.set_defaults(handler=run)
    bench = sub.add_parser("bench", help="measure throughput and latency; JSON to .livebridge")
    bench.add_argument("--only", nargs="*", default=None, help="areas to measure")
    bench.add_argument("--out", default=".livebridge/bench.json")
    bench.set_defaults(handler=lambda args: bench_runner.main(args, env))


COMMANDS: tuple[Register, ...] = (
    register_serving,  # run, bench
    views_commands.register,  # replay, projections rebuild
    export_commands.register,  # export, verify, export-key
    reconcile_commands.register,  # reconcile
    pilot_commands.register,  # pilot
    platform_commands.register,  # webhooks
    simulate_commands.register,  # simulate
    chaos_run.register,  # chaos
    checker_commands.register,  # check
)

SERVES = frozenset({"run", "bench", "chaos"})
"""Commands that start servers of their own rather than use a running bridge's."""


def parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="livebridge", description="one command, a subcommand per job"
    )
    sub = top.add_subparsers(dest="command", required=True)
    for register in COMMANDS:
        register(sub, env)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    environ = dict(os.environ)  # the one read of the environment for every command
    if not SERVES.intersection(arguments[:1]):  # before parsing: defaults read the environment
        use_running_bridge(environ)
    args = parser(command_env(environ)).parse_args(arguments)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
