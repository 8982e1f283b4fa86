"""A JetStream KV bucket with a step run just before a write: what another process does
between a read and the write that follows it (a close racing a slide, a refresh, a launch)
happens there, every time, instead of once in many runs."""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

from nats.js.kv import KeyValue


class BeforeWrite:
    """`kv`, with `then` run once before the next write (put or update) of a key starting
    with `prefix`; it is cleared first, so what it writes itself goes straight through."""

    def __init__(self, kv: KeyValue, prefix: str = "s.") -> None:
        self.kv = kv
        self.prefix = prefix
        self.then: Callable[[], Awaitable[object]] | None = None

    async def _first(self, key: str) -> None:
        if self.then is not None and key.startswith(self.prefix):
            then, self.then = self.then, None
            await then()

    async def put(self, key: str, value: bytes) -> int:
        await self._first(key)
        return await self.kv.put(key, value)

    async def update(self, key: str, value: bytes, last: int | None = None) -> int:
        await self._first(key)
        return await self.kv.update(key, value, last=last)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.kv, name)
