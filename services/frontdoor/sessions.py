"""Platform sessions in JetStream KV: one open session per operator, player and currency.

Keys (bucket `<prefix>_platform_sessions`, entries age out with the bucket's TTL):

- `s.<sessionId>`: the session (`PlatformSession`), with the provider tokens issued under it;
- `i.<digest of operator, player, currency>`: the id of the open session, written with
  `create` so two launches racing for the same player agree on one session.

A session is open until closed, or until `idle_until` passes without a launch or a token
refresh; a launch after that opens a new session. A launch or a refresh changes the session
by compare-and-set (`change`): a close landing while it runs wins.

Every bet reads its session (`get`): a session read before is answered from memory while
the bucket's watch reports no change to it (`services.edge.kvcache`), so a bet costs no KV
read, and a close made on any bridge reaches this one's cache as the watch delivers it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import secrets
import time
from collections.abc import Callable

import msgspec
from nats.js.errors import KeyNotFoundError
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

from services.edge.kvcache import WatchedBucket
from services.edge.kvwrite import change_entry


class PlatformSession(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    operator: str
    player: str
    currency: str
    country: str
    kyc_status: str
    language: str
    table: str
    opened_at: float
    idle_until: float
    tokens: dict[str, str] = {}
    """Provider id -> the provider token issued under this session."""
    provider: str = ""
    """The provider of the last launch: where the player's canonical bets go."""
    closed_at: float = 0.0
    close_reason: str = ""

    def open(self, now: float) -> bool:
        return not self.closed_at and now < self.idle_until


SESSION_ID = re.compile(r"ses_[0-9A-Za-z]{1,64}\Z")
"""What a session id can be (`new_session_id` makes `ses_` and 24 hex digits); any other
names no session: ASCII only (`str.isalnum` passes '²' and 'é'), and short."""


def new_session_id() -> str:
    return "ses_" + secrets.token_hex(12)


def _index(operator: str, player: str, currency: str) -> str:
    digest = hashlib.sha256("\x1f".join((operator, player, currency)).encode()).hexdigest()
    return "i." + digest[:40]


class PlatformSessions(WatchedBucket[PlatformSession]):
    _decoder = msgspec.json.Decoder(PlatformSession)

    def __init__(self, kv: KeyValue | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(kv)
        self.clock = clock

    async def get(self, session_id: str) -> PlatformSession | None:
        if not SESSION_ID.match(session_id):
            return None  # never a KV key: a 5,000-character one makes nats-server drop us
        key = f"s.{session_id}"
        return await self.cache.read(key, functools.partial(self._load, key))

    async def _load(self, key: str) -> PlatformSession | None:
        try:
            entry = await self._kv.get(key)
        except (KeyNotFoundError, NotFoundError):
            return None
        return self._decoder.decode(entry.value) if entry.value else None

    async def put(self, session: PlatformSession) -> None:
        key = f"s.{session.session_id}"
        self.cache.forget(key)  # first: a read under way cannot keep what this replaces
        await self._kv.put(key, msgspec.json.encode(session))

    async def change(
        self, session_id: str, change: Callable[[PlatformSession], PlatformSession]
    ) -> PlatformSession | None:
        """The stored session with `change` applied, written only over the entry it was read
        from (compare-and-set, past the cache; read and changed again on a conflict), so a
        close landing between the read and the write is seen, never undone: a closed
        session is answered as it is, unchanged. None if there is no such session."""
        key = f"s.{session_id}"

        def changed(raw: bytes | None) -> bytes | None:
            before = self._decoder.decode(raw) if raw else None
            if before is None or before.closed_at:
                return None
            return msgspec.json.encode(change(before))

        forget = functools.partial(self.cache.forget, key)
        after = await change_entry(self._kv, key, changed, before_write=forget)
        return self._decoder.decode(after) if after else None

    async def open_of(self, operator: str, player: str, currency: str) -> PlatformSession | None:
        """The open session of `operator`'s `player` in `currency`, if there is one."""
        try:
            entry = await self._kv.get(_index(operator, player, currency))
        except (KeyNotFoundError, NotFoundError):
            return None
        found = await self.get(entry.value.decode()) if entry.value else None
        return found if found is not None and found.open(self.clock()) else None

    async def claim(self, fresh: PlatformSession) -> PlatformSession:
        """The open session of `fresh`'s operator, player and currency, or `fresh` made it.

        `fresh` is stored first; the index then names whichever session won a race.
        """
        key = _index(fresh.operator, fresh.player, fresh.currency)
        for _ in range(5):
            try:
                entry = await self._kv.get(key)
            except (KeyNotFoundError, NotFoundError):
                entry = None
            if entry is not None and entry.value:
                found = await self.get(entry.value.decode())
                if found is not None and found.open(self.clock()):
                    return found
            await self.put(fresh)
            try:
                if entry is None:
                    await self._kv.create(key, fresh.session_id.encode())
                else:
                    await self._kv.update(key, fresh.session_id.encode(), last=entry.revision)
            except KeyWrongLastSequenceError:
                continue  # another launch won: read what it wrote
            return fresh
        raise RuntimeError(f"session index {key} keeps changing under us")

    async def release(self, session: PlatformSession) -> None:
        """Forget `session` as its player's open one (it was closed)."""
        key = _index(session.operator, session.player, session.currency)
        try:
            entry = await self._kv.get(key)
        except (KeyNotFoundError, NotFoundError):
            return
        if entry.value and entry.value.decode() == session.session_id:
            # A new session may have taken the index already: then it stays.
            with contextlib.suppress(KeyWrongLastSequenceError):
                await self._kv.update(key, b"", last=entry.revision)
