"""A close landing while a relaunch or a player token refresh runs wins: the session's write
is checked against the entry it read, so the close is seen, not undone, and the relaunch or
refresh is answered `SESSION_CLOSED`. The close is made between the read and the write
every time (`BeforeWrite`), not once in many runs."""

from __future__ import annotations

from services.frontdoor.launch import PLATFORM_SESSIONS
from tests.integration.frontdoor.conftest import Bridge
from tests.integration.frontdoor.test_bets import bet
from tests.integration.frontdoor.test_bets import opened
from tests.integration.frontdoor.test_bets import place
from tests.integration.frontdoor.test_bets import record
from tests.integration.frontdoor.test_sessions import SESSIONS
from tests.integration.frontdoor.test_sessions import evo_session
from tests.integration.frontdoor.test_sessions import launch
from tests.integration.frontdoor.test_sessions import launch_body
from tests.integration.support.kv_hooks import BeforeWrite


def closed_before_the_next_write(bridge: Bridge, session_id: str) -> BeforeWrite:
    """The bridge's platform sessions bucket, with the operator's close of `session_id`
    made just before the next write of a session."""
    store = bridge.app[PLATFORM_SESSIONS]
    kv = BeforeWrite(store._kv)
    store._bucket = kv  # type: ignore[assignment]

    async def close() -> None:
        response = await bridge.client.post(
            f"/platform/v1/sessions/{session_id}/close", headers=SESSIONS
        )
        assert response.status == 200, await response.text()

    kv.then = close
    return kv


async def assert_closed(bridge: Bridge, session_id: str, player_token: str) -> None:
    """The session stays closed: its view says so and a canonical bet is refused."""
    player = {"Authorization": f"Bearer {player_token}"}
    view = await bridge.client.get(f"/platform/v1/player/sessions/{session_id}", headers=player)
    assert (await view.json())["state"] == "CLOSED", "the close was undone"
    await record(bridge, opened(f"R-{session_id}"))
    status, answer = await place(bridge, player_token, bet(session_id, f"R-{session_id}", "k-1"))
    assert (status, answer["error"]) == (409, "LBRG-409 SESSION_CLOSED"), answer


async def test_a_refresh_the_close_overtakes_is_session_closed_and_the_close_stands(
    bridge: Bridge,
) -> None:
    session_id, player_token = await evo_session(bridge, "vera")
    kv = closed_before_the_next_write(bridge, session_id)
    refresh = await bridge.client.post(
        f"/platform/v1/player/sessions/{session_id}/token",
        headers={"Authorization": f"Bearer {player_token}"},
    )
    assert kv.then is None, "the close did not land between the read and the write"
    assert refresh.status == 409
    assert (await refresh.json())["error"] == "LBRG-409 SESSION_CLOSED"
    await assert_closed(bridge, session_id, player_token)


async def test_a_relaunch_the_close_overtakes_is_session_closed_and_the_close_stands(
    bridge: Bridge,
) -> None:
    session_id, player_token = await evo_session(bridge, "walt")
    kv = closed_before_the_next_write(bridge, session_id)
    status, relaunch = await launch(bridge, launch_body("walt", "evo"))
    assert kv.then is None, "the close did not land between the read and the write"
    assert (status, relaunch["error"]) == (409, "LBRG-409 SESSION_CLOSED"), relaunch
    await assert_closed(bridge, session_id, player_token)
