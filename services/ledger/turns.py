"""One command at a time per wallet, in this process.

Commands on one wallet all write its head, so run together they fight: each loads the same
version, one save wins, the others conflict, back off and load again, and under a burst
(ten debits from one player at once) the losers run past a provider's answer deadline.
Queued instead, each command finds the wallet as the one before it saved it (in the
cache: no read) and its save does not conflict; a burst of ten costs ten writes in a row.

Other processes still write the same wallets: their writes are caught as conflicts by
the event store and retried, as before. The round book does not take turns (it writes
many wallets at once, and commands wait for it); its rare conflicts are retried too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Generic
from typing import TypeVar

K = TypeVar("K")
Acquire = Callable[[threading.Lock, bool], bool]
"""`acquire(lock, blocking)`: how a lock held across reads or writes is taken."""


def plain_acquire(lock: threading.Lock, blocking: bool = True) -> bool:
    return lock.acquire(blocking)


class Turns(Generic[K]):
    """A lock per key, made on first use and dropped when nobody holds or waits for it.

    `acquire(lock, blocking)` takes a key's lock (held across the command's reads and
    writes): the ledger's, which never blocks the event store's loop when a command runs
    there."""

    def __init__(self, acquire: Acquire | None = None) -> None:
        self._acquire = acquire or plain_acquire
        self._guard = threading.Lock()
        self._locks: dict[K, tuple[threading.Lock, int]] = {}

    @contextmanager
    def turn(self, key: K) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            self._acquire(lock, True)
            try:
                yield
            finally:
                lock.release()
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        """Keys held or waited for now."""
        with self._guard:
            return len(self._locks)
