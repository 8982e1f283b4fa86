"""Seed B's session life cycle end to end, over real HTTP and a real WebSocket, with real
NATS and PostgreSQL: launch, socket, bet.place, hold, betting closed, result, settlement,
round.settle on the stream and the webhook, the socket's push with balanceAfter, a
reconnect that is sent what it missed from the log, and session.close."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC
from datetime import datetime
from decimal import Decimal
from typing import Any

import aiohttp
import nats
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from contracts.events import BettingClosed
from contracts.events import BettingOpened
from contracts.events import ResultDeclared
from services.bridge.config import Settings
from services.bridge.main import NATS_URL
from services.platform.webhooks import SIGNATURE
from services.platform.webhooks import verify_signature
from tests.integration.frontdoor.conftest import Bridge
from tests.integration.frontdoor.conftest import all_but_key
from tests.integration.frontdoor.test_bets import available
from tests.integration.frontdoor.test_bets import bet
from tests.integration.frontdoor.test_bets import place
from tests.integration.frontdoor.test_bets import record
from tests.integration.frontdoor.test_sessions import SESSIONS
from tests.integration.frontdoor.test_sessions import funded_launch
from tests.unit.ledger.support import builders

WEBHOOK_SECRET = "webhook-secret-for-the-life-cycle"
LIMITS = {"Authorization": f"Bearer {all_but_key('protection')}"}


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A platform endpoint that keeps every correctly signed settlement it is sent."""
    received: list[dict[str, Any]] = []

    async def take(request: web.Request) -> web.Response:
        body = await request.read()
        stamp = request.headers["X-Livebridge-Timestamp"]
        if not verify_signature(WEBHOOK_SECRET, stamp, body, request.headers[SIGNATURE]):
            return web.Response(status=401)
        received.append(json.loads(body))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/settle", take)
    async with TestServer(app) as server:
        yield str(server.make_url("/settle")), received


@pytest.fixture
def bridge_settings(
    bridge_settings: Settings,
    webhook: tuple[str, list[dict[str, Any]]],
    stream_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    """The front door's bridge, settling evo's rounds itself, with its own settle stream
    and a webhook."""
    monkeypatch.setenv("LEDGER_BRIDGE_SETTLED_PROVIDERS", "evo")
    monkeypatch.setenv("LIVEBRIDGE_SETTLE_STREAM", f"{stream_prefix}_SETTLE")
    monkeypatch.setenv("LIVEBRIDGE_SETTLE_SUBJECT", f"{stream_prefix}.settle")
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)
    with bridge_settings.config_path.open("a") as config:
        config.write(
            f'\n[[webhooks]]\nname = "platform"\nurl = "{webhook[0]}"\n'
            'secret_env = "TEST_WEBHOOK_SECRET"\nbackoff_base = 0.1\n'
        )
    return bridge_settings


