"""What a value costs in memory, measured as the budgets of `livebridge run` are derived."""

from __future__ import annotations

import gc
import pickle
import tracemalloc


def measured_bytes(value: object) -> int:
    """What a fresh copy of `value` keeps allocated (every string and number new)."""
    data = pickle.dumps(value)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        copy = pickle.loads(data)
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    del copy
    return kept
