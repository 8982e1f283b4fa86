"""Game launch and sessions (seed B step 1): the platform seats a player at a table.

`POST /platform/v1/sessions` checks the player, currency, provider and wallet, claims the
player's open platform session (or opens one), issues the provider token into the edge's
session store (so every dialect finds it), and a player JWT. A relaunch while the session
is open gives the same `sessionId`, and the same provider token while it lives. A table
the lobby hides from the player (its country, currency or KYC status) is refused like a
hidden one (`LBRG-409 TABLE_CLOSED`). A player the protection log blocks (self-excluded,
in a time-out, flagged high-risk) is refused (`LBRG-403 SELF_EXCLUDED`) before anything
is opened or issued.
`POST /platform/v1/sessions/{id}/close` revokes every provider token the session issued,
the ones a dialect rotated since (Evolution's `/check`) included. A close landing while a
relaunch or a player token refresh runs wins: that is answered `SESSION_CLOSED` (the
session is written by compare-and-set, `PlatformSessions.change`, never over a close).

The player's own routes (`/platform/v1/player/sessions/{id}` and `.../token`) are
authenticated by the player JWT and act on the token's own session only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from collections.abc import Callable
from datetime import UTC
from datetime import datetime

import msgspec
from aiohttp import web

from contracts import money
from contracts.api import Operation
from contracts.api import Param
from contracts.api import Scope
from contracts.catalog import TableStatus
from contracts.launch import KycStatus
from contracts.launch import Launch
from contracts.launch import Launched
from contracts.launch import PlayerToken
from contracts.launch import SessionState
from contracts.launch import SessionView
from contracts.launch import StreamUrls
from contracts.player import CloseReason
from contracts.player import SessionClose
from services.edge.config import ProvidersConfig
from services.edge.sessions import SessionEnded
from services.edge.sessions import SessionStore
from services.frontdoor.auth import OPERATOR
from services.frontdoor.cashier import in_ledger
from services.frontdoor.catalog import Catalog
from services.frontdoor.catalog import TableEntry
from services.frontdoor.catalog import barred
from services.frontdoor.http import ApiError
from services.frontdoor.http import json_response
from services.frontdoor.http import read_json
from services.frontdoor.players import PLAYER
from services.frontdoor.players import PlayerClaims
from services.frontdoor.players import PlayerTokens
from services.frontdoor.routes import RouteTable
from services.frontdoor.sessions import PlatformSession
from services.frontdoor.sessions import PlatformSessions
from services.frontdoor.sessions import new_session_id
from services.frontdoor.tables import TABLE_STATUSES
from services.frontdoor.throttle import SESSION_THROTTLE
from services.ledger.application import Ledger
from services.ledger.errors import LedgerRefused
from services.ledger.protection import Protection

PLATFORM_SESSIONS = web.AppKey("platform_sessions", PlatformSessions)
SOCKET_PATH = "/platform/v1/player/socket"
"""Where `services.frontdoor.socket` serves the bet socket."""


EndSessions = Callable[[str, str, CloseReason], Awaitable[int]]
"""Close every open session of (operator, player) for a reason; how many were open."""


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def setup_launch(
    app: web.Application,
    table: RouteTable,
    *,
    sessions: SessionStore,
    tokens: PlayerTokens,
    ledger: Callable[[], Ledger],
    providers: ProvidersConfig,
    idle_s: float,
    protection: Callable[[], Protection],
    catalog: Callable[[], Catalog] = Catalog,
) -> EndSessions:
    """Mount the launch and session routes; returns what closes a player's sessions."""

    def platform() -> PlatformSessions:
        return app[PLATFORM_SESSIONS]

    async def launch(request: web.Request) -> web.Response:
        body = await read_json(request, Launch)
        operator = request[OPERATOR].operator
        try:
            money.exponent(body.currency)
        except money.UnknownCurrency as exc:
            raise ApiError("UNKNOWN_CURRENCY", str(exc)) from None
        try:
            offered = providers.get(body.provider).currencies
        except KeyError:
            raise ApiError("UNKNOWN_PROVIDER", f"no provider {body.provider!r}") from None
        if body.currency not in offered:
            raise ApiError(
                "CURRENCY_NOT_OFFERED",
                f"provider {body.provider!r} offers {', '.join(offered)}, not {body.currency}",
            )
        listed = _seat(body, catalog())
        await _not_blocked(body.player)
        throttle = app.get(SESSION_THROTTLE)
        if (
            throttle is not None
            and throttle.throttled(body.provider)
            and not await _seated(operator, body)
            and (refused := throttle.admit(body.provider)) is not None
        ):
            raise ApiError("RETRY", refused)
        book = ledger()
        await in_ledger(lambda: book.balance(body.player, body.currency))
        store = platform()
        now = store.clock()
        fresh = PlatformSession(
            session_id=new_session_id(),
            operator=operator,
            player=body.player,
            currency=body.currency,
            country=body.country,
            kyc_status=body.kyc_status.value,
            language=body.language,
            table=body.table,
            opened_at=now,
            idle_until=now + idle_s,
        )
        session = await store.claim(fresh)
        relaunched = session.session_id != fresh.session_id
        live = None
        earlier = session.tokens.get(body.provider)
        if earlier:
            live = await sessions.get(body.provider, earlier)
            if live is not None and live.expired(now):
                live = None
        if live is None:
            try:
                live = await sessions.issue(
                    body.provider,
                    body.player,
                    body.currency,
                    ttl_s=idle_s,
                    game=body.game or body.table,
                    idle_s=idle_s,
                    platform_session=session.session_id,
                )
            except SessionEnded:
                raise ApiError(
                    "SESSION_CLOSED", f"session {session.session_id} closed during the launch"
                ) from None
        provider_token = live.token

        def launched(stored: PlatformSession) -> PlatformSession:
            return msgspec.structs.replace(
                stored,
                tokens={**stored.tokens, body.provider: provider_token},
                provider=body.provider,
                table=body.table or stored.table,
                country=body.country,
                kyc_status=body.kyc_status.value,
                language=body.language,
                idle_until=now + idle_s,
            )

        changed = await store.change(session.session_id, launched)
        if changed is None or changed.closed_at:
            # the close revoked the token issued under it (its family) too
            raise ApiError(
                "SESSION_CLOSED", f"session {session.session_id} closed during the launch"
            )
        session = changed
        player_token, player_expires = tokens.issue(body.player, session.session_id, operator)
        return json_response(
            Launched(
                session_id=session.session_id,
                provider=body.provider,
                provider_token=live.token,
                provider_idle_seconds=idle_s,
                player_token=player_token,
                player_token_expires_at=player_expires,
                server_time=_at(now),
                expires_at=_at(live.expires_at),
                relaunched=relaunched,
                bet_socket_url=catalog().bet_socket_url
                or str(
                    request.url.with_scheme("wss" if request.secure else "ws").with_path(
                        SOCKET_PATH
                    )
                ),
                stream_url=listed.stream.webrtc or listed.stream.hls if listed else "",
                stream=listed.stream if listed else StreamUrls(),
            )
        )

    async def _seated(operator: str, body: Launch) -> bool:
        """Whether the launch is a relaunch (a reconnect) at a provider where the player's
        open session already holds a token: no new session, so no throttle's business."""
        found = await platform().open_of(operator, body.player, body.currency)
        return found is not None and body.provider in found.tokens

    async def _not_blocked(player: str) -> None:
        """Refuse a player the protection log blocks now. The log is read to its end
        first: a change made through another bridge a moment ago counts."""
        guard = protection()
        await in_ledger(guard.catch_up)
        try:
            guard.check_may_play(player)
        except LedgerRefused as refused:
            raise ApiError(
                "SELF_EXCLUDED", f"{refused.message}: no game is launched for them"
            ) from None

    def _seat(body: Launch, listed: Catalog) -> TableEntry | None:
        """The catalogue's entry of the launched table; refuses a down provider, a hidden
        table (closed or maintenance ones may be watched), and one the lobby hides from
        this player (its country, currency or KYC status)."""
        statuses = app[TABLE_STATUSES]
        if not statuses.provider_up(body.provider):
            raise ApiError("PROVIDER_DOWN", f"provider {body.provider!r} is down; try later")
        entry = listed.find(body.provider, body.table)
        if entry is None:
            if listed.of(body.provider) and body.table:
                raise ApiError("TABLE_NOT_FOUND", f"no table {body.table!r} of {body.provider!r}")
            return None
        why = barred(entry, country=body.country, currency=body.currency, kyc=body.kyc_status)
        if why:
            raise ApiError(
                "TABLE_CLOSED",
                f"table {body.table!r} of {body.provider!r} is hidden from this player: {why} "
                "(the lobby does not list it for them)",
            )
        if listed.table(entry, statuses, datetime.now(UTC)).status is TableStatus.HIDDEN:
            raise ApiError("TABLE_CLOSED", f"table {body.table!r} is hidden")
        return entry

    async def end(session: PlatformSession, reason: CloseReason) -> PlatformSession:
        """Close `session`: every provider token it issued stops working (the ones a
        dialect rotated since too), its bet sockets get `session.close` (the push hub reads
        the closed entry) and close. The one way a session ends, whoever ends it."""
        store = platform()
        await asyncio.gather(
            sessions.end_platform_session(session.session_id),
            # the tokens the entry names, should one predate its family in the store
            *(sessions.revoke(provider, token) for provider, token in session.tokens.items()),
        )
        session = msgspec.structs.replace(
            session, closed_at=store.clock(), close_reason=reason.value
        )
        await store.put(session)
        await store.release(session)
        return session

    async def end_player(operator: str, player: str, reason: CloseReason) -> int:
        """Close every open session of `operator`'s `player` (one per currency a provider
        offers); how many were open."""
        store = platform()
        currencies = sorted({c for p in providers.providers for c in p.currencies})
        found = await asyncio.gather(*(store.open_of(operator, player, c) for c in currencies))
        open_ = [s for s in found if s is not None]
        await asyncio.gather(*(end(s, reason) for s in open_))
        return len(open_)

    async def close(request: web.Request) -> web.Response:
        store = platform()
        session = await store.get(request.match_info["session_id"])
        if session is None or session.operator != request[OPERATOR].operator:
            raise ApiError("SESSION_NOT_FOUND", "no such session of this operator")
        if not session.closed_at:
            session = await end(session, CloseReason.OPERATOR)
        return json_response(
            SessionClose(
                session_id=session.session_id,
                reason=CloseReason(session.close_reason or CloseReason.OPERATOR.value),
                closed_at=_at(session.closed_at),
            )
        )

    async def own_session(request: web.Request) -> tuple[PlayerClaims, PlatformSession]:
        claims = request[PLAYER]
        session_id = request.match_info["session_id"]
        if session_id != claims.session_id:
            raise ApiError("NOT_YOUR_SESSION", "this token acts on its own session only")
        session = await platform().get(session_id)
        if session is None or session.player != claims.player:
            raise ApiError("NOT_YOUR_SESSION", "this token acts on its own session only")
        return claims, session

    async def view(request: web.Request) -> web.Response:
        _, session = await own_session(request)
        store = platform()
        return json_response(
            SessionView(
                session_id=session.session_id,
                player=session.player,
                currency=session.currency,
                country=session.country,
                kyc_status=KycStatus(session.kyc_status),
                language=session.language,
                state=SessionState.OPEN if session.open(store.clock()) else SessionState.CLOSED,
                providers=tuple(sorted(session.tokens)),
                table=session.table,
                opened_at=_at(session.opened_at),
                server_time=_at(store.clock()),
            )
        )

    async def refresh(request: web.Request) -> web.Response:
        claims, session = await own_session(request)
        store = platform()
        now = store.clock()
        if not session.open(now):
            raise ApiError("SESSION_CLOSED", f"session {session.session_id} is over; relaunch")
        refreshed = await store.change(
            session.session_id,
            lambda stored: msgspec.structs.replace(stored, idle_until=now + idle_s),
        )
        if refreshed is None or refreshed.closed_at:
            raise ApiError("SESSION_CLOSED", f"session {session.session_id} is over; relaunch")
        token, expires = tokens.issue(session.player, session.session_id, claims.operator)
        return json_response(
            PlayerToken(
                session_id=session.session_id,
                player_token=token,
                player_token_expires_at=expires,
                server_time=_at(now),
            )
        )

    table.add(app, LAUNCH, launch)
    table.add(app, CLOSE, close)
    table.add(app, VIEW, view)
    table.add(app, REFRESH, refresh)
    return end_player


