"""The player's bet socket (seed B steps 2-3): `GET /platform/v1/player/socket`.

A WebSocket authenticated by the player token (the `Authorization` header, or `?token=`
since browsers cannot set a socket's headers). The server pushes `server.time` every
second; the player sends `bet.place` messages and gets `bet.accepted` or `bet.rejected`
for each, in order, exactly as over REST (same bet taker, same idempotency).

Bad input never closes the socket: a message that is not JSON, not a `bet.place`, or for
another session answers `bet.rejected` with its code, and nothing is held. Each socket
has a rate limit (`RATE` messages a second, bursts of `BURST`): a message over it is
answered `LBRG-429 RATE_LIMITED`; a socket that keeps flooding (`FLOOD` refused messages
in a row) is closed with code 1008 and the reason. A closed session ends the socket with
`session.close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from contracts.api import Operation, error_text
from contracts.player import BetPlace, BetRejected, CloseReason, ServerTime, SessionClose
from services.frontdoor.bets import TakeBet, rejected
from services.frontdoor.http import ApiError
from services.frontdoor.launch import SOCKET_PATH
from services.frontdoor.players import PLAYER
from services.frontdoor.routes import RouteTable

RATE = 10.0
BURST = 20.0
FLOOD = 50
TICK_S = 1.0
MAX_MESSAGE = 16 * 1024

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(BetPlace)


class _Bucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def _refusal(code: str, message: str) -> BetRejected:
    return BetRejected(
        idempotency_key="", code=error_text(code), message=message, server_time=datetime.now(UTC)
    )


def setup_socket(app: web.Application, table: RouteTable, *, take: TakeBet) -> None:
    async def socket(request: web.Request) -> web.StreamResponse:
        claims = request[PLAYER]
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_MESSAGE)
        if not ws.can_prepare(request).ok:
            raise ApiError("INVALID_REQUEST", "this route only upgrades to a WebSocket")
        await ws.prepare(request)
        lock = asyncio.Lock()

        async def send(message: object) -> None:
            async with lock:
                if not ws.closed:
                    await ws.send_str(_encoder.encode(message).decode())

        async def tick() -> None:
            while not ws.closed:
                await send(ServerTime(server_time=datetime.now(UTC)))
                await asyncio.sleep(TICK_S)

        ticker = asyncio.create_task(tick())
        bucket, refused_in_a_row = _Bucket(RATE, BURST), 0
        try:
            async for message in ws:
                if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                if not bucket.take():
                    refused_in_a_row += 1
                    if refused_in_a_row >= FLOOD:
                        await ws.close(
                            code=WSCloseCode.POLICY_VIOLATION,
                            message=b"rate limit: too many messages in a row",
                        )
                        break
                    await send(_refusal("RATE_LIMITED", f"at most {RATE:.0f} messages a second"))
                    continue
                refused_in_a_row = 0
                data = message.data if isinstance(message.data, bytes) else message.data.encode()
                try:
                    body = _decoder.decode(data)
                except msgspec.ValidationError as exc:
                    await send(_refusal("INVALID_REQUEST", f"not a bet.place message: {exc}"))
                    continue
                except msgspec.DecodeError:
                    await send(_refusal("MALFORMED_JSON", "the message is not a JSON document"))
                    continue
                except RecursionError:
                    await send(_refusal("MALFORMED_JSON", "the message is nested too deeply"))
                    continue
                try:
                    await send(await take(claims, body))
                except ApiError as error:
                    await send(rejected(body, error.code, error.message))
                    if error.code == "SESSION_CLOSED":
                        await send(
                            SessionClose(
                                session_id=body.session_id,
                                reason=CloseReason.OPERATOR,
                                closed_at=datetime.now(UTC),
                            )
                        )
                        await ws.close(code=WSCloseCode.OK, message=b"session closed")
                        break
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        return ws

    table.add(app, SOCKET, socket)


SOCKET = Operation(
    method="GET",
    path=SOCKET_PATH,
    operation_id="betSocket",
    summary="The bet socket (WebSocket): server.time pushes, bet.place in, bet.accepted or "
    "bet.rejected out",
    description=(
        "Upgrade to a WebSocket with the player token (header, or `?token=`). Messages are "
        "the JSON of `contracts/player.py` (schemas at /contracts/{name}.json)."
    ),
    auth="player",
    status=101,
    errors=("INVALID_REQUEST",),
    tags=("player",),
)
