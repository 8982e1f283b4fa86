"""The player's bet socket (seed B steps 2-3): `GET /platform/v1/player/socket`.

A WebSocket authenticated by the player token (the `Authorization` header, or `?token=`
since browsers cannot set a socket's headers). The server pushes `server.time` every
second; the player sends `bet.place` messages and gets `bet.accepted` or `bet.rejected`
for each, in order, exactly as over REST (same bet taker, same idempotency).

Bad input never closes the socket: a message that is not JSON, not a `bet.place`, or for
another session answers `bet.rejected` with its code, and nothing is held. Nor does a bet
the bridge fails to take: as over REST, a ledger's log that does not answer is `LBRG-503
RETRY` and any other failure `LBRG-500 INTERNAL` (logged); the same key sent again gets
the bet's answer. The one exception is size: a message over `MAX_MESSAGE` bytes is not
read, and the socket is closed with 1009 (message too big, aiohttp's close: no reason
text). Each socket has a rate limit (`RATE` messages a second, bursts of `BURST`): a
message over it is answered `LBRG-429 RATE_LIMITED`; a socket that keeps flooding (`FLOOD`
refused messages in a row) is closed with code 1008 and the reason. A session has at most
`MAX_SOCKETS` open at once on a bridge (room for a reconnect before the old socket's end
is noticed); another connect is `LBRG-429 RATE_LIMITED`, so no token multiplies its rate
limit by opening sockets. A closed session ends the socket with `session.close`, and
refuses a connect (`LBRG-409 SESSION_CLOSED`). A socket takes no bet past its token's
expiry: a `bet.place` then is answered `LBRG-401 TOKEN_EXPIRED` and the socket closed
(1008); the client reconnects with a fresh token and its last position.

A client that stops reading is closed with code 1013 (try again later) and the reason
`BEHIND`, and reconnects by its last position: when its mailbox overflows (pushes piling
up while the socket's sends wait for the client to read), or when it answers no ping
within `PONG_WITHIN_S` (one every `PING_EVERY_S`; what aiohttp's heartbeat did, which cut
the connection without a close frame: the client saw 1006 and no reason). Its mailbox is
emptied at once; the close frame goes after what was sent, and the socket is let go
`CLOSE_WITHIN_S` later whether the client read it or not (the bytes already written wait
in the connection's bounded buffers for a client that reads again).

On every connect (and reconnect) the first message is a `limits.update` with the limits
in force for the session's player at its provider, table and currency (its profile's
most specific stored update; its `logPosition`, 0 when none is set): a player who missed
a live `limits.update` while away is not left with stale limits. A live one is pushed the
same way, as the limits the player now bets under there, and only when it is the update in
force for the player's profile at the seat (`seat_update`).

Pushes come from the logs (`services.frontdoor.pushes`): `betting.opened` (with `closesAt`)
and `betting.closed` for the session's table, `round.settled` (the player's `round.settle`,
with `balanceAfter`) and `provider.error` when the provider goes down. Each carries its
`logPosition`; a client that reconnects with `?position=` (and `?settledPosition=`) is sent
what it missed after those, read again from the logs, then the live pushes, each once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from typing import Annotated
from typing import Any

import msgspec
import nats
from aiohttp import WSCloseCode
from aiohttp import WSMsgType
from aiohttp import web

from contracts import bodies
from contracts.api import Operation
from contracts.api import Param
from contracts.api import error_text
from contracts.player import BetPlace
from contracts.player import BetRejected
from contracts.player import BettingClose
from contracts.player import BettingOpen
from contracts.player import CloseReason
from contracts.player import LimitsUpdate
from contracts.player import ServerTime
from contracts.player import SessionClose
from contracts.player import Settlement
from services.edge.security import TokenBucket
from services.frontdoor.bets import TakeBet
from services.frontdoor.bets import rejected
from services.frontdoor.http import ApiError
from services.frontdoor.http import past_log_end
from services.frontdoor.launch import PLATFORM_SESSIONS
from services.frontdoor.launch import SOCKET_PATH
from services.frontdoor.players import PLAYER
from services.frontdoor.players import PlayerClaims
from services.frontdoor.pushes import PUSH_HUB
from services.frontdoor.pushes import Mailbox
from services.frontdoor.pushes import Push
from services.frontdoor.pushes import PushHub
from services.frontdoor.pushes import Seat
from services.frontdoor.pushes import session_close
from services.frontdoor.routes import RouteTable
from services.frontdoor.sessions import PlatformSession
from services.frontdoor.sessions import PlatformSessions
from services.ledger.protection import GuardState
from services.ledger.protection import Protection

log = logging.getLogger(__name__)

RATE = 10.0
BURST = 20.0
FLOOD = 50
TICK_S = 1.0
MAX_SOCKETS = 4
MAX_MESSAGE = 16 * 1024
PING_EVERY_S = 20.0
PONG_WITHIN_S = 10.0
CLOSE_WITHIN_S = 5.0
EXPIRED = "the player token has expired; reconnect with a fresh one from the platform"
LOG_AWAY = "the ledger's log did not answer; send the bet again with the same idempotencyKey"
FAILED = "livebridge failed to answer this bet; send it again with the same idempotencyKey"
BEHIND = b"too many pushes waiting: reconnect with your last position"
"""The reason a socket whose client stopped reading is closed with (code 1013)."""

_encoder = msgspec.json.Encoder()
_POSITION_TYPE = Annotated[int, msgspec.Meta(ge=0, le=10**18 - 1)]
_decoder = msgspec.json.Decoder(BetPlace)


def _refusal(code: str, message: str) -> BetRejected:
    return BetRejected(
        idempotency_key="", code=error_text(code), message=message, server_time=datetime.now(UTC)
    )


def _bet_place(data: str | bytes) -> BetPlace | BetRejected:
    """The message as a `bet.place`, or its refusal: `MALFORMED_JSON` for one that is not a
    JSON document, though msgspec met a wrong type in it first (it stops there, as REST's
    `read_json` knows), else `INVALID_REQUEST` naming what does not match."""
    try:
        return bodies.decode_with(_decoder, data)
    except msgspec.ValidationError as exc:
        mismatch = f"not a bet.place message: {exc}"
    except msgspec.DecodeError:
        mismatch = ""
    try:
        bodies.decode_any(data)
    except msgspec.DecodeError as exc:
        return _refusal("MALFORMED_JSON", f"the message is not a JSON document: {exc}")
    return _refusal("INVALID_REQUEST", mismatch or "not a bet.place message")


def _position(request: web.Request, name: str, default: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise ApiError("INVALID_POSITION", f"`{name}` must be a log position (ASCII digits)")
    return int(text)


async def _refuse_past_log_end(hub: PushHub, position: int, settled_position: int) -> None:
    """`INVALID_POSITION` for a resume position past the ledger log's last one.

    Every push's position is one the log has, so a later one was never sent: taken as
    given, it would drop every push until the log passed it (a socket that stays open
    and says nothing). A log that does not answer here is left to the replay, which
    closes the socket with the reason."""
    claimed = max(position, settled_position)
    if claimed <= 0:
        return
    end = await past_log_end(hub.log_end, claimed)
    if end is not None:
        name = "position" if position == claimed else "settledPosition"
        raise ApiError(
            "INVALID_POSITION",
            f"`{name}` {claimed} is past the end of the log (its last position is {end}): "
            "reconnect with the last logPosition received, or without one",
        )


def seat_limits(state: GuardState, session: PlatformSession, now: datetime) -> LimitsUpdate:
    """The limits in force for `session`'s player at its table (its profile's and the
    table's own), as a `limits.update` for its seat (`logPosition`: the stored update
    they come from, 0 for none)."""
    profile = state.profile_of(session.player)
    found = state.update_for(session.provider, session.table, session.currency, profile)
    return LimitsUpdate(
        provider=session.provider,
        table=session.table,
        currency=session.currency,
        limits=state.limits_for(session.provider, session.table, session.currency, profile),
        effective_at=found.effective_at if found is not None else now,
        log_position=found.log_position if found is not None else 0,
    )


def seat_update(
    state: GuardState, session: PlatformSession, update: LimitsUpdate, now: datetime
) -> LimitsUpdate | None:
    """What a stored `update` changes at `session`'s seat: the limits in force there now
    (`seat_limits`, with the table's own), or None when it is not the update in force for
    the player's profile at the seat (another profile's, or one a more specific overrides):
    pushed as stored, another profile's maxBet of 5000 would show where 5 is enforced."""
    profile = state.profile_of(session.player)
    found = state.update_for(session.provider, session.table, session.currency, profile)
    if found is None or found.log_position != update.log_position:
        return None
    return seat_limits(state, session, now)


