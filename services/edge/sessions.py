"""Player sessions (launch tokens, Evolution `sid`s, Pragmatic tokens) as hot state.

The platform issues a session when it launches a game for a player; the provider then
calls the wallet with that token. Dialects that rotate tokens (Evolution's `/check`,
Pragmatic's `authenticate`) issue a new session and revoke the old one. Sessions live in
JetStream KV (beside the log: no other store to run) in production, `MemorySessionStore`
in unit tests; both honour one contract, checked by one conformance suite.

Obligations of a store: `get` returns None for an unknown or revoked token, never raises
for those, and returns an expired session as it is (`Session.expired` tells; dialects
answer "token expired" differently from "invalid token", and some accept expired
sessions on wins); a token is only ever known to the provider it was issued for; `issue`
remembers the player's currency so dialects whose money calls carry no currency
(Pragmatic) can find it with `currency_of`. Keys are hashes of tokens, so a KV dump does
not reveal usable tokens.

Idle expiry: a session issued with `idle_s` expires after that long unused, not at a fixed
time: every `get` of a live session slides `expires_at` to `now + idle_s` (written back at
most every tenth of `idle_s`, so a busy token costs one KV write per few minutes, not one
per call). The slide is written over the entry it was read from only (`KvSessionStore`:
compare-and-set), so a revoke landing in between is never undone. `PROVIDER_IDLE_S` is the
default idle time of the tokens dialects issue.

A platform session (a game launch) issues tokens to several providers, and a dialect may
rotate them (Evolution's `/check`): every token issued under one platform session is kept
in its family, and `end_platform_session` revokes them all, rotations included; a token
issued under it afterwards (a rotation racing the end) is taken back (`SessionEnded`).

`KvSessionStore` answers a token it read before from memory (`services.edge.kvcache`): a
wallet call costs no KV read while its session is unchanged, and a change made anywhere
(revoked, rotated, slid) reaches every process's cache through the bucket's watch.
"""

from __future__ import annotations

import abc
import functools
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

import msgspec
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

from services.edge.kvcache import WatchedBucket
from services.edge.kvwrite import change_entry

SESSION_BUCKET = "livebridge_sessions"
PROVIDER_IDLE_S = 1800.0
"""A provider token unused for this long expires (sliding); dialects' `session_ttl_s`."""


class SessionEnded(Exception):
    """A token was issued under a platform session that has ended; it was taken back."""


class Session(msgspec.Struct, frozen=True, kw_only=True):
    """A player's session with one provider: who plays, in which currency, until when."""

    token: str
    provider: str
    player: str
    currency: str
    issued_at: float
    expires_at: float
    game: str = ""
    idle_s: float = 0.0
    """When positive, `expires_at` slides to `now + idle_s` each time the token is used."""
    platform_session: str = ""
    """The platform's `sessionId` this token was issued under (a game launch), if any."""

    def expired(self, now: float) -> bool:
        return now >= self.expires_at

    def slid(self, now: float) -> Session | None:
        """This session with its expiry slid to `now + idle_s`, when that is due."""
        if self.idle_s <= 0 or self.expired(now):
            return None
        if self.expires_at - now > self.idle_s * 0.9:
            return None
        return msgspec.structs.replace(self, expires_at=now + self.idle_s)


class SessionStore(abc.ABC):
    """A store of sessions (obligations: the module docstring). Every store issues alike: a
    session is made on the store's clock, kept, then joined to its platform session."""

    _clock: Callable[[], float]

    async def issue(
        self,
        provider: str,
        player: str,
        currency: str,
        *,
        ttl_s: float,
        game: str = "",
        idle_s: float = 0.0,
        platform_session: str = "",
    ) -> Session:
        session = new_session(
            provider,
            player,
            currency,
            self._clock(),
            ttl_s,
            game,
            idle_s=idle_s,
            platform_session=platform_session,
        )
        await self.keep(session)
        if platform_session and not await self.join(session):
            await self.revoke(provider, session.token)
            raise SessionEnded(
                f"platform session {platform_session} has ended: no token is issued under it"
            )
        return session

    @abc.abstractmethod
    async def keep(self, session: Session) -> None:
        """Store `session` under its token, and its currency as the player's last."""

    @abc.abstractmethod
    async def revoke(self, provider: str, token: str) -> None:
        """The token stops working."""

    @abc.abstractmethod
    async def join(self, session: Session) -> bool:
        """Add the kept `session` to its platform session's family; False if that ended."""

    @abc.abstractmethod
    async def get(self, provider: str, token: str) -> Session | None:
        """The session of `token`, expired or not; None if unknown or revoked."""

    @abc.abstractmethod
    async def end_platform_session(self, platform_session: str) -> int:
        """Revoke every token issued under `platform_session`, rotations included; from
        now on `issue` under it raises `SessionEnded`. How many tokens it had issued."""

    @abc.abstractmethod
    async def currency_of(self, provider: str, player: str) -> str | None:
        """The currency of the player's last session with `provider`; None if none."""


