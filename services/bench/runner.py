"""`make bench`: every area's figures in one run, printed as a table and written as JSON.

Each area exposes `measure(...) -> dict[str, float]`; ratios are taken against the raw
JetStream figures measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from services.bench import eventstore

Area = Callable[[dict[str, float]], dict[str, float]]

AREAS: dict[str, Area] = {
    "eventstore": lambda _so_far: eventstore.measure(),
}


def main(args: argparse.Namespace) -> int:
    wanted = args.only or list(AREAS)
    results: dict[str, float] = {}
    out = Path(args.out)
    for name in wanted:
        started = time.perf_counter()
        figures = AREAS[name](results)
        results.update(figures)
        print(f"== {name} ({time.perf_counter() - started:.0f} s)")
        for key, value in figures.items():
            print(f"  {key:<28} {value:>12}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out}")
    return 0
