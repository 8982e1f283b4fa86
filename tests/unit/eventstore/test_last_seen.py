"""A recorder remembers the heads of at most its bound of aggregates, each at its measured cost."""

from __future__ import annotations

import gc
import tracemalloc
import uuid

from services.eventstore.heads import HEAD_BYTES
from services.eventstore.heads import LastSeen
from services.eventstore.layout import aggregate_token


def test_the_last_seen_heads_keep_the_newest_within_the_bound_at_their_measured_size() -> None:
    tokens = [aggregate_token(uuid.uuid4()) for _ in range(20_000)]
    gc.collect()
    tracemalloc.start()
    try:
        heads = LastSeen(10_000)
        before = tracemalloc.get_traced_memory()[0]
        for seq, token in enumerate(tokens, start=1):
            heads.put(str(token.encode().decode()), 3, seq)  # a token of its own, as read
        gc.collect()
        per_head = (tracemalloc.get_traced_memory()[0] - before) / 10_000
    finally:
        tracemalloc.stop()
    assert heads.get(tokens[0]) is None  # the oldest were forgotten
    assert heads.get(tokens[-1]) == (3, 20_000)
    assert 100 < per_head <= HEAD_BYTES, per_head
