"""Player sessions (launch tokens, Evolution `sid`s, Pragmatic tokens) as hot state.

The platform issues a session when it launches a game for a player; the provider then
calls the wallet with that token. Dialects that rotate tokens (Evolution's `/check`,
Pragmatic's `authenticate`) issue a new session and revoke the old one. Sessions live in
JetStream KV (DESIGN decision 6) in production, `MemorySessionStore` in unit tests; both
honour one contract, checked by one conformance suite.

Obligations of a store: `get` returns None for an unknown or revoked token, never raises
for those, and returns an expired session as it is (`Session.expired` tells; dialects
answer "token expired" differently from "invalid token", and some accept expired
sessions on wins); a token is only ever known to the provider it was issued for; `issue`
remembers the player's currency so dialects whose money calls carry no currency
(Pragmatic) can find it with `currency_of`. Keys are hashes of tokens, so a KV dump does
not reveal usable tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Protocol

import msgspec
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

SESSION_BUCKET = "livebridge_sessions"


class Session(msgspec.Struct, frozen=True, kw_only=True):
    """A player's session with one provider: who plays, in which currency, until when."""

    token: str
    provider: str
    player: str
    currency: str
    issued_at: float
    expires_at: float
    game: str = ""

    def expired(self, now: float) -> bool:
        return now >= self.expires_at


class SessionStore(Protocol):
    async def issue(
        self, provider: str, player: str, currency: str, *, ttl_s: float, game: str = ""
    ) -> Session: ...

    async def get(self, provider: str, token: str) -> Session | None: ...

    async def revoke(self, provider: str, token: str) -> None: ...

    async def currency_of(self, provider: str, player: str) -> str | None: ...


async def rotate(store: SessionStore, old: Session, *, ttl_s: float) -> Session:
    """A fresh session for the same player; the old token stops working."""
    new = await store.issue(old.provider, old.player, old.currency, ttl_s=ttl_s, game=old.game)
    await store.revoke(old.provider, old.token)
    return new


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def session_ref(token: str) -> str:
    """What the ledger records as `session_id`: a digest, so the log never holds live tokens."""
    return "ses_" + _digest(token)[:24]


def new_token() -> str:
    return secrets.token_urlsafe(24)


def new_session(
    provider: str, player: str, currency: str, now: float, ttl_s: float, game: str
) -> Session:
    """A session with a fresh token, issued at `now` and valid for `ttl_s` seconds."""
    return Session(
        token=new_token(),
        provider=provider,
        player=player,
        currency=currency,
        issued_at=now,
        expires_at=now + ttl_s,
        game=game,
    )


class MemorySessionStore:
    """In-process sessions, for unit tests and single-process demos."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._sessions: dict[tuple[str, str], Session] = {}
        self._currencies: dict[tuple[str, str], str] = {}

    async def issue(
        self, provider: str, player: str, currency: str, *, ttl_s: float, game: str = ""
    ) -> Session:
        session = new_session(provider, player, currency, self._clock(), ttl_s, game)
        self._sessions[provider, session.token] = session
        self._currencies[provider, player] = currency
        return session

    def put(self, session: Session) -> None:
        """Install a session with a chosen token (test fixtures, demos)."""
        self._sessions[session.provider, session.token] = session
        self._currencies[session.provider, session.player] = session.currency

    async def get(self, provider: str, token: str) -> Session | None:
        return self._sessions.get((provider, token))

    async def revoke(self, provider: str, token: str) -> None:
        self._sessions.pop((provider, token), None)

    async def currency_of(self, provider: str, player: str) -> str | None:
        return self._currencies.get((provider, player))


class KvSessionStore:
    """Sessions in a JetStream KV bucket; entries also age out with the bucket's TTL."""

    _decoder = msgspec.json.Decoder(Session)

    def __init__(self, kv: KeyValue, clock: Callable[[], float] = time.time) -> None:
        self._kv = kv
        self._clock = clock

    @classmethod
    async def open(
        cls,
        js: JetStreamContext,
        bucket: str = SESSION_BUCKET,
        *,
        max_age_s: float = 7 * 86400,
        replicas: int = 1,
    ) -> KvSessionStore:
        kv = await js.create_key_value(
            bucket=bucket, history=1, ttl=max_age_s, replicas=replicas, direct=True
        )
        return cls(kv)

    async def issue(
        self, provider: str, player: str, currency: str, *, ttl_s: float, game: str = ""
    ) -> Session:
        session = new_session(provider, player, currency, self._clock(), ttl_s, game)
        await self._kv.put(f"s.{provider}.{_digest(session.token)}", msgspec.json.encode(session))
        await self._kv.put(f"p.{provider}.{_digest(player)}", currency.encode())
        return session

    async def get(self, provider: str, token: str) -> Session | None:
        try:
            entry = await self._kv.get(f"s.{provider}.{_digest(token)}")
        except NotFoundError:
            return None
        if not entry.value:
            return None
        session = self._decoder.decode(entry.value)
        if not hmac.compare_digest(session.token.encode(), token.encode()):
            return None
        return session

    async def revoke(self, provider: str, token: str) -> None:
        await self._kv.delete(f"s.{provider}.{_digest(token)}")

    async def currency_of(self, provider: str, player: str) -> str | None:
        try:
            entry = await self._kv.get(f"p.{provider}.{_digest(player)}")
        except NotFoundError:
            return None
        return entry.value.decode() if entry.value else None