def setup_socket(
    app: web.Application,
    table: RouteTable,
    *,
    take: TakeBet,
    protection: Callable[[], Protection] | None = None,
) -> None:
    open_sockets: Counter[str] = Counter()
    """Sockets open on this bridge, by session."""

    async def socket(request: web.Request) -> web.StreamResponse:
        claims = request[PLAYER]
        # Pings are ours (`_watch_pongs`): aiohttp's heartbeat closes without a close frame.
        ws = web.WebSocketResponse(autoping=False, max_msg_size=MAX_MESSAGE)
        if not ws.can_prepare(request).ok:
            raise ApiError("INVALID_REQUEST", "this route only upgrades to a WebSocket")
        position = _position(request, "position", -1)
        settled_position = _position(request, "settledPosition", position)
        sessions = app[PLATFORM_SESSIONS]
        session = await sessions.get(claims.session_id)
        if session is None or session.player != claims.player:
            raise ApiError("NOT_YOUR_SESSION", "this token acts on its own session only")
        if not session.open(sessions.clock()):  # its session.close was pushed already
            raise ApiError("SESSION_CLOSED", f"session {session.session_id} is over; relaunch")
        with _slot(open_sockets, session.session_id):
            hub = app[PUSH_HUB]
            await _refuse_past_log_end(hub, position, settled_position)
            seat = Seat(
                player=session.player,
                currency=session.currency,
                provider=session.provider,
                table=session.table,
                session_id=session.session_id,
            )
            await ws.prepare(request)
            lock = asyncio.Lock()

            async def send(message: object) -> None:
                async with lock:
                    if not ws.closed:
                        await ws.send_str(_encoder.encode(message).decode())

            async def as_seated(update: LimitsUpdate) -> LimitsUpdate | None:
                if protection is None:
                    return update
                guard = protection()
                if guard.state.position < update.log_position:  # published before read here
                    await asyncio.to_thread(guard.catch_up)
                return seat_update(guard.state, session, update, datetime.now(UTC))

            async def tick() -> None:
                while not ws.closed:
                    await asyncio.sleep(TICK_S)
                    await send(ServerTime(server_time=datetime.now(UTC)))

            mailbox = hub.join(seat)
            pongs = asyncio.Event()
            senders: list[asyncio.Task[None]] = []
            waiting: list[asyncio.Task[Any]] = []
            try:
                if protection is not None:  # first, so a player who missed an update is not stale
                    await send(seat_limits(protection().state, session, datetime.now(UTC)))
                # the clock before any push, so a front counts a round's close down from it
                await send(ServerTime(server_time=datetime.now(UTC)))
                pushes = _push(hub, mailbox, position, settled_position, send, ws, as_seated)
                senders.append(asyncio.create_task(pushes, name="socket-pushes"))
                senders.append(asyncio.create_task(tick(), name="socket-ticks"))
                senders.append(asyncio.create_task(_watch_pongs(ws, pongs, mailbox), name="pings"))
                taking = asyncio.create_task(
                    _take_bets(ws, claims, take, send, pongs, sessions), name="socket-bets"
                )
                behind = asyncio.create_task(mailbox.behind.wait())
                waiting += (taking, behind)
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if not taking.done():  # behind: nothing more is written to it but the close
                    # (a send may be stuck), and its reply is read by the close (a bet being
                    # taken is done, unanswered: the client's repeat of its key after the
                    # reconnect gets the answer)
                    await _cancel([*senders, taking])
                    await _close_behind(ws)
            finally:
                hub.leave(mailbox)
                await _cancel([*senders, *waiting])
            return ws

    table.add(app, SOCKET, socket)


