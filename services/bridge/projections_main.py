"""The composition root of a process that only keeps the views current.

`python -m services.bridge.projections_main [NAME...] [--no-catch-up] [--one-by-one]
[--page N]` runs the named views (default: all) until SIGTERM or SIGINT, configured like
the commands (`services.bridge.config.command_env`: `LIVEBRIDGE_NATS_URL`,
`LIVEBRIDGE_DATABASE_URL`..., else a running bridge's endpoints).

`serve` is the root of the views' process that `livebridge run` starts beside itself
(`services.bridge.viewsproc`).
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from projections.catalog import VIEWS, NotConfigured, settings
from projections.rebuild import PAGE
from projections.run import running_projections
from services.bridge import malloc
from services.bridge.config import command_env, use_running_bridge
from services.bridge.telemetry import setup_telemetry
from services.infra.natsserver import die_with_parent


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.bridge.projections_main")
    parser.add_argument("names", nargs="*", default=[], help=f"of {', '.join(VIEWS)}")
    parser.add_argument("--no-catch-up", dest="catch_up", action="store_false")
    parser.add_argument(
        "--one-by-one",
        dest="batched",
        action="store_false",
        help="the library's ProjectionRunner (one event per transaction) per view",
    )
    parser.add_argument(
        "--page", type=int, default=PAGE, help=f"most events per transaction (default {PAGE})"
    )
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(VIEWS)
    if unknown:
        parser.error(f"no view named {', '.join(sorted(unknown))}; views: {', '.join(VIEWS)}")
    found = dict(os.environ)  # the root of this process: the one place it is read
    use_running_bridge(found)
    try:
        env = settings(command_env(found))
    except NotConfigured as error:
        print(f"projections: {error}")
        return 3
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    names = tuple(args.names) or tuple(VIEWS)
    with running_projections(
        env, names=names, catch_up_first=args.catch_up, batched=args.batched, page=args.page
    ):
        print("projections running", flush=True)
        stop.wait()
    return 0


def serve(
    env: Mapping[str, str],
    names: Sequence[str],
    held: Sequence[int],
    ready: Any,
    nice: int = 0,
) -> None:
    """The runners of a bridge's views, in the process it started for them: view
    `names[n]`'s runner runs while `held[n]` is set (the bridge holds the view's lease),
    until SIGTERM or the bridge is gone. `ready.value` is set once every runner has
    started; `nice` is added to the process's niceness."""
    die_with_parent()
    if os.getppid() == 1:  # the bridge died before this process asked to die with it
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C stops the bridge, which stops this
    os.nice(nice)
    setup_telemetry(os.environ)  # the bridge's own settings: logs, metrics, traces
    malloc.limit_arenas(os.environ)  # the process's own, which glibc read as it started
    malloc.map_large_chunks(os.environ)
    gates = {name: functools.partial(_held, held, n) for n, name in enumerate(names)}
    with running_projections(env, names=tuple(names), gates=gates):
        ready.value = 1
        stop.wait()


def _held(held: Sequence[int], n: int) -> bool:
    return bool(held[n])


if __name__ == "__main__":
    raise SystemExit(main())