async def next_push(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The next message that is not a server.time tick, within 10 s."""
    async with asyncio.timeout(10):
        while True:
            message: dict[str, Any] = await ws.receive_json()
            if message["type"] != "server.time":
                return message


def opened(round_id: str) -> BettingOpened:
    return builders.opened(round_id, at=datetime.now(UTC), closes_in=15)


def closed(round_id: str) -> BettingClosed:
    return builders.closed(round_id, at=datetime.now(UTC))


def result(round_id: str, number: int) -> ResultDeclared:
    return builders.declared({"number": str(number)}, round_id, at=datetime.now(UTC))


async def test_the_whole_life_cycle_of_a_session_with_a_reconnect_mid_round(
    bridge: Bridge, webhook: tuple[str, list[dict[str, Any]]], stream_prefix: str
) -> None:
    # 1. The platform funds the player and launches the game: sessionId, socket, stream.
    session = await funded_launch(bridge, "lena")
    sid, token = session["sessionId"], session["playerToken"]
    assert session["streamUrl"] == "wss://video.test/t1"
    socket = URL(session["betSocketUrl"]).path

    # 2. The front opens the bet socket; the table opens a round, which is pushed.
    async with bridge.client.ws_connect(f"{socket}?token={token}") as ws:
        limits = await next_push(ws)  # first, the limits in force for the session
        assert limits["type"] == "limits.update" and limits["limits"]["profile"] == "DEFAULT"
        assert (limits["provider"], limits["table"], limits["currency"]) == ("evo", "T1", "EUR")
        await record(bridge, opened("R-life-1"))
        opening = await next_push(ws)
        assert opening["type"] == "betting.opened" and opening["roundId"] == "R-life-1"
        assert opening["table"] == "T1" and opening["closesAt"] > opening["serverTime"]
        position = opening["logPosition"]
        assert position > 0

        # 3-4. The player bets: the stake is held.
        await ws.send_json(bet(sid, "R-life-1", "life-1"))
        accepted = await next_push(ws)
        assert accepted["type"] == "bet.accepted", accepted
        assert accepted["balanceHold"] == "-5.00"
        assert await available(bridge, "lena") == Decimal("95.00")
    # The player's connection drops mid-round.

    # 5-6. Betting closes, the ball lands on 17: the bridge settles the straight-up win.
    await record(bridge, closed("R-life-1"))
    await record(bridge, result("R-life-1", 17))

    # 8. The player reconnects with its last position: it keeps the bet and is sent the
    # close and the settlement it missed, read from the log.
    async with bridge.client.ws_connect(f"{socket}?token={token}&position={position}") as ws:
        assert (await next_push(ws))["type"] == "limits.update"
        closing = await next_push(ws)
        assert closing["type"] == "betting.closed" and closing["roundId"] == "R-life-1"
        assert closing["logPosition"] > position
        settled = await next_push(ws)
        assert settled["type"] == "round.settled", settled
        settle = settled["settle"]
        assert (settle["roundId"], settle["player"], settle["balanceAfter"]) == (
            "R-life-1",
            "lena",
            "275.00",
        )
        assert [(b["betId"], b["outcome"], b["payout"]) for b in settle["bets"]] == [
            (accepted["betId"], "WIN", "180.00")
        ]
        assert settle["result"] == {"number": "17"}

        # A second round, live this time: closed and settled pushes while connected.
        await record(bridge, opened("R-life-2"))
        assert (await next_push(ws))["type"] == "betting.opened"
        await ws.send_json(bet(sid, "R-life-2", "life-2", amount="10.00"))
        assert (await next_push(ws))["type"] == "bet.accepted"
        await record(bridge, closed("R-life-2"))
        assert (await next_push(ws))["type"] == "betting.closed"
        await record(bridge, result("R-life-2", 3))
        lost = await next_push(ws)
        assert lost["type"] == "round.settled"
        assert lost["settle"]["balanceAfter"] == "265.00"
        assert lost["settle"]["bets"][0]["outcome"] == "LOSE"

        # 7. The platform has round.settle on its stream and its webhook.
        nc = await nats.connect(bridge.app[NATS_URL].split(","))
        try:
            js = nc.jetstream()
            last = await js.get_last_msg(f"{stream_prefix}_SETTLE", f"{stream_prefix}.settle.>")
            assert json.loads(last.data or b"")["balanceAfter"] == "265.00"
        finally:
            await nc.close()
        for _ in range(100):
            if len(webhook[1]) >= 2:
                break
            await asyncio.sleep(0.1)
        assert [(w["roundId"], w["balanceAfter"]) for w in webhook[1]] == [
            ("R-life-1", "275.00"),
            ("R-life-2", "265.00"),
        ]

        # 8. The operator ends the session: the socket hears session.close at once and ends.
        response = await bridge.client.post(f"/platform/v1/sessions/{sid}/close", headers=SESSIONS)
        assert response.status == 200
        closing = await next_push(ws)
        assert (closing["type"], closing["sessionId"], closing["reason"]) == (
            "session.close",
            sid,
            "OPERATOR",
        )
        message = await asyncio.wait_for(ws.receive(), 10)
        assert message.type is aiohttp.WSMsgType.CLOSE
    await record(bridge, opened("R-life-3"))
    status, refused = await place(bridge, token, bet(sid, "R-life-3", "life-3"))
    assert (status, refused["error"]) == (409, "LBRG-409 SESSION_CLOSED"), refused
    assert await available(bridge, "lena") == Decimal("265.00")


async def test_the_socket_pushes_a_limits_update_and_a_provider_going_down(
    bridge: Bridge,
) -> None:
    session = await funded_launch(bridge, "lio")
    socket = URL(session["betSocketUrl"]).path
    async with bridge.client.ws_connect(f"{socket}?token={session['playerToken']}") as ws:
        initial = await next_push(ws)
        assert initial["type"] == "limits.update" and initial["logPosition"] == 0, initial
        assert initial["limits"]["maxBet"] is None, "no limits are set yet"
        update = {
            "type": "limits.update",
            "provider": "evo",
            "currency": "EUR",
            "effectiveAt": "2026-12-03T12:00:00Z",
            "limits": {"profile": "DEFAULT", "maxBet": "20.00"},
        }
        response = await bridge.client.post("/platform/v1/limits", json=update, headers=LIMITS)
        assert response.status == 200, await response.text()
        pushed = await next_push(ws)
        assert pushed["type"] == "limits.update" and pushed["limits"]["maxBet"] == "20.00"
        assert pushed["logPosition"] > 0

        response = await bridge.client.put(
            "/platform/v1/providers/evo/status",
            json={"up": False, "reason": "studio offline"},
            headers=Bridge.auth("admin"),
        )
        assert response.status == 200
        error = await next_push(ws)
        assert (error["type"], error["code"], error["message"]) == (
            "provider.error",
            "LBRG-503 PROVIDER_DOWN",
            "studio offline",
        )
        assert not ws.closed


async def test_a_player_who_reconnects_gets_the_limits_it_missed_while_away(
    bridge: Bridge,
) -> None:
    session = await funded_launch(bridge, "lou")
    url = f"{URL(session['betSocketUrl']).path}?token={session['playerToken']}"
    async with bridge.client.ws_connect(url) as ws:
        before = await next_push(ws)
        assert before["type"] == "limits.update" and before["limits"]["maxBet"] is None
    # While the player is away, the operator sets the table's VIP_A and DEFAULT limits.
    for profile, max_bet in (("VIP_A", "900.00"), ("DEFAULT", "15.00")):
        update = {
            "type": "limits.update",
            "provider": "evo",
            "table": "T1",
            "effectiveAt": "2026-12-03T12:00:00Z",
            "limits": {"profile": profile, "maxBet": max_bet},
        }
        response = await bridge.client.post("/platform/v1/limits", json=update, headers=LIMITS)
        assert response.status == 200, await response.text()
        stored = await response.json()
    async with bridge.client.ws_connect(f"{url}&position=0") as ws:
        after = await next_push(ws)
        assert after["type"] == "limits.update", after
        assert (after["limits"]["profile"], after["limits"]["maxBet"]) == ("DEFAULT", "15.00")
        assert after["logPosition"] == stored["logPosition"]
        assert (after["provider"], after["table"], after["currency"]) == ("evo", "T1", "EUR")
