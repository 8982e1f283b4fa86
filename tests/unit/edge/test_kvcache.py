"""The session cache keeps what it read while its watch runs, drops what changed, keeps no
read that raced a change, and stays within its bound at its measured cost."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc

import msgspec

from services.edge.kvcache import ENTRY_BYTES
from services.edge.kvcache import WatchedEntries
from services.edge.sessions import Session
from services.edge.sessions import new_session
from services.edge.sessions import session_ref


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


class Watched(WatchedEntries[Session]):
    """As if the bucket's watch ran: what a test feeds `changed` is what it delivered."""

    @property
    def watching(self) -> bool:
        return True


async def test_a_read_is_kept_until_its_key_changes_or_ages() -> None:
    clock = Clock()
    cache = Watched(max_age_s=5.0, clock=clock)
    session = new_session("hub88", "p-1", "EUR", 0.0, 600, "roulette")
    loads: list[str] = []

    async def load() -> Session:
        loads.append("read")
        return session

    for _ in range(3):
        assert await cache.read("s.hub88.k", load) == session
    assert loads == ["read"] and cache.hits == 2
    cache.changed("s.hub88.k")  # the watch: written or deleted anywhere
    await cache.read("s.hub88.k", load)
    clock.now = 5.0  # trusted no longer than max_age_s, watch or not
    await cache.read("s.hub88.k", load)
    assert loads == ["read"] * 3


async def test_a_key_read_late_in_its_age_is_read_again_in_the_background() -> None:
    """A key in use is answered from memory and renewed ahead of its age, never past it."""
    clock = Clock()
    cache = Watched(max_age_s=5.0, clock=clock)
    first = new_session("hub88", "p-1", "EUR", 0.0, 600, "roulette")
    renewed = new_session("hub88", "p-1", "EUR", 0.0, 900, "roulette")
    stored = [first]
    loads: list[float] = []

    async def load() -> Session:
        loads.append(clock.now)
        return stored[-1]

    assert await cache.read("s.hub88.k", load) == first
    clock.now = 3.9
    assert await cache.read("s.hub88.k", load) == first
    await asyncio.sleep(0)
    assert loads == [0.0], "early in its age: from memory alone"
    stored.append(renewed)
    clock.now = 4.5
    assert await cache.read("s.hub88.k", load) == first, "late in its age: not waited for"
    assert await cache.read("s.hub88.k", load) == first
    for _ in range(3):
        await asyncio.sleep(0)
    assert loads == [0.0, 4.5], "read again once, in the background"
    clock.now = 9.4  # past the first read's age, within the renewed one's
    assert await cache.read("s.hub88.k", load) == renewed
    assert loads == [0.0, 4.5], "from memory: renewed from when its read started"
    await asyncio.sleep(0)
    assert loads == [0.0, 4.5, 9.4], "and late in that age again: read again"
    clock.now = 20.0  # nothing read it since: the read waits, as before
    assert await cache.read("s.hub88.k", load) == renewed
    assert loads[-1] == 20.0


async def test_a_background_read_that_raced_a_change_is_not_kept() -> None:
    clock = Clock()
    cache = Watched(max_age_s=5.0, clock=clock)
    session = new_session("hub88", "p-1", "EUR", 0.0, 600, "roulette")
    loads = 0

    async def load() -> Session:
        nonlocal loads
        loads += 1
        if loads == 2:
            cache.changed("s.hub88.k")  # revoked while the background read was out
        return session

    await cache.read("s.hub88.k", load)
    clock.now = 4.5
    await cache.read("s.hub88.k", load)
    for _ in range(3):
        await asyncio.sleep(0)
    assert loads == 2
    await cache.read("s.hub88.k", load)
    assert loads == 3, "the change dropped the entry: the next read waits for the bucket"


async def test_a_read_that_raced_a_change_is_not_kept() -> None:
    cache = Watched()
    session = new_session("hub88", "p-1", "EUR", 0.0, 600, "roulette")

    async def revoked_while_reading() -> Session:
        cache.changed("s.hub88.k")  # the revoke's watch message lands during the read
        return session

    assert await cache.read("s.hub88.k", revoked_while_reading) == session
    reads = 0

    async def load() -> None:
        nonlocal reads
        reads += 1

    assert await cache.read("s.hub88.k", load) is None and reads == 1


async def test_a_key_not_found_is_not_kept() -> None:
    cache = Watched()
    reads = 0

    async def missing() -> None:
        nonlocal reads
        reads += 1

    for _ in range(3):
        assert await cache.read("s.hub88.unknown", missing) is None
    assert reads == 3


async def test_entries_are_bounded_at_their_measured_cost() -> None:
    cache = Watched(max_entries=2_000)
    encoded = [
        msgspec.json.encode(
            new_session("hub88", f"player-{n:06d}", "EUR", 0.0, 1800, "roulette", idle_s=1800)
        )
        for n in range(2_500)
    ]
    decoder = msgspec.json.Decoder(Session)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for raw in encoded:
            session = decoder.decode(raw)

            async def load(found: Session = session) -> Session:
                return found

            await cache.read(f"s.hub88.{session_ref(session.token)}", load)
        per_entry = (tracemalloc.get_traced_memory()[0] - before) / 2_000
    finally:
        tracemalloc.stop()
    assert len(cache) == 2_000
    assert 300 < per_entry <= ENTRY_BYTES, per_entry
