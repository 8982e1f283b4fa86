"""Sessions in JetStream KV pass the session conformance suite against a real nats-server,
and are answered from memory while the bucket's watch says they are unchanged."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable

import nats
import pytest
from nats.aio.client import Client as NATS

from services.edge.sessions import KvSessionStore
from tests.integration.support import connections
from tests.integration.support.kv_hooks import BeforeWrite
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


@pytest.fixture
async def two_processes(nats_url: str, stream_prefix: str) -> AsyncIterator[tuple[str, NATS, NATS]]:
    """One session bucket, and two processes of the bridge using it."""
    async with connections.two_processes(nats_url) as (here, there):
        yield f"sessions_{stream_prefix.lower()}", here, there


async def test_a_session_read_again_costs_no_request_until_another_process_revokes_it(
    two_processes: tuple[str, NATS, NATS],
) -> None:
    bucket, here, there = two_processes
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


async def test_a_slide_is_written_over_the_entry_it_read_and_never_over_a_revoke(
    two_processes: tuple[str, NATS, NATS],
) -> None:
    bucket, here, there = two_processes
    other = await KvSessionStore.open(there.jetstream(), bucket)
    kv = BeforeWrite(await here.jetstream().key_value(bucket))
    now = [time.time()]
    store = KvSessionStore(kv, clock=lambda: now[0])  # type: ignore[arg-type]
    kept = await store.issue("evo", "p-3", "EUR", ttl_s=1800, idle_s=1800)
    closed = await store.issue("evo", "p-4", "EUR", ttl_s=1800, idle_s=1800)
    now[0] += 200  # a slide is due on the next wallet call of each

    slid = await store.get("evo", kept.token)
    assert slid is not None and slid.expires_at == now[0] + 1800
    assert await other.get("evo", kept.token) == slid, "the slide did not reach the bucket"

    kv.then = functools.partial(other.revoke, "evo", closed.token)
    assert await store.get("evo", closed.token) is None
    assert kv.then is None, "the close did not land between the read and the write"
    now[0] += 600
    assert await store.get("evo", closed.token) is None, "the revoked token works again"
    assert await other.get("evo", closed.token) is None
