"""One conformance suite for every `SessionStore`; subclass it with a `store` fixture."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.edge.sessions import SessionEnded
from services.edge.sessions import SessionStore
from services.edge.sessions import rotate


class SessionStoreSuite:
    async def test_an_issued_session_is_found_by_its_provider_only(
        self, store: SessionStore
    ) -> None:
        session = await store.issue("prov-a", "u-1", "EUR", ttl_s=60, game="roulette")
        found = await store.get("prov-a", session.token)
        assert found == session and found.player == "u-1" and found.game == "roulette"
        assert await store.get("prov-b", session.token) is None
        assert await store.get("prov-a", session.token + "x") is None
        assert await store.get("prov-a", "") is None

    async def test_tokens_are_unguessable_and_distinct(self, store: SessionStore) -> None:
        tokens = {(await store.issue("p", "u", "EUR", ttl_s=60)).token for _ in range(20)}
        assert len(tokens) == 20 and all(len(t) >= 32 for t in tokens)

    async def test_an_expired_session_is_returned_marked_expired(self, store: SessionStore) -> None:
        session = await store.issue("p", "u", "EUR", ttl_s=-1)
        found = await store.get("p", session.token)
        assert found is not None and found.expired(session.issued_at)

    async def test_rotation_revokes_the_old_token(self, store: SessionStore) -> None:
        old = await store.issue("p", "u-1", "USD", ttl_s=60)
        new = await rotate(store, old, ttl_s=60)
        assert new.token != old.token and new.player == "u-1" and new.currency == "USD"
        assert await store.get("p", old.token) is None
        assert await store.get("p", new.token) == new

    async def test_the_players_currency_is_remembered_per_provider(
        self, store: SessionStore
    ) -> None:
        assert await store.currency_of("p", "u-9") is None
        await store.issue("p", "u-9", "GBP", ttl_s=60)
        assert await store.currency_of("p", "u-9") == "GBP"
        assert await store.currency_of("q", "u-9") is None

    async def test_odd_tokens_are_simply_unknown(self, store: SessionStore) -> None:
        for token in ("ü∂ƒ", "a b", "x" * 500, "../..", "*", ">"):
            assert await store.get("p", token) is None

    async def test_a_token_with_an_idle_time_stays_alive_while_used_and_rotates_with_it(
        self, store: SessionStore
    ) -> None:
        session = await store.issue("p", "u", "EUR", ttl_s=86400, idle_s=1.0, platform_session="s1")
        assert session.expires_at - session.issued_at == 1.0, "the idle time, not the ttl"
        await asyncio.sleep(0.3)
        used = await store.get("p", session.token)
        assert used is not None and used.expires_at > session.expires_at + 0.2
        await asyncio.sleep(0.8)  # past the first expiry, within the slid one
        again = await store.get("p", session.token)
        assert again is not None and not again.expired(time.time())
        fresh = await rotate(store, again, ttl_s=60)
        assert (fresh.idle_s, fresh.platform_session) == (1.0, "s1")

    async def test_a_token_left_unused_past_its_idle_time_expires(
        self, store: SessionStore
    ) -> None:
        session = await store.issue("p", "u", "EUR", ttl_s=86400, idle_s=0.2)
        await asyncio.sleep(0.3)
        found = await store.get("p", session.token)
        assert found is not None and found.expired(time.time())

    async def test_ending_a_platform_session_revokes_every_token_it_issued_rotations_too(
        self, store: SessionStore
    ) -> None:
        launched = await store.issue("evo", "u", "EUR", ttl_s=60, platform_session="ses_a")
        other = await store.issue("hub", "u", "EUR", ttl_s=60, platform_session="ses_a")
        rotated = await rotate(store, await rotate(store, launched, ttl_s=60), ttl_s=60)
        theirs = await store.issue("evo", "v", "EUR", ttl_s=60, platform_session="ses_b")
        loose = await store.issue("evo", "u", "EUR", ttl_s=60)

        assert await store.end_platform_session("ses_a") == 4, "every token it ever issued"
        for session in (launched, other, rotated):
            assert await store.get(session.provider, session.token) is None
        assert await store.get("evo", theirs.token) == theirs, "another session's stays"
        assert await store.get("evo", loose.token) == loose
        with pytest.raises(SessionEnded):  # a rotation racing the end is taken back
            await store.issue("evo", "u", "EUR", ttl_s=60, platform_session="ses_a")
        assert await store.end_platform_session("ses_a") == 4, "ending twice changes nothing"
        assert await store.end_platform_session("ses_never") == 0
