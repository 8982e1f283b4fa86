"""The bet socket over a real WebSocket: server.time ticks, bet.place in, bet.accepted or
bet.rejected out, bad messages answered without closing, floods refused then closed."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

import aiohttp
import jwt
import pytest
from yarl import URL

from services.bridge.main import LEDGER
from services.frontdoor.launch import PLATFORM_SESSIONS
from services.frontdoor.socket import MAX_MESSAGE
from services.frontdoor.socket import MAX_SOCKETS
from services.frontdoor.socket import SOCKET
from tests.integration.frontdoor.conftest import Bridge
from tests.integration.frontdoor.test_bets import available
from tests.integration.frontdoor.test_bets import bet
from tests.integration.frontdoor.test_bets import opened
from tests.integration.frontdoor.test_bets import record
from tests.integration.frontdoor.test_lifecycle import next_push
from tests.integration.frontdoor.test_sessions import SESSIONS
from tests.integration.frontdoor.test_sessions import evo_session
from tests.integration.frontdoor.test_sessions import funded_launch


async def next_answer(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The next answer to a message: not a server.time tick, a round's push nor limits."""
    while True:
        message: dict[str, Any] = await asyncio.wait_for(ws.receive_json(), 10)
        if message["type"] not in (
            "server.time",
            "betting.opened",
            "betting.closed",
            "limits.update",
        ):
            return message


async def test_a_player_bets_over_the_socket_once_per_key_and_bad_messages_keep_it_open(
    bridge: Bridge,
) -> None:
    session = await funded_launch(bridge, "sam")
    sid, token = session["sessionId"], session["playerToken"]
    await record(bridge, opened("R-ws"))
    refused = await bridge.client.get("/platform/v1/player/socket")
    assert refused.status == 401
    url = URL(session["betSocketUrl"])
    assert url.scheme == "ws" and url.path == "/platform/v1/player/socket"
    async with bridge.client.ws_connect(f"{url.path}?token={token}") as ws:
        limits = await asyncio.wait_for(ws.receive_json(), 10)
        assert limits["type"] == "limits.update", "the limits in force come first"
        tick = await asyncio.wait_for(ws.receive_json(), 10)
        assert tick["type"] == "server.time" and tick["serverTime"]
        await ws.send_json(bet(sid, "R-ws", "ws-1"))
        accepted = await next_answer(ws)
        assert accepted["type"] == "bet.accepted" and accepted["balanceHold"] == "-5.00"
        await ws.send_json(bet(sid, "R-ws", "ws-1"))  # a double click
        again = await next_answer(ws)
        assert again["betId"] == accepted["betId"]
        await ws.send_str("{not json")
        assert (await next_answer(ws))["code"] == "LBRG-400 MALFORMED_JSON"
        # cut short after a wrong type, which msgspec meets first: not JSON all the same
        await ws.send_str('{"type": "bet.place", "idempotencyKey": 7')
        assert (await next_answer(ws))["code"] == "LBRG-400 MALFORMED_JSON"
        await ws.send_json({"type": "bet.teleport"})
        assert (await next_answer(ws))["code"] == "LBRG-400 INVALID_REQUEST"
        await ws.send_json(bet("ses_someone_else", "R-ws", "ws-2"))
        assert (await next_answer(ws))["code"] == "LBRG-403 NOT_YOUR_SESSION"
        await ws.send_json(bet(sid, "R-ws", "ws-3", amount="99.00"))  # T1 takes up to 100
        assert (await next_answer(ws))["code"] == "LBRG-422 INSUFFICIENT_FUNDS"
        assert not ws.closed
    assert await available(bridge, "sam") == Decimal("95.00")


async def test_a_stake_part_that_is_not_a_number_is_rejected_and_the_socket_stays_open(
    bridge: Bridge,
) -> None:
    sid, token = await evo_session(bridge, "tess")
    await record(bridge, opened("R-ws-nan"))
    async with bridge.client.ws_connect(f"/platform/v1/player/socket?token={token}") as ws:
        for n, part in enumerate(("sNaN", "Infinity", "-5.00")):
            picks = [{"market": "roulette_red", "amount": part}]
            await ws.send_json(bet(sid, "R-ws-nan", f"nan-{n}", selection=picks))
            refused = await next_answer(ws)
            assert refused["type"] == "bet.rejected", refused
            assert refused["code"] == "LBRG-422 INVALID_STAKE", refused
        await ws.send_json(bet(sid, "R-ws-nan", "nan-ok"))
        assert (await next_answer(ws))["type"] == "bet.accepted", "the socket is still open"
    assert await available(bridge, "tess") == Decimal("95.00")