async def rotate(store: SessionStore, old: Session, *, ttl_s: float) -> Session:
    """A fresh session for the same player; the old token stops working."""
    new = await store.issue(
        old.provider,
        old.player,
        old.currency,
        ttl_s=ttl_s,
        game=old.game,
        idle_s=old.idle_s,
        platform_session=old.platform_session,
    )
    await store.revoke(old.provider, old.token)
    return new


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def _token_key(provider: str, token: str) -> str:
    return f"s.{provider}.{_digest(token)}"


def session_ref(token: str) -> str:
    """What the ledger records as `session_id`: a digest, so the log never holds live tokens."""
    return "ses_" + _digest(token)[:24]


def recorded_session(session: Session, token: str) -> str:
    """The `session_id` a bet made with `token` is recorded under: the platform session
    that issued it (every token it issued, rotations included, so an auditor's export by
    `sessionId` finds the bets of every dialect), else the token's own `session_ref`."""
    return session.platform_session or session_ref(token)


def new_token() -> str:
    return secrets.token_urlsafe(24)


def new_session(
    provider: str,
    player: str,
    currency: str,
    now: float,
    ttl_s: float,
    game: str,
    *,
    idle_s: float = 0.0,
    platform_session: str = "",
) -> Session:
    """A session with a fresh token, issued at `now` and valid for `ttl_s` seconds (or,
    with `idle_s`, until unused for that long)."""
    return Session(
        token=new_token(),
        provider=provider,
        player=player,
        currency=currency,
        issued_at=now,
        expires_at=now + (idle_s if idle_s > 0 else ttl_s),
        game=game,
        idle_s=idle_s,
        platform_session=platform_session,
    )


