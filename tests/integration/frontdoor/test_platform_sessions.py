"""Platform sessions in JetStream KV: a bet reads its session from memory while the
bucket's watch says it is unchanged, and a close made on another bridge reaches it."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator

import msgspec
import pytest
from nats.aio.client import Client

from services.frontdoor.sessions import PlatformSession
from services.frontdoor.sessions import PlatformSessions
from services.frontdoor.sessions import new_session_id
from tests.integration.support.connections import two_processes
from tests.integration.support.kv_hooks import BeforeWrite
from tests.integration.support.watched import warm


def _session(player: str) -> PlatformSession:
    now = time.time()
    return PlatformSession(
        session_id=new_session_id(),
        operator="casino",
        player=player,
        currency="EUR",
        country="MT",
        kyc_status="VERIFIED",
        language="en",
        table="T1",
        opened_at=now,
        idle_until=now + 600,
    )


@pytest.fixture
async def bridges(nats_url: str, stream_prefix: str) -> AsyncIterator[tuple[str, Client, Client]]:
    """The platform sessions bucket, and two bridges using it."""
    async with two_processes(nats_url) as (here, there):
        yield f"{stream_prefix}_platform_sessions", here, there


async def test_a_session_read_again_costs_no_request_until_another_bridge_closes_it(
    bridges: tuple[str, Client, Client],
) -> None:
    bucket, here, there = bridges
    store = await PlatformSessions.open(here.jetstream(), bucket)
    other = await PlatformSessions.open(there.jetstream(), bucket)
    # Launched on the other bridge; this one serves the player's bets.
    session = await other.claim(_session("pia"))
    assert await store.get(session.session_id) == session
    await warm(here, lambda: store.get(session.session_id))
    sent = here.stats["out_msgs"]
    for _ in range(20):
        assert await store.get(session.session_id) == session
    assert here.stats["out_msgs"] == sent, "a known, unchanged session was read again"

    closed = msgspec.structs.replace(session, closed_at=time.time(), close_reason="OPERATOR")
    await other.put(closed)
    deadline = time.monotonic() + 5
    while (found := await store.get(session.session_id)) != closed:
        assert time.monotonic() < deadline, f"the close did not reach this bridge: {found}"
        await asyncio.sleep(0.01)
    assert found is not None and not found.open(time.time())

    refreshed = msgspec.structs.replace(closed, idle_until=time.time() + 900)
    await store.put(refreshed)  # its own write: read back at once, not from memory
    assert await store.get(session.session_id) == refreshed
    assert await store.get("ses_unknown0") is None
    assert await store.get("not-a-session-id") is None


async def test_a_change_is_written_over_the_entry_it_read_and_never_over_a_close(
    bridges: tuple[str, Client, Client],
) -> None:
    bucket, here, there = bridges
    other = await PlatformSessions.open(there.jetstream(), bucket)
    kv = BeforeWrite(await here.jetstream().key_value(bucket))
    store = PlatformSessions(kv)  # type: ignore[arg-type]
    session = await other.claim(_session("quinn"))
    later = time.time() + 900

    def refreshed(found: PlatformSession) -> PlatformSession:
        return msgspec.structs.replace(found, idle_until=later)

    assert await store.change(session.session_id, refreshed) == refreshed(session)
    assert await other.get(session.session_id) == refreshed(session)

    closed = msgspec.structs.replace(
        refreshed(session), closed_at=time.time(), close_reason="OPERATOR"
    )
    kv.then = functools.partial(other.put, closed)
    assert await store.change(session.session_id, refreshed) == closed
    assert kv.then is None, "the close did not land between the read and the write"
    assert await store.get(session.session_id) == closed, "the close was undone"
    assert await store.change("ses_unknown0", refreshed) is None