@contextlib.contextmanager
def _slot(open_sockets: Counter[str], session_id: str) -> Iterator[None]:
    """One of the session's `MAX_SOCKETS` sockets on this bridge (`LBRG-429 RATE_LIMITED`
    when none is left), taken before the connect waits for anything, so connects made
    together each count the others, and given back however the connect or its socket ends."""
    if open_sockets[session_id] >= MAX_SOCKETS:
        raise ApiError(
            "RATE_LIMITED",
            f"session {session_id} has {MAX_SOCKETS} sockets open already; close one first",
        )
    open_sockets[session_id] += 1
    try:
        yield
    finally:
        open_sockets[session_id] -= 1
        if not open_sockets[session_id]:
            del open_sockets[session_id]


async def _cancel(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel every task, then wait for them all: one that had failed stops neither the
    others' cancelling nor the handler's clean-up. A write to a client gone is the client's
    affair; any other failure is logged."""
    for task in tasks:
        task.cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    for task, outcome in zip(tasks, outcomes, strict=True):
        if isinstance(outcome, Exception) and not isinstance(outcome, ConnectionResetError):
            log.error("bet socket task %s failed", task.get_name(), exc_info=outcome)


async def _close_behind(ws: web.WebSocketResponse) -> None:
    """Close the socket of a client that stopped reading: 1013 and `BEHIND`.

    The close frame is written after what the socket sent, and the client's reply awaited;
    a client that does not read within `CLOSE_WITHIN_S` is let go (aiohttp then closes the
    connection, which keeps the bytes already written for the client to read, the close
    frame among them)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(CLOSE_WITHIN_S):
            await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=BEHIND)