class MemorySessionStore(SessionStore):
    """In-process sessions, for unit tests and single-process demos."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._sessions: dict[tuple[str, str], Session] = {}
        self._currencies: dict[tuple[str, str], str] = {}
        self._families: dict[str, set[tuple[str, str]]] = {}
        self._ended: set[str] = set()

    async def keep(self, session: Session) -> None:
        self.put(session)

    async def join(self, session: Session) -> bool:
        if session.platform_session in self._ended:
            return False
        family = self._families.setdefault(session.platform_session, set())
        family.add((session.provider, session.token))
        return True

    async def end_platform_session(self, platform_session: str) -> int:
        self._ended.add(platform_session)
        family = self._families.get(platform_session, set())
        for provider, token in family:
            await self.revoke(provider, token)
        return len(family)

    def put(self, session: Session) -> None:
        """Install a session with a chosen token (test fixtures, demos)."""
        self._sessions[session.provider, session.token] = session
        self._currencies[session.provider, session.player] = session.currency

    async def get(self, provider: str, token: str) -> Session | None:
        session = self._sessions.get((provider, token))
        slid = session.slid(self._clock()) if session else None
        if slid is not None:
            self._sessions[provider, token] = session = slid
        return session

    async def revoke(self, provider: str, token: str) -> None:
        self._sessions.pop((provider, token), None)

    async def currency_of(self, provider: str, player: str) -> str | None:
        return self._currencies.get((provider, player))


class _Family(msgspec.Struct, frozen=True, kw_only=True):
    """The token keys issued under one platform session, and whether it has ended."""

    keys: tuple[str, ...] = ()
    ended: bool = False


class KvSessionStore(WatchedBucket[Session | str], SessionStore):
    """Sessions in a JetStream KV bucket; entries also age out with the bucket's TTL.

    A platform session's family is one key (`f.<digest>`), read past the cache and changed
    only by compare-and-set: a token joins it or the end marks it, one after the other, so
    a rotation racing the end is either in the list the end revokes or sees the end and
    takes itself back.
    """

    _decoder = msgspec.json.Decoder(Session)
    _family_decoder = msgspec.json.Decoder(_Family)

    def __init__(self, kv: KeyValue | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(kv)
        self._clock = clock

    async def keep(self, session: Session) -> None:
        await self._put(_token_key(session.provider, session.token), msgspec.json.encode(session))
        await self._put(
            f"p.{session.provider}.{_digest(session.player)}", session.currency.encode()
        )

    async def get(self, provider: str, token: str) -> Session | None:
        key = _token_key(provider, token)
        session = await self.cache.read(key, functools.partial(self._load_session, key))
        if not isinstance(session, Session):
            return None
        if not hmac.compare_digest(session.token.encode(), token.encode()):
            return None
        if session.slid(self._clock()) is not None:
            return await self._slide(key, token)
        return session

    async def revoke(self, provider: str, token: str) -> None:
        await self._delete(_token_key(provider, token))

    async def _slide(self, key: str, token: str) -> Session | None:
        """The session under `key` with its expiry slid, written only over the entry it was
        read from (compare-and-set, past the cache): a revoke (a platform session's end)
        landing between the read and the write makes the write fail, and what is there then
        is honoured, so a revoked token stays dead instead of being written back to life."""

        def token_of(raw: bytes | None) -> Session | None:
            session = self._decoder.decode(raw) if raw else None
            if session is None or not hmac.compare_digest(session.token.encode(), token.encode()):
                return None
            return session

        def slide(raw: bytes | None) -> bytes | None:
            session = token_of(raw)
            slid = session.slid(self._clock()) if session is not None else None
            return None if slid is None else msgspec.json.encode(slid)

        forget = functools.partial(self.cache.forget, key)
        return token_of(await change_entry(self._kv, key, slide, before_write=forget))

    async def join(self, session: Session) -> bool:
        key = _token_key(session.provider, session.token)
        family = await self._change_family(
            session.platform_session,
            lambda f: f if f.ended else msgspec.structs.replace(f, keys=(*f.keys, key)),
        )
        return not family.ended

    async def end_platform_session(self, platform_session: str) -> int:
        family = await self._change_family(
            platform_session, lambda f: msgspec.structs.replace(f, ended=True)
        )
        for key in family.keys:
            await self._delete(key)
        return len(family.keys)

    async def _change_family(
        self, platform_session: str, change: Callable[[_Family], _Family]
    ) -> _Family:
        """`change` applied to the family by compare-and-set (again on a conflict)."""

        def changed(raw: bytes | None) -> bytes | None:
            after = msgspec.json.encode(change(self._decode_family(raw)))
            return None if after == raw else after  # unchanged: nothing to write

        key = f"f.{_digest(platform_session)}"
        return self._decode_family(await change_entry(self._kv, key, changed))

    def _decode_family(self, raw: bytes | None) -> _Family:
        return self._family_decoder.decode(raw) if raw else _Family()

    async def currency_of(self, provider: str, player: str) -> str | None:
        key = f"p.{provider}.{_digest(player)}"
        currency = await self.cache.read(key, functools.partial(self._load_currency, key))
        return currency if isinstance(currency, str) else None

    async def _put(self, key: str, value: bytes) -> None:
        # Forgotten first: a read under way cannot keep the value this write replaces.
        self.cache.forget(key)
        await self._kv.put(key, value)

    async def _delete(self, key: str) -> None:
        self.cache.forget(key)
        await self._kv.delete(key)

    async def _value(self, key: str) -> bytes | None:
        try:
            entry = await self._kv.get(key)
        except NotFoundError:
            return None
        return entry.value or None

    async def _load_session(self, key: str) -> Session | None:
        value = await self._value(key)
        return self._decoder.decode(value) if value else None

    async def _load_currency(self, key: str) -> str | None:
        value = await self._value(key)
        return value.decode() if value else None