async def test_a_flooded_socket_is_refused_then_closed_with_a_reason(bridge: Bridge) -> None:
    session = await funded_launch(bridge, "tom")
    headers = {"Authorization": f"Bearer {session['playerToken']}"}
    async with bridge.client.ws_connect("/platform/v1/player/socket", headers=headers) as ws:
        for _ in range(200):
            await ws.send_str("{}")
        codes: list[str] = []
        while True:
            message = await asyncio.wait_for(ws.receive(), 10)
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
            body = message.json()
            if body["type"] == "bet.rejected":
                codes.append(body["code"])
        assert "LBRG-429 RATE_LIMITED" in codes
        assert ws.close_code == 1008
    assert await available(bridge, "tom") == Decimal("100.00")


PLAYER_SECRET = "player-token-secret-0123456789abcdefghij"
"""The bridge's player token secret (`TEST_PLAYER_TOKEN_SECRET` in the conftest)."""

UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}
"""A WebSocket handshake's headers, sent by hand so a refused one's body can be read."""


async def test_a_resume_position_past_the_end_of_the_log_is_refused_at_connect(
    bridge: Bridge,
) -> None:
    # A socket reconnecting from a position the log never reached was taken as given: it
    # dropped every push at or below it and sat open saying nothing but the time.
    _, token = await evo_session(bridge, "pia")
    path = f"/platform/v1/player/socket?token={token}"
    async with bridge.client.ws_connect(path) as ws:
        await record(bridge, opened("R-end-1"))
        pushed = await next_push(ws)
        while pushed["type"] != "betting.opened":
            pushed = await next_push(ws)
    last = pushed["logPosition"]

    for query in (f"position={last + 10**6}", f"position={last}&settledPosition={10**17}"):
        refused = await bridge.client.get(f"{path}&{query}", headers=UPGRADE)
        body = await refused.json()
        assert refused.status == 400, body
        assert body["error"] == "LBRG-400 INVALID_POSITION", body
        assert "past the end of the log" in body["message"], body

    # The last position received is still a good one: what comes after it is pushed.
    async with bridge.client.ws_connect(f"{path}&position={last}") as ws:
        await record(bridge, opened("R-end-2"))
        pushed = await next_push(ws)
        while pushed["type"] != "betting.opened":
            pushed = await next_push(ws)
        assert pushed["roundId"] == "R-end-2" and pushed["logPosition"] > last


async def test_a_closed_session_refuses_a_socket_that_would_hear_its_table_forever(
    bridge: Bridge,
) -> None:
    # The player token outlives its session's close by minutes: a socket it opened then
    # was upgraded, and pushed the table's rounds to a session whose session.close had
    # already gone out, with nothing ever to end it.
    sid, token = await evo_session(bridge, "zoe")
    response = await bridge.client.post(f"/platform/v1/sessions/{sid}/close", headers=SESSIONS)
    assert response.status == 200

    refused = await bridge.client.get(f"/platform/v1/player/socket?token={token}", headers=UPGRADE)
    body = await refused.json()
    assert refused.status == 409, body
    assert body["error"] == "LBRG-409 SESSION_CLOSED", body
    assert sid in body["message"], body


async def test_a_socket_takes_no_bet_once_its_token_has_expired(bridge: Bridge) -> None:
    # The token was checked once, at connect: a socket kept open took bets for as long
    # as it lived, where REST answers the same token TOKEN_EXPIRED.
    sid, token = await evo_session(bridge, "ivy")
    await record(bridge, opened("R-expiry"))
    claims = jwt.decode(token, options={"verify_signature": False})
    expires = int(time.time()) + 2
    short = jwt.encode({**claims, "exp": expires}, PLAYER_SECRET, algorithm="HS256")
    async with bridge.client.ws_connect(f"/platform/v1/player/socket?token={short}") as ws:
        await ws.send_json(bet(sid, "R-expiry", "in-time"))
        assert (await next_answer(ws))["type"] == "bet.accepted"
        await asyncio.sleep(expires + 0.1 - time.time())
        await ws.send_json(bet(sid, "R-expiry", "too-late"))
        refused = await next_answer(ws)
        assert refused["type"] == "bet.rejected", refused
        assert refused["code"] == "LBRG-401 TOKEN_EXPIRED", refused
        closing = await asyncio.wait_for(ws.receive(), 10)
        assert closing.type is aiohttp.WSMsgType.CLOSE and ws.close_code == 1008
        assert "token expired" in str(closing.extra)
    assert await available(bridge, "ivy") == Decimal("95.00")


async def test_a_session_opens_at_most_max_sockets_at_once(bridge: Bridge) -> None:
    # Each socket has its own rate limit: one token opening sockets without end would
    # multiply it, and the pushes, timers and mailboxes that go with each.
    _, token = await evo_session(bridge, "una")
    path = f"/platform/v1/player/socket?token={token}"
    async with contextlib.AsyncExitStack() as stack:
        first = [
            await stack.enter_async_context(bridge.client.ws_connect(path))
            for _ in range(MAX_SOCKETS)
        ]
        refused = await bridge.client.get(path, headers=UPGRADE)
        body = await refused.json()
        assert refused.status == 429 and body["error"] == "LBRG-429 RATE_LIMITED", body
        await first[0].close()
        for _ in range(50):  # the server counts the close once its read loop ends
            try:
                again = await bridge.client.ws_connect(path)
            except aiohttp.WSServerHandshakeError as refusal:
                assert refusal.status == 429
                await asyncio.sleep(0.05)
                continue
            await again.close()
            break
        else:
            raise AssertionError("a socket closed left no room for another")


