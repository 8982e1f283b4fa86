"""The composition root of a process that only keeps the views current.

`python -m services.bridge.projections_main [NAME...] [--no-catch-up] [--one-by-one]
[--page N]` runs the named views (default: all) until SIGTERM or SIGINT, configured like
the commands (`services.bridge.config.command_env`: `LIVEBRIDGE_NATS_URL`,
`LIVEBRIDGE_DATABASE_URL`..., else a running bridge's endpoints).
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Sequence

from projections.catalog import VIEWS, NotConfigured, settings
from projections.rebuild import PAGE
from projections.run import running_projections
from services.bridge.config import command_env, use_running_bridge


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


if __name__ == "__main__":
    raise SystemExit(main())
