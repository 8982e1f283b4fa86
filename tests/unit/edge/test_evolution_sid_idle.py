"""The sid `/check` hands out lives as long unused as the provider's `session_ttl_s` says,
whatever idle time the launch token it replaces had."""

from __future__ import annotations

import pytest

from services.edge.sessions import Session
from services.simulate.clients.evolution import EvolutionClient
from tests.unit.edge.support.wallet_gateway import player_rig

SECRET = "sid-idle-TEST-ONLY-secret"
LAUNCH_IDLE_S = 1800.0
"""The front door's default `provider_idle_s`: what a launch token slides by."""


@pytest.mark.parametrize("session_ttl_s", [600, 3600])
async def test_a_checked_sid_expires_after_session_ttl_s_unused_not_the_launch_tokens_idle(
    session_ttl_s: int,
) -> None:
    r, transport = player_rig(
        "evolution", SECRET.encode(), options={"session_ttl_s": session_ttl_s}
    )
    r.sessions.put(
        Session(
            token="launch",
            provider="evolution",
            player="u-1",
            currency="EUR",
            issued_at=r.clock[0],
            expires_at=r.clock[0] + LAUNCH_IDLE_S,
            idle_s=LAUNCH_IDLE_S,
            platform_session="ps-1",
        )
    )
    client = EvolutionClient(transport, SECRET)
    checked = await client.check(sid="launch", user="u-1")
    assert checked["status"] == "OK", checked
    sid = checked["sid"]

    # Used now and then, within its idle time: it slides and stays live.
    for _ in range(3):
        r.clock[0] += session_ttl_s - 10
        used = await client.balance(sid=sid, user="u-1", currency="EUR")
        assert used["status"] == "OK", used

    # Then left unused a little longer than `session_ttl_s`: it has expired.
    r.clock[0] += session_ttl_s + 10
    idle = await client.balance(sid=sid, user="u-1", currency="EUR")
    assert idle["status"] == "INVALID_SID", idle