async def test_a_bet_the_ledger_fails_to_take_is_answered_and_the_socket_stays_open(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The socket answered only what the bet taker refused: a log that did not answer (or
    # any other failure) ended its read loop, and the player saw the socket close (1000,
    # no reason) with its bet unanswered, where REST answers LBRG-503 RETRY.
    sid, token = await evo_session(bridge, "kai")
    await record(bridge, opened("R-failing"))
    book = bridge.app[LEDGER]
    failures: list[Exception] = [TimeoutError("no answer from the log"), RuntimeError("a bug")]
    execute = book.execute

    def failing(command: Any) -> Any:
        if failures:
            raise failures.pop(0)
        return execute(command)

    monkeypatch.setattr(book, "execute", failing)
    async with bridge.client.ws_connect(f"/platform/v1/player/socket?token={token}") as ws:
        await ws.send_json(bet(sid, "R-failing", "flaky"))
        refused = await next_answer(ws)
        assert refused["code"] == "LBRG-503 RETRY" and refused["idempotencyKey"] == "flaky"
        await ws.send_json(bet(sid, "R-failing", "flaky"))
        failed = await next_answer(ws)
        assert failed["code"] == "LBRG-500 INTERNAL", failed
        await ws.send_json(bet(sid, "R-failing", "flaky"))
        assert (await next_answer(ws))["type"] == "bet.accepted", "the socket is still open"
    assert await available(bridge, "kai") == Decimal("95.00")


async def test_a_bet_in_a_session_gone_idle_hears_why_it_closed(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bet refused SESSION_CLOSED was followed by a session.close that always said
    # OPERATOR, closed now: a session that expired idle (or one player protection ended)
    # told the player the operator had closed it.
    sid, token = await evo_session(bridge, "lea")
    sessions = bridge.app[PLATFORM_SESSIONS]
    stored = await sessions.get(sid)
    assert stored is not None
    idle_until = stored.idle_until
    async with bridge.client.ws_connect(f"/platform/v1/player/socket?token={token}") as ws:
        monkeypatch.setattr(sessions, "clock", lambda: idle_until + 1)
        await ws.send_json(bet(sid, "R-idle", "late"))
        assert (await next_answer(ws))["code"] == "LBRG-409 SESSION_CLOSED"
        closed = await next_answer(ws)
        assert closed["type"] == "session.close" and closed["reason"] == "EXPIRED", closed
        closed_at = datetime.fromisoformat(closed["closedAt"]).timestamp()
        assert abs(closed_at - idle_until) < 0.001, "when it went idle, not when it was told"


async def test_connects_made_together_open_at_most_max_sockets(bridge: Bridge) -> None:
    # The count went up only once a connect had upgraded, after it had waited for the log
    # to say its end (a `position` to resume from): connects made together all passed the
    # check, and one token opened 20 sockets (20 rate limits) where 4 are allowed.
    _, token = await evo_session(bridge, "vic")
    path = f"/platform/v1/player/socket?token={token}&position=1"

    async def connect() -> aiohttp.ClientWebSocketResponse | int:
        try:
            return await bridge.client.ws_connect(path)
        except aiohttp.WSServerHandshakeError as refusal:
            return refusal.status

    outcomes = await asyncio.gather(*(connect() for _ in range(3 * MAX_SOCKETS)))
    opened = [ws for ws in outcomes if isinstance(ws, aiohttp.ClientWebSocketResponse)]
    for ws in opened:
        await ws.close()
    assert len(opened) == MAX_SOCKETS, f"{len(opened)} sockets open at once"
    assert sorted(o for o in outcomes if isinstance(o, int)) == [429] * (2 * MAX_SOCKETS)


async def test_a_message_over_the_bound_closes_the_socket_with_1009_as_documented(
    bridge: Bridge,
) -> None:
    # The socket's documents said bad input never closes it, and nothing of its bound: a
    # message over it was closed on (1009, no reason), a behaviour no document showed.
    _, token = await evo_session(bridge, "max")
    async with bridge.client.ws_connect(f"/platform/v1/player/socket?token={token}") as ws:
        await ws.send_str("x" * (MAX_MESSAGE + 1))
        while (closing := await asyncio.wait_for(ws.receive(), 10)).type is aiohttp.WSMsgType.TEXT:
            pass
        assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 1009, closing
    assert SOCKET.description is not None
    assert f"over {MAX_MESSAGE} bytes closes the socket (1009)" in SOCKET.description
