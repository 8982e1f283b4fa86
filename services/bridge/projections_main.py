"""The composition root of a process that only keeps the views current.

`python -m services.bridge.projections_main [NAME...] [--no-catch-up] [--one-by-one]
[--page N]` runs the named views (default: all) until SIGTERM or SIGINT, configured like
the commands (`services.bridge.config.command_env`: `LIVEBRIDGE_NATS_URL`,
`LIVEBRIDGE_DATABASE_URL`..., else a running bridge's endpoints).

With `--for-bridge`, it is the views' process that `livebridge run` starts beside itself
(`serve_bridge`, `services.bridge.viewsproc`).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence

from projections.catalog import VIEWS
from projections.catalog import NotConfigured
from projections.catalog import settings
from projections.rebuild import PAGE
from projections.run import running_projections
from services.bridge import malloc
from services.bridge.config import command_env
from services.bridge.config import use_running_bridge
from services.bridge.telemetry import setup_telemetry
from services.infra.natsserver import die_with_parent

SIGNAL_LOOK_S = 0.2
"""How often the main thread looks for a signal while it waits to be stopped."""


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
    parser.add_argument("--for-bridge", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--nice", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.for_bridge:
        return serve_bridge(args.nice)
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
        until(stop)
    return 0


def serve_bridge(nice: int) -> int:
    """The runners of a bridge's views, in the process it started for them
    (`services.bridge.viewsproc`; `--for-bridge`).

    The first line on stdin is the projections' settings (JSON); each line after it names
    the views whose leases the bridge holds, and a view's runner runs only while it is
    named. "projections running" on stdout once every runner has started; the process
    ends on SIGTERM, or when stdin ends (the bridge is gone). `nice` is added to its
    niceness."""
    die_with_parent()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C stops the bridge, which stops this
    os.nice(nice)
    found = dict(os.environ)  # the root of this process: the one place it is read
    setup_telemetry(found)  # the bridge's own settings: logs, metrics, traces
    malloc.limit_arenas(found)  # the process's own, which glibc read as it started
    malloc.map_large_chunks(found)
    env = json.loads(sys.stdin.readline() or "null")
    if not isinstance(env, dict):
        return 2
    held: list[frozenset[str]] = [frozenset()]

    def listen() -> None:
        for line in sys.stdin:
            held[0] = frozenset(line.split())
        stop.set()

    threading.Thread(target=listen, name="views-leases", daemon=True).start()
    gates = {name: functools.partial(_named, held, name) for name in VIEWS}
    with running_projections(env, gates=gates):
        print("projections running", flush=True)
        until(stop)
    return 0


def until(stop: threading.Event) -> None:
    """Wait for `stop` in short waits: a signal sent to the process may be taken by any of
    its threads, and its Python handler runs only once the main thread runs again; one
    wait without a timeout would not (a SIGTERM went unanswered in the tests)."""
    while not stop.wait(SIGNAL_LOOK_S):
        pass


def _named(held: list[frozenset[str]], name: str) -> bool:
    return name in held[0]


if __name__ == "__main__":
    raise SystemExit(main())
