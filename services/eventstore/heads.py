"""What a recorder remembers of the aggregates it wrote or read: each one's head.

The writer expects each aggregate's subject to end at its head (`Nats-Expected-Last-Subject-
Sequence`) without asking the server, and the reader catches a cached aggregate up from its
head and re-reads a lagging replica until it has caught up to it (read-your-writes).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

LAST_SEEN_HEADS = 100_000
"""Aggregates whose head (last version and sequence) a recorder remembers by default
(`NATS_LAST_SEEN_HEADS`): a write to one it forgot first asks the server for it."""
HEAD_BYTES = 300
"""Measured (tests/unit/eventstore/test_last_seen.py): one remembered head, its token and
its entry, about 240 bytes."""


class LastSeen:
    """A bounded map of aggregate token -> (last version, last stream sequence)."""

    def __init__(self, size: int = LAST_SEEN_HEADS) -> None:
        self._items: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, token: str) -> tuple[int, int] | None:
        with self._lock:
            return self._items.get(token)

    def put(self, token: str, version: int, seq: int) -> None:
        with self._lock:
            current = self._items.get(token)
            if current is not None and current[1] >= seq:
                return
            self._items[token] = (version, seq)
            self._items.move_to_end(token)
            if len(self._items) > self._size:
                self._items.popitem(last=False)

    def forget(self, token: str) -> None:
        with self._lock:
            self._items.pop(token, None)
