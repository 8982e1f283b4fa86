"""A provider's live calls are bounded by count and age, each at its measured cost: the
deque the SLA watch reads is full after warm-up, not growing."""

from __future__ import annotations

import gc
import tracemalloc

from services.edge.health import CALL_BYTES
from services.edge.health import KEEP_CALLS
from services.edge.health import KEEP_S
from services.edge.health import ProviderHealth


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_kept_calls_are_bounded_by_count_and_age_at_their_measured_cost() -> None:
    clock = Clock()
    health = ProviderHealth("evo", clock=clock)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(KEEP_CALLS + 500):
            clock.now = n * 0.001
            health.record("wallet.play", 0.01 + n * 1e-9, failed=False)
        health.drain()  # the watch's samples taken: only the live window stays
        per_call = (tracemalloc.get_traced_memory()[0] - before) / KEEP_CALLS
    finally:
        tracemalloc.stop()
    assert len(health.recent(KEEP_S)) == KEEP_CALLS
    assert 60 < per_call <= CALL_BYTES, per_call

    clock.now += KEEP_S + 1
    health.record("wallet.play", 0.01, failed=False)
    assert len(health.recent(KEEP_S)) == 1  # the old ones aged out
