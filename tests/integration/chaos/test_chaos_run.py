"""A short `livebridge chaos` run: load in the five dialects and the feeds, faults that kill
the bridge and nats-server, pause them, restart PostgreSQL and take the webhook receiver
down; the checker finds nothing lost, duplicated or violated. (`make chaos` runs longer.)"""

from __future__ import annotations

import json
import os
from pathlib import Path

from services.bridge.config import command_env
from services.chaos import run
from services.chaos.faults import KINDS
from tests.integration.chaos.support.verdict import assert_lost_nothing

SEED = 2048
"""A seed whose three faults hit three targets: a PostgreSQL restart, a pause of
nats-server and a kill of the bridge."""


async def test_a_short_chaos_run_loses_nothing_and_pays_nothing_twice(tmp_path: Path) -> None:
    result = await run.chaos(
        seed=SEED,
        cycles=3,
        duration_s=4.0,
        kinds=tuple(kind for kind in KINDS if kind != "clock"),
        env=command_env(os.environ),
    )
    assert [(f["kind"], f["target"]) for f in result["faults"]] == [
        ("postgres", "postgres"),
        ("pause", "nats"),
        ("kill", "bridge"),
    ]
    assert_lost_nothing(result, calls=51, events=11)
    (tmp_path / "chaos.json").write_text(json.dumps(result))