async def _watch_pongs(ws: web.WebSocketResponse, pongs: asyncio.Event, mailbox: Mailbox) -> None:
    """Ping every `PING_EVERY_S`: a client that answers none within `PONG_WITHIN_S` (or
    whose ping cannot be written that long) stopped reading, and is behind."""
    while not ws.closed:
        await asyncio.sleep(PING_EVERY_S)
        pongs.clear()
        try:
            async with asyncio.timeout(PONG_WITHIN_S):
                await ws.ping()
                await pongs.wait()
        except TimeoutError:
            mailbox.fall_behind()
            return
        except ConnectionResetError:  # closing already
            return


async def _take_bets(
    ws: web.WebSocketResponse,
    claims: PlayerClaims,
    take: TakeBet,
    send: Callable[[object], Awaitable[None]],
    pongs: asyncio.Event,
    sessions: PlatformSessions,
) -> None:
    """Answer each `bet.place` the socket sends, in order, until it closes (see the module
    docstring for the rate limit, bad input, an expired token and a closed session), and
    each ping; tell `pongs` of each pong."""
    bucket, refused_in_a_row = TokenBucket(RATE, BURST), 0
    async for message in ws:
        if message.type is WSMsgType.PING:
            await ws.pong(message.data)
            continue
        if message.type is WSMsgType.PONG:
            pongs.set()
            continue
        if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            continue
        if not bucket.take():
            refused_in_a_row += 1
            if refused_in_a_row >= FLOOD:
                await ws.close(
                    code=WSCloseCode.POLICY_VIOLATION,
                    message=b"rate limit: too many messages in a row",
                )
                return
            await send(_refusal("RATE_LIMITED", f"at most {RATE:.0f} messages a second"))
            continue
        refused_in_a_row = 0
        body = _bet_place(message.data)
        if isinstance(body, BetRejected):
            await send(body)
            continue
        if time.time() >= claims.expires_at:  # as REST would answer it by now
            await send(rejected(body, "TOKEN_EXPIRED", EXPIRED))
            await ws.close(
                code=WSCloseCode.POLICY_VIOLATION,
                message=b"player token expired: reconnect with a fresh one",
            )
            return
        try:
            answer = await take(claims, body)
        except ApiError as error:
            await send(rejected(body, error.code, error.message))
            if error.code == "SESSION_CLOSED":
                await send(await _session_close(sessions, body.session_id))
                await ws.close(code=WSCloseCode.OK, message=b"session closed")
                return
        except (TimeoutError, nats.errors.Error) as error:  # as REST answers it
            log.warning("a socket bet of %s: the log did not answer (%r)", claims.player, error)
            await send(rejected(body, "RETRY", LOG_AWAY))
        except Exception:
            log.exception("a socket bet of %s failed", claims.player)
            await send(rejected(body, "INTERNAL", FAILED))
        else:
            await send(answer)


