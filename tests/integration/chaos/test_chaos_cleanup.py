"""A chaos run that cannot start its bridge stops what it did start: no PostgreSQL or
nats-server is left behind, and its directory is removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.chaos import run
from services.chaos.processes import BridgeTarget
from services.chaos.processes import NatsTarget
from services.chaos.processes import PostgresTarget


def alive(pid: int | None) -> bool:
    """Running, not merely a zombie waiting to be reaped (pg_ctl's server may end as one)."""
    if pid is None:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


async def test_a_run_whose_bridge_fails_to_start_leaves_nothing_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, int | None] = {}
    workdirs: list[Path] = []

    async def fail(self: BridgeTarget, ready_within_s: float = 60.0) -> None:
        seen["postgres"] = started["postgres"].pid()
        seen["nats"] = started["nats"].pid()
        workdirs.append(self.log.parent)
        raise RuntimeError("bridge not ready (planted)")

    started: dict[str, PostgresTarget | NatsTarget] = {}
    real_pg_start, real_nats_start = PostgresTarget.start, NatsTarget.start

    async def pg_start(self: PostgresTarget) -> None:
        started["postgres"] = self
        await real_pg_start(self)

    async def nats_start(self: NatsTarget) -> None:
        started["nats"] = self
        await real_nats_start(self)

    monkeypatch.setattr(BridgeTarget, "start", fail)
    monkeypatch.setattr(PostgresTarget, "start", pg_start)
    monkeypatch.setattr(NatsTarget, "start", nats_start)
    with pytest.raises(RuntimeError, match="planted"):
        await run.chaos(seed=1, cycles=1, duration_s=1.0)
    assert alive(seen["postgres"]) is False and alive(seen["nats"]) is False
    assert seen["postgres"] and seen["nats"]
    assert not workdirs[0].exists()
