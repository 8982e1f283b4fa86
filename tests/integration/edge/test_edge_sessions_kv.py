"""Sessions in JetStream KV pass the session conformance suite against a real nats-server,
and are answered from memory while the bucket's watch says they are unchanged."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import nats
import pytest

from services.edge.sessions import KvSessionStore
from tests.integration.support.watched import warm
from tests.unit.edge.support.session_store_suite import SessionStoreSuite


class TestKvSessionStore(SessionStoreSuite):
    @pytest.fixture
    async def store(self, nats_url: str, stream_prefix: str) -> AsyncIterator[KvSessionStore]:
        nc = await nats.connect(nats_url)
        try:
            yield await KvSessionStore.open(nc.jetstream(), f"sessions_{stream_prefix.lower()}")
        finally:
            await nc.drain()


async def _seen(condition: Callable[[], Awaitable[bool]], within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not await condition():
        assert time.monotonic() < deadline, "the watch did not deliver the change in time"
        await asyncio.sleep(0.01)


async def test_a_session_read_again_costs_no_request_until_another_process_revokes_it(
    nats_url: str, stream_prefix: str
) -> None:
    bucket = f"sessions_{stream_prefix.lower()}"
    here, there = await nats.connect(nats_url), await nats.connect(nats_url)
    try:
        store = await KvSessionStore.open(here.jetstream(), bucket)
        other = await KvSessionStore.open(there.jetstream(), bucket)
        # The platform launches the game in another process; this one serves the bets.
        session = await other.issue("hub88", "p-1", "EUR", ttl_s=600)
        assert await store.get("hub88", session.token) == session
        assert await store.currency_of("hub88", "p-1") == "EUR"
        await warm(here, lambda: store.get("hub88", session.token))
        await warm(here, lambda: store.currency_of("hub88", "p-1"))
        sent = here.stats["out_msgs"]
        for _ in range(20):
            assert await store.get("hub88", session.token) == session
            assert await store.currency_of("hub88", "p-1") == "EUR"
        assert here.stats["out_msgs"] == sent, "a known, unchanged session was read again"
        # The operator ends the session over there: the watch tells this process.
        await other.revoke("hub88", session.token)

        async def revoked() -> bool:
            return await store.get("hub88", session.token) is None

        await _seen(revoked)
        # A token rotated over there: the new one is read, the old one stays dead.
        renewed = await other.issue("hub88", "p-1", "USD", ttl_s=600)

        async def moved() -> bool:
            return await store.currency_of("hub88", "p-1") == "USD"

        await _seen(moved)
        assert await store.get("hub88", renewed.token) == renewed
        assert await store.get("hub88", session.token) is None
    finally:
        await here.drain()
        await there.drain()


async def test_without_its_watch_the_store_reads_the_bucket_every_time(
    nats_url: str, stream_prefix: str
) -> None:
    nc = await nats.connect(nats_url)
    try:
        store = await KvSessionStore.open(nc.jetstream(), f"sessions_{stream_prefix.lower()}")
        session = await store.issue("hub88", "p-2", "EUR", ttl_s=600)
        await store.close()
        sent = nc.stats["out_msgs"]
        for _ in range(3):
            assert await store.get("hub88", session.token) == session
        assert nc.stats["out_msgs"] == sent + 3
    finally:
        await nc.drain()
