"""A provider token's idle slide is written only over the entry it was read from: a revoke
(the platform session's end) landing between the read and the write is never undone."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from nats.js.errors import KeyNotFoundError
from nats.js.errors import KeyWrongLastSequenceError

from services.edge.sessions import KvSessionStore


class GatedKv:
    """A KV bucket in memory whose next session read is held until `hold` is set: the
    reply is in flight while something else changes the bucket."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[int, bytes]] = {}
        self.revision = 0
        self.hold: asyncio.Event | None = None

    async def get(self, key: str) -> SimpleNamespace:
        if key not in self.data:
            raise KeyNotFoundError
        revision, value = self.data[key]
        if self.hold is not None and key.startswith("s."):
            hold, self.hold = self.hold, None
            await hold.wait()
        return SimpleNamespace(value=value, revision=revision)

    async def put(self, key: str, value: bytes) -> int:
        self.revision += 1
        self.data[key] = (self.revision, value)
        return self.revision

    async def create(self, key: str, value: bytes) -> int:
        if key in self.data:
            raise KeyWrongLastSequenceError
        return await self.put(key, value)

    async def update(self, key: str, value: bytes, last: int) -> int:
        if self.data.get(key, (None, b""))[0] != last:
            raise KeyWrongLastSequenceError
        return await self.put(key, value)

    async def delete(self, key: str) -> None:
        self.revision += 1
        self.data.pop(key, None)


async def test_a_slide_read_before_the_session_ended_does_not_bring_its_token_back() -> None:
    now = [1_000_000.0]
    kv = GatedKv()
    store = KvSessionStore(kv, clock=lambda: now[0])  # type: ignore[arg-type]
    session = await store.issue(
        "evo", "alice", "EUR", ttl_s=1800, idle_s=1800, platform_session="ses_abc"
    )
    now[0] += 200  # a slide is due on the next wallet call
    hold = kv.hold = asyncio.Event()
    wallet_call = asyncio.create_task(store.get("evo", session.token))
    await asyncio.sleep(0)  # the wallet call has read the token; its answer is in flight
    assert await store.end_platform_session("ses_abc") == 1
    hold.set()
    await wallet_call
    assert await store.get("evo", session.token) is None
    now[0] += 600
    assert await store.get("evo", session.token) is None, "the revoked token works again"


async def test_a_live_token_still_slides() -> None:
    now = [1_000_000.0]
    store = KvSessionStore(GatedKv(), clock=lambda: now[0])  # type: ignore[arg-type]
    session = await store.issue("evo", "alice", "EUR", ttl_s=1800, idle_s=1800)
    now[0] += 200
    slid = await store.get("evo", session.token)
    assert slid is not None and slid.expires_at == now[0] + 1800
    now[0] += 1700  # past the issued expiry, within the slid one
    found = await store.get("evo", session.token)
    assert found is not None and not found.expired(now[0])
