"""`livebridge`: one command, a subcommand per job.

Each area of the code registers its own subcommands through a `register(subparsers)`
function in its `commands` module, listed in COMMAND_MODULES.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from services.bridge.config import use_running_bridge

COMMAND_MODULES: tuple[str, ...] = (
    "projections.commands",  # replay, projections rebuild
    "projections.export.commands",  # export, verify
    "projections.reconcile.commands",  # reconcile
    "services.platform.commands",  # webhooks
    "services.simulate.commands",  # simulate
)

Handler = Callable[[argparse.Namespace], int]


def _run(_args: argparse.Namespace) -> int:
    from services.bridge.main import run

    run()
    return 0


def _bench(args: argparse.Namespace) -> int:
    from services.bench.runner import main

    return main(args)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="livebridge", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="serve the bridge (starts nats-server and PostgreSQL)")
    run.set_defaults(handler=_run)
    bench = sub.add_parser("bench", help="measure throughput and latency; JSON to .livebridge")
    bench.add_argument("--only", nargs="*", default=None, help="areas to measure")
    bench.add_argument("--out", default=".livebridge/bench.json")
    bench.set_defaults(handler=_bench)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return top


SERVES = frozenset({"run", "bench"})
"""Commands that start servers of their own rather than use a running bridge's."""


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if not SERVES.intersection(arguments[:1]):  # before parsing: defaults read the environment
        use_running_bridge(os.environ)
    args = parser().parse_args(arguments)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