async def _session_close(sessions: PlatformSessions, session_id: str) -> SessionClose:
    """Why and when the session of a bet refused SESSION_CLOSED ended (`session_close`)."""
    session = await sessions.get(session_id)
    if session is None:  # aged out of its bucket since the bet read it: it went idle
        now = datetime.now(UTC)
        return SessionClose(session_id=session_id, reason=CloseReason.EXPIRED, closed_at=now)
    return session_close(session)


async def _push(
    hub: PushHub,
    mailbox: Mailbox,
    position: int,
    settled_position: int,
    send: Callable[[object], Awaitable[None]],
    ws: web.WebSocketResponse,
    as_seated: Callable[[LimitsUpdate], Awaitable[LimitsUpdate | None]],
) -> None:
    """Send what the socket missed (when it said where it was), then what comes, each once.

    A failure here (a log that does not answer) closes the socket with the reason: the
    client reconnects with its last position and misses nothing."""
    try:
        told_round, told_settled = position, settled_position
        if position >= 0:
            for push in await hub.replay(mailbox.seat, position, settled_position):
                await send(push)
                told_round, told_settled = _told(push, told_round, told_settled)
        while not ws.closed:  # a mailbox behind is the socket's to close (`_close_behind`)
            push = await mailbox.queue.get()
            if isinstance(push, Settlement):
                if push.log_position <= told_settled:
                    continue  # sent by the replay already
            elif isinstance(push, BettingOpen | BettingClose) and push.log_position <= told_round:
                continue
            elif isinstance(push, LimitsUpdate):
                seated = await as_seated(push)
                if seated is None:
                    continue
                push = seated
            await send(push)
            if isinstance(push, SessionClose):
                await ws.close(code=WSCloseCode.OK, message=b"session closed")
                return
            told_round, told_settled = _told(push, told_round, told_settled)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("pushes to a socket of %s failed; closing it", mailbox.seat.player)
        await ws.close(
            code=WSCloseCode.INTERNAL_ERROR,
            message=b"pushes failed: reconnect with your last position",
        )


def _told(push: Push, told_round: int, told_settled: int) -> tuple[int, int]:
    if isinstance(push, Settlement):
        return told_round, max(told_settled, push.log_position)
    if isinstance(push, BettingOpen | BettingClose):
        return max(told_round, push.log_position), told_settled
    return told_round, told_settled


SOCKET = Operation(
    method="GET",
    path=SOCKET_PATH,
    operation_id="betSocket",
    summary="The bet socket (WebSocket): server.time pushes, bet.place in, bet.accepted or "
    "bet.rejected out",
    description=(
        "Upgrade to a WebSocket with the player token (header, or `?token=`). The first "
        "message is a `limits.update` with the limits in force for the session. Messages are "
        "the JSON of `contracts/player.py` (schemas at /contracts/{name}.json; the whole "
        "socket in /asyncapi.json). Pushes: `server.time`, `betting.opened`, `betting.closed`, "
        "`round.settled`, `provider.error`, `session.close`. Reconnect with `?position=<the "
        "last logPosition received>&settledPosition=<the last round.settled's>` to be sent "
        "what was missed, read again from the log. A `bet.place` past the token's expiry is "
        "answered `LBRG-401 TOKEN_EXPIRED` and the socket closed (1008): reconnect with a "
        "fresh token. A client that stops reading (its pushes piling up, or no pong within "
        f"{PONG_WITHIN_S:.0f} s of a ping) is closed (1013, `{BEHIND.decode()}`): reconnect "
        f"with the last position. A message over {MAX_MESSAGE} bytes closes the socket (1009)."
    ),
    auth="player",
    status=101,
    errors=("INVALID_REQUEST", "INVALID_POSITION", "SESSION_CLOSED", "RATE_LIMITED"),
    params=(
        Param(
            "position",
            "query",
            "The last `logPosition` received: what came after is sent first.",
            False,
            _POSITION_TYPE,
        ),
        Param(
            "settledPosition",
            "query",
            "The `logPosition` of the last `round.settled` received (default: `position`).",
            False,
            _POSITION_TYPE,
        ),
    ),
    tags=("player",),
)
