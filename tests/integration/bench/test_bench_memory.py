"""The memory area: `livebridge run` on its defaults under simulated tables, its RSS against
the wallet calls it answered, and nats-server's collector budgets against replay latency.

At `make test` size the bridge answers a few hundred calls and must stay under its budget;
`make soak` (`LIVEBRIDGE_SOAK=1`) runs it for 35 minutes and fails if its memory keeps
climbing after warm-up (issue 17)."""

from __future__ import annotations

import os

import pytest

from services.bench import memory
from services.bridge.memory import DEFAULT_BUDGET_MB


def soak_minutes() -> float:
    return 35.0 if os.environ.get("LIVEBRIDGE_SOAK") == "1" else 0.0


MINUTES = soak_minutes()
START_S = 300
"""What the bridge, its views' process and the simulator take to start and stop, beyond
the soak's own `MINUTES`: pytest's default timeout (300 s) would stop the soak at its fifth
minute."""


@pytest.mark.soak
@pytest.mark.timeout(int(MINUTES * 60) + START_S if MINUTES else 300)
def test_a_bridge_on_its_defaults_stays_under_its_budget_and_levels_off(
    database_url: str,
) -> None:
    if MINUTES:
        # Warm-up: the calls it takes the default budget's caches to fill and the minutes
        # the allocators take to settle; then 20 minutes of calls, sampled every 10 s.
        growth = memory.bridge_growth(
            database_url,
            calls=400_000,
            warmup=30_000,
            warmup_s=memory.WARMUP_SECONDS,
            sample_every_s=10.0,
            max_seconds=MINUTES * 60,
        )
        figures = growth.figures()
        assert figures["bridge_rss_calls_measured"] >= 20_000, figures
        assert figures["bridge_rss_growth_kb_per_1k_calls"] < 10, figures
    else:
        growth = memory.bridge_growth(
            database_url, calls=150, warmup=50, tables=1, players=3, sample_every_s=1.0
        )
        figures = growth.figures()
        assert figures["bridge_rss_calls_measured"] >= 100, figures
    assert 0 < figures["bridge_rss_mb_peak"] < DEFAULT_BUDGET_MB, figures
    assert figures["nats_rss_mb"] > 0, figures


def test_the_collector_budgets_are_measured_on_one_log(database_url: str) -> None:
    figures = memory.collector_tradeoff(
        database_url, events=3_000, limits=("256MiB", "1GiB"), replays=40
    )
    for limit in ("256mib", "1gib"):
        assert figures[f"replay_round_p99_ms_gomemlimit_{limit}"] > 0
        assert figures[f"nats_rss_mb_gomemlimit_{limit}"] > 0