_SESSION = Param("session_id", "path", "The platform session id (`ses_...`).")

LAUNCH = Operation(
    method="POST",
    path="/platform/v1/sessions",
    operation_id="launchGame",
    summary="Launch a game: the session, the provider token and a player token",
    auth="operator",
    scope=Scope.SESSIONS,
    request=Launch,
    response=Launched,
    errors=(
        "UNKNOWN_CURRENCY",
        "UNKNOWN_PROVIDER",
        "CURRENCY_NOT_OFFERED",
        "WALLET_NOT_FOUND",
        "TABLE_NOT_FOUND",
        "TABLE_CLOSED",
        "PROVIDER_DOWN",
        "SELF_EXCLUDED",
        "SESSION_CLOSED",
        "RETRY",
    ),
    tags=("sessions",),
)
CLOSE = Operation(
    method="POST",
    path="/platform/v1/sessions/{session_id}/close",
    operation_id="closeSession",
    summary="End a session: its provider tokens stop working (open bets still settle)",
    auth="operator",
    scope=Scope.SESSIONS,
    response=SessionClose,
    errors=("SESSION_NOT_FOUND",),
    params=(_SESSION,),
    tags=("sessions",),
)
VIEW = Operation(
    method="GET",
    path="/platform/v1/player/sessions/{session_id}",
    operation_id="playerSession",
    summary="The player's own session",
    auth="player",
    response=SessionView,
    params=(_SESSION,),
    tags=("player",),
)
REFRESH = Operation(
    method="POST",
    path="/platform/v1/player/sessions/{session_id}/token",
    operation_id="refreshPlayerToken",
    summary="A fresh player token for the same session (before the current one expires)",
    auth="player",
    response=PlayerToken,
    errors=("SESSION_CLOSED",),
    params=(_SESSION,),
    tags=("player",),
)
