"""Platform sessions in JetStream KV: a bet reads its session from memory while the
bucket's watch says it is unchanged, and a close made on another bridge reaches it."""

from __future__ import annotations

import asyncio
import time

import msgspec
import nats

from services.frontdoor.sessions import PlatformSession, PlatformSessions, new_session_id
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


async def test_a_session_read_again_costs_no_request_until_another_bridge_closes_it(
    nats_url: str, stream_prefix: str
) -> None:
    bucket = f"{stream_prefix}_platform_sessions"
    here, there = await nats.connect(nats_url), await nats.connect(nats_url)
    try:
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
    finally:
        await here.drain()
        await there.drain()
