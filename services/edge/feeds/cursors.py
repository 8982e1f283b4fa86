"""Where feed positions survive restarts: the pull/socket cursor and each round's last seq.

`CursorStore` is a tiny async key/value port. Its obligations: `get` returns the last
value `put` for the key (or None), `put` is durable when it returns. The JetStream KV
implementation is the production one (hot state lives in JetStream KV, beside the log);
`MemoryCursorStore` serves unit tests. Keys are free text: each implementation encodes
them as its storage requires.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Protocol

from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

DEFAULT_BUCKET = "livebridge_feed_cursors"
DEFAULT_TTL_S = 7 * 24 * 3600.0


class CursorStore(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, value: str) -> None: ...


class MemoryCursorStore:
    """A dict: positions last as long as the object (unit tests, one-shot simulations)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def put(self, key: str, value: str) -> None:
        self.values[key] = value


class JetStreamCursorStore:
    """Positions in a JetStream KV bucket (file storage, one value per key).

    Values untouched for `ttl` seconds expire: a feed idle that long resumes from its
    provider's start, which the sequence numbers and the ledger's idempotency absorb.
    """

    def __init__(self, kv: KeyValue | None = None) -> None:
        """`kv` is the bucket; a store made without one (an app's, before it starts) is
        usable once `attach` has opened it."""
        self._bucket = kv

    @classmethod
    async def open(
        cls, js: JetStreamContext, bucket: str = DEFAULT_BUCKET, *, ttl: float = DEFAULT_TTL_S
    ) -> JetStreamCursorStore:
        store = cls()
        await store.attach(js, bucket, ttl=ttl)
        return store

    async def attach(
        self,
        js: JetStreamContext,
        bucket: str = DEFAULT_BUCKET,
        *,
        ttl: float = DEFAULT_TTL_S,
        replicas: int = 1,
    ) -> None:
        """Open (or create) the bucket this store keeps its positions in."""
        self._bucket = await js.create_key_value(
            bucket=bucket, history=1, ttl=ttl, replicas=replicas
        )

    @property
    def _kv(self) -> KeyValue:
        if self._bucket is None:
            raise RuntimeError("feed cursor store used before its bucket was opened (attach)")
        return self._bucket

    async def get(self, key: str) -> str | None:
        try:
            entry = await self._kv.get(_kv_key(key))
        except NotFoundError:  # never written, or deleted
            return None
        return None if entry.value is None else entry.value.decode()

    async def put(self, key: str, value: str) -> None:
        await self._kv.put(_kv_key(key), value.encode())


MAX_KV_KEY = 1024
"""Longest KV key written as is; a longer one becomes a digest, so no key can make the
server refuse the line it travels on (and close the connection)."""


def _kv_key(key: str) -> str:
    # KV keys allow [-/_=.a-zA-Z0-9]; round ids carry ':' and spaces, so encode.
    encoded = base64.urlsafe_b64encode(key.encode()).decode().rstrip("=") or "_"
    if len(encoded) <= MAX_KV_KEY:
        return encoded
    return "sha256." + hashlib.sha256(key.encode()).hexdigest()
