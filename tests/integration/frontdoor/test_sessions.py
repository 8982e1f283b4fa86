"""Game launch over real HTTP: one platform session, provider tokens every dialect takes,
short-lived player tokens acting on their own session only."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import jwt
import pytest
from aiohttp import ClientSession

from services.bridge.main import LEDGER
from services.frontdoor.throttle import SESSION_THROTTLE
from services.simulate.clients.base import HttpTransport
from services.simulate.clients.hub88 import Hub88Client
from services.simulate.clients.hub88 import load_private_key
from services.simulate.drivers.base import Placed
from services.simulate.drivers.base import Seat
from services.simulate.drivers.base import Wager
from services.simulate.drivers.base import WalletDriver
from services.simulate.drivers.by_dialect import driver_for
from tests.integration.frontdoor.conftest import DIALECT_SECRETS
from tests.integration.frontdoor.conftest import EZUGI_OPERATOR
from tests.integration.frontdoor.conftest import Bridge
from tests.unit.edge.support.wallet_gateway import HUB88_PRIVATE_PEM

SESSIONS = Bridge.auth("sessions")
CASHIER = Bridge.auth("cashier")
DIALECTS = ("hub88", "evolution", "pragmatic", "softswiss", "ezugi")
PROVIDER_OF = {"evolution": "evo"}


async def fund(bridge: Bridge, player: str, amount: str = "100.00") -> None:
    client = bridge.client
    await client.post(
        f"/platform/v1/players/{player}/wallets", json={"currency": "EUR"}, headers=CASHIER
    )
    response = await client.post(
        f"/platform/v1/players/{player}/deposits",
        json={"idempotencyKey": f"fund-{player}", "currency": "EUR", "amount": amount},
        headers=CASHIER,
    )
    assert response.status == 200, await response.text()


def launch_body(player: str, provider: str, **fields: Any) -> dict[str, Any]:
    return {
        "player": player,
        "currency": "EUR",
        "country": "MT",
        "kycStatus": "VERIFIED",
        "provider": provider,
        "table": "T1",
        "language": "en",
        **fields,
    }


async def launch(bridge: Bridge, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = await bridge.client.post("/platform/v1/sessions", json=body, headers=SESSIONS)
    return response.status, await response.json()


async def funded_launch(
    bridge: Bridge, player: str, provider: str = "evo", *, amount: str = "100.00", **fields: Any
) -> dict[str, Any]:
    """`player` funded with `amount` and launched at `provider`: the launch's answer."""
    await fund(bridge, player, amount)
    status, launched = await launch(bridge, launch_body(player, provider, **fields))
    assert status == 200, launched
    return launched


async def evo_session(bridge: Bridge, player: str, **fields: Any) -> tuple[str, str]:
    """`player` funded with 100.00 and launched at evo: the session id and player token."""
    session = await funded_launch(bridge, player, **fields)
    return session["sessionId"], session["playerToken"]


def driver(dialect: str, http: ClientSession, base: str) -> WalletDriver:
    return driver_for(
        dialect,
        HttpTransport(http, base),
        DIALECT_SECRETS.get(dialect, ""),
        hub88_key=load_private_key(HUB88_PRIVATE_PEM),
        ezugi_operator=EZUGI_OPERATOR,
    )


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_platform_launch_gives_a_token_the_dialect_bets_with(
    bridge: Bridge, dialect: str
) -> None:
    provider = PROVIDER_OF.get(dialect, dialect)
    player = f"pl-{dialect}"
    launched = await funded_launch(bridge, player, provider)
    assert launched["sessionId"].startswith("ses_") and launched["providerToken"]
    base = str(bridge.client.make_url(f"/wallet/{dialect}/{provider}"))
    play = driver(dialect, bridge.client.session, base)
    seat = Seat(player=player, currency="EUR", token=launched["providerToken"])
    placed = await play.bet(
        seat, f"R-{dialect}-1", Wager(bet_id=f"b-{dialect}", stake=Decimal("5.00")), duplicate=False
    )
    assert placed is Placed.TAKEN
    balance = await asyncio.to_thread(bridge.app[LEDGER].balance, player, "EUR")
    assert (balance.balance, balance.available) == (Decimal("100.00"), Decimal("95.00"))


async def test_a_relaunch_reuses_the_session_and_closing_it_stops_its_tokens(
    bridge: Bridge,
) -> None:
    await fund(bridge, "rita")
    status, first = await launch(bridge, launch_body("rita", "hub88"))
    assert status == 200 and first["relaunched"] is False
    assert first["playerTokenExpiresAt"] > first["serverTime"]
    _, again = await launch(bridge, launch_body("rita", "hub88", table="T2"))
    assert again["relaunched"] is True
    assert (again["sessionId"], again["providerToken"]) == (
        first["sessionId"],
        first["providerToken"],
    )
    _, other = await launch(bridge, launch_body("rita", "pragmatic", table="T3"))
    assert (
        other["sessionId"] == first["sessionId"]
        and other["providerToken"] != first["providerToken"]
    )

    player = {"Authorization": f"Bearer {again['playerToken']}"}
    view = await bridge.client.get(
        f"/platform/v1/player/sessions/{first['sessionId']}", headers=player
    )
    body = await view.json()
    assert (body["state"], body["table"], body["providers"]) == (
        "OPEN",
        "T3",
        ["hub88", "pragmatic"],
    )

    closed = await bridge.client.post(
        f"/platform/v1/sessions/{first['sessionId']}/close", headers=SESSIONS
    )
    assert closed.status == 200
    assert (await closed.json())["type"] == "session.close"
    hub88 = Hub88Client(
        HttpTransport(bridge.client.session, str(bridge.client.make_url("/wallet/hub88/hub88"))),
        load_private_key(HUB88_PRIVATE_PEM),
    )
    call = hub88.bet_call(
        user="rita",
        token=first["providerToken"],
        round_id="R-closed",
        tx="b-closed",
        amount=Decimal("1.00"),
        currency="EUR",
    )
    assert (await hub88.send(call))["status"] == "RS_ERROR_INVALID_TOKEN"
    balance = await asyncio.to_thread(bridge.app[LEDGER].balance, "rita", "EUR")
    assert balance.available == Decimal("100.00")
    refresh = await bridge.client.post(
        f"/platform/v1/player/sessions/{first['sessionId']}/token", headers=player
    )
    assert (await refresh.json())["error"] == "LBRG-409 SESSION_CLOSED"
    _, fresh = await launch(bridge, launch_body("rita", "hub88"))
    assert fresh["sessionId"] != first["sessionId"] and fresh["relaunched"] is False


