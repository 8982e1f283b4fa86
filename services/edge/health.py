"""What one provider's calls look like right now, and the switches the ops playbook sets.

The gateway records every wallet call (`wallet.<endpoint>`) and the pull feed every poll
(`feed.poll`): when it happened, how long it took, whether it failed (an answer the
provider cannot use: our retryable or internal error, a refusal of its signature or body;
a poll that did not bring a usable batch). Business refusals (insufficient funds...) are
answers, not failures.

Kept in process memory on purpose: it is the live signal the SLA watch reads every tick.
What the KPIs show comes from the samples the watch writes to the log (`drain`), never
from here.

The switches (`soft_decline`, `alternate_feed`) are set by the playbook and read by the
gateway and the pull feed on each call.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

KEEP_S = 600.0
"""Observations older than this are dropped, whatever the SLA window..."""
KEEP_CALLS = 20_000
"""...and beyond this many the oldest go (a busy provider is judged on its last calls)."""
CALL_BYTES = 160
"""Measured (tests/unit/edge/test_health_memory.py): one kept call, about 120 bytes, so
`KEEP_CALLS` cost some 2.4 MB per provider (part of the budget's base, not a cache)."""
FEED_POLL = "feed.poll"


@dataclass(frozen=True, slots=True)
class Call:
    at: float
    endpoint: str
    seconds: float
    failed: bool


@dataclass
class ProviderHealth:
    provider: str
    clock: Callable[[], float] = time.monotonic
    soft_decline: bool = False
    """While set, a wallet call not answered within `soft_decline_within_s` gets the
    dialect's soft decline (retryable) instead of its internal error."""
    soft_decline_within_s: float | None = None
    _alternate_feed: bool = False
    _calls: deque[Call] = field(default_factory=lambda: deque(maxlen=KEEP_CALLS))
    _unsampled: list[Call] = field(default_factory=list)
    _switch_watchers: set[asyncio.Event] = field(default_factory=set)

    @property
    def alternate_feed(self) -> bool:
        """While set, the pull or socket feed reads from its alternate endpoint."""
        return self._alternate_feed

    @alternate_feed.setter
    def alternate_feed(self, on: bool) -> None:
        if on != self._alternate_feed:
            self._alternate_feed = on
            for watcher in self._switch_watchers:
                watcher.set()

    def watch_switch(self) -> asyncio.Event:
        """An event set when `alternate_feed` next changes (`unwatch` it when done)."""
        watcher = asyncio.Event()
        self._switch_watchers.add(watcher)
        return watcher

    def unwatch(self, watcher: asyncio.Event) -> None:
        self._switch_watchers.discard(watcher)

    def record(self, endpoint: str, seconds: float, *, failed: bool) -> None:
        now = self.clock()
        call = Call(now, endpoint, seconds, failed)
        self._calls.append(call)
        self._unsampled.append(call)
        while self._calls and self._calls[0].at < now - KEEP_S:
            self._calls.popleft()

    def recent(self, window_s: float) -> list[Call]:
        """The calls of the last `window_s` seconds, oldest first."""
        since = self.clock() - window_s
        return [c for c in self._calls if c.at >= since]

    def drain(self) -> list[Call]:
        """The calls recorded since the last drain (for the log's samples)."""
        taken, self._unsampled = self._unsampled, []
        return taken


class Health:
    """Every provider's `ProviderHealth`, made on first use."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.providers: dict[str, ProviderHealth] = {}

    def __getitem__(self, provider: str) -> ProviderHealth:
        found = self.providers.get(provider)
        if found is None:
            found = self.providers[provider] = ProviderHealth(provider, clock=self.clock)
        return found


@dataclass(frozen=True, slots=True)
class FeedEndpoints:
    """A pull or socket feed's URL, and the alternate the playbook may switch it to."""

    primary: str
    alternate: str = ""
    health: ProviderHealth | None = None

    @property
    def current(self) -> str:
        switched = self.health is not None and self.health.alternate_feed
        return self.alternate if switched and self.alternate else self.primary
