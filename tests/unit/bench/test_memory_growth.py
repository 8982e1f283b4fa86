"""The memory bench's growth is the slope of the RSS a bridge comes back to between its
bursts: a flat floor under a sawtooth reads as flat, a climbing floor as its climb."""

from __future__ import annotations

import pytest

from services.bench.memory import Growth

WARMUP = 30_000


def sawtooth(floor_kb_per_1k: float, calls: int = 50_000, burst_mb: float = 25.0) -> Growth:
    """Samples every 100 calls from warm-up on: a floor of 147 MB climbing at the rate given,
    a burst of `burst_mb` every 1,200 calls that lasts 500 (a heap trim gives it back)."""
    growth = Growth(warmup=WARMUP, seconds_after_warmup=calls / 25)
    for n in range(0, calls + 1, 100):
        floor = 147.0 + floor_kb_per_1k * n / 1000 / 1024
        growth.samples.append((WARMUP + n, floor + (burst_mb if (n + 700) % 1200 < 500 else 0)))
    return growth


def test_bursts_over_a_flat_floor_are_no_growth_though_a_slope_through_them_is() -> None:
    growth = sawtooth(0.0)
    assert growth.kb_per_1k_calls() == pytest.approx(0.0, abs=0.5)
    assert growth.trend_kb_per_1k_calls() > 5  # the run ends in a burst: the slope tips up
    assert growth.figures()["bridge_rss_mb_peak"] == pytest.approx(172.0)


def test_a_floor_that_climbs_is_measured_at_its_climb_under_the_bursts() -> None:
    assert sawtooth(40.0).kb_per_1k_calls() == pytest.approx(40.0, rel=0.1)


def test_a_short_run_takes_fewer_spans_each_at_least_two_trims_long() -> None:
    growth = sawtooth(0.0, calls=6_000)
    growth.seconds_after_warmup = 300.0  # two spans of 150 s
    assert len(growth.floors()) == 2
    assert growth.figures()["bridge_rss_calls_measured"] == 6_000


def test_the_window_is_counted_from_the_first_sample_after_warm_up_not_from_the_warm_up() -> None:
    """A run stopped at warm-up + 50,000 calls measured 49,910 (its first sample after
    warm-up at 30,090): it runs until the samples span the calls asked for."""
    growth = Growth(warmup=WARMUP, samples=[(29_500, 150.0), (30_090, 150.0), (80_000, 151.0)])
    assert growth.calls_measured() == 49_910
    growth.samples.append((80_090, 151.0))
    assert growth.calls_measured() == 50_000