async def test_player_tokens_are_short_lived_and_act_on_their_own_session_only(
    bridge: Bridge,
) -> None:
    await fund(bridge, "ann")
    await fund(bridge, "bob")
    _, ann = await launch(bridge, launch_body("ann", "hub88"))
    _, bob = await launch(bridge, launch_body("bob", "hub88"))
    claims = jwt.decode(ann["playerToken"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 600 and claims["sub"] == "ann"

    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    path = f"/platform/v1/player/sessions/{bob['sessionId']}"
    other = await bridge.client.get(path, headers=auth(ann["playerToken"]))
    assert other.status == 403 and (await other.json())["error"] == "LBRG-403 NOT_YOUR_SESSION"
    forged = jwt.encode(
        {**claims, "sid": bob["sessionId"]},
        "not-the-secret-0123456789abcdefghij",
        algorithm="HS256",
    )
    answer = await bridge.client.get(path, headers=auth(forged))
    assert (await answer.json())["error"] == "LBRG-401 INVALID_TOKEN"
    secret = "player-token-secret-0123456789abcdefghij"
    expired = jwt.encode(
        {**claims, "iat": int(time.time()) - 700, "exp": int(time.time()) - 100},
        secret,
        algorithm="HS256",
    )
    answer = await bridge.client.get(
        f"/platform/v1/player/sessions/{ann['sessionId']}", headers=auth(expired)
    )
    assert (await answer.json())["error"] == "LBRG-401 TOKEN_EXPIRED"
    answer = await bridge.client.get(path, headers=auth("not.a.jwt"))
    assert (await answer.json())["error"] == "LBRG-401 INVALID_TOKEN"
    as_operator = await bridge.client.get(path, headers=Bridge.auth("admin"))
    assert (await as_operator.json())["error"] == "LBRG-401 INVALID_TOKEN"

    refreshed = await bridge.client.post(
        f"/platform/v1/player/sessions/{ann['sessionId']}/token", headers=auth(ann["playerToken"])
    )
    assert refreshed.status == 200
    token = (await refreshed.json())["playerToken"]
    own = await bridge.client.get(
        f"/platform/v1/player/sessions/{ann['sessionId']}", headers=auth(token)
    )
    assert (await own.json())["player"] == "ann"


async def test_a_launch_with_bad_input_is_refused_and_opens_nothing(bridge: Bridge) -> None:
    await fund(bridge, "cy")
    cases = [
        (launch_body("cy", "nope"), "LBRG-422 UNKNOWN_PROVIDER"),
        (launch_body("cy", "hub88", currency="USD"), "LBRG-422 CURRENCY_NOT_OFFERED"),
        (launch_body("cy", "hub88", currency="XXX"), "LBRG-422 UNKNOWN_CURRENCY"),
        (launch_body("nobody", "hub88"), "LBRG-404 WALLET_NOT_FOUND"),
        (launch_body("cy", "hub88", country="Malta"), "LBRG-400 INVALID_REQUEST"),
        (launch_body("cy", "hub88", kycStatus="MAYBE"), "LBRG-400 INVALID_REQUEST"),
        (launch_body("c\u0000y", "hub88"), "LBRG-400 INVALID_REQUEST"),
        (launch_body("cy", "hub88", country="GB\n"), "LBRG-400 INVALID_REQUEST"),
    ]
    for body, error in cases:
        status, answer = await launch(bridge, body)
        assert answer["error"] == error, (body, answer)
        assert status == int(error[5:8])
    # Ids that name no session, the last long enough to make nats-server drop a client
    # asked for it as a key: each is told so, and the bridge answers on after them.
    for session_id in ("ses_0000", "ses_\u00e9", "ses_\u00b2", "ses_" + "a" * 5000):
        path = f"/platform/v1/sessions/{session_id}/close"
        unknown = await bridge.client.post(path, headers=SESSIONS)
        assert (await unknown.json())["error"] == "LBRG-404 SESSION_NOT_FOUND", session_id
    _, ok = await launch(bridge, launch_body("cy", "hub88"))
    assert ok["relaunched"] is False, "no refused launch opened a session"


async def test_a_throttled_provider_refuses_new_sessions_and_lets_a_seated_player_relaunch(
    bridge: Bridge,
) -> None:
    """The ops playbook throttles new sessions at a degraded provider (here: none); a
    player already seated there reconnecting (a relaunch of the open session) is no new
    session, and gets it back."""
    seated = await funded_launch(bridge, "sia")
    bridge.app[SESSION_THROTTLE].throttle("evo", 0, "feed silent for 30 s")
    await fund(bridge, "nia")
    status, refused = await launch(bridge, launch_body("nia", "evo"))
    assert (status, refused["error"]) == (503, "LBRG-503 RETRY"), refused
    status, again = await launch(bridge, launch_body("sia", "evo"))
    assert status == 200, again
    assert again["relaunched"] and again["sessionId"] == seated["sessionId"]
