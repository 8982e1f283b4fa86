"""One setting, `LIVEBRIDGE_MEMORY_BUDGET_MB`, bounds every cache of the bridge."""

from __future__ import annotations

import pytest

from services import cli
from services.bridge.memory import BASE_MB
from services.bridge.memory import MB
from services.bridge.memory import RECORDERS
from services.bridge.memory import MemoryBudgetError
from services.bridge.memory import bounds
from services.bridge.memory import default_bounds
from services.bridge.memory import from_env
from services.eventstore.heads import HEAD_BYTES
from services.ledger.book import PLACED_BET_BYTES
from services.platform.settle import REPORTED_BET_BYTES


def cost_at_the_limit_mb(budget_mb: int) -> float:
    b = bounds(budget_mb)
    return (
        b.aggregate_cache_bytes
        + b.remembered_bets * PLACED_BET_BYTES
        + b.heads * HEAD_BYTES * RECORDERS
        + b.reported_bets * REPORTED_BET_BYTES
    ) / MB


@pytest.mark.parametrize("budget_mb", [160, 256, 512, 4096])
def test_the_caches_at_their_limits_fit_in_the_budget_beside_the_process(budget_mb: int) -> None:
    assert budget_mb - BASE_MB - 1 <= cost_at_the_limit_mb(budget_mb) <= budget_mb - BASE_MB


def test_the_default_is_256_mb_and_a_larger_budget_raises_every_bound() -> None:
    assert from_env({}) == default_bounds() == bounds(256)
    small, large = bounds(256), from_env({"LIVEBRIDGE_MEMORY_BUDGET_MB": "512"})
    assert large.aggregate_cache_bytes > small.aggregate_cache_bytes
    assert large.remembered_bets > small.remembered_bets
    assert large.heads > small.heads and large.reported_bets > small.reported_bets
    env = small.ledger_env()
    assert env["AGGREGATE_CACHE_BYTES"] == str(small.aggregate_cache_bytes)
    assert env["REMEMBERED_BETS"] == str(small.remembered_bets)
    assert env["NATS_LAST_SEEN_HEADS"] == str(small.heads)


@pytest.mark.parametrize("value", ["100", "lots", "1.5"])
def test_a_budget_too_small_or_not_a_number_is_refused_with_what_to_do(value: str) -> None:
    with pytest.raises(MemoryBudgetError, match="LIVEBRIDGE_MEMORY_BUDGET_MB"):
        from_env({"LIVEBRIDGE_MEMORY_BUDGET_MB": value})


def test_livebridge_run_with_a_bad_budget_says_so_and_starts_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIVEBRIDGE_MEMORY_BUDGET_MB", "64")
    assert cli.main(["run"]) == 2
    assert "below the 160 MB" in capsys.readouterr().err
