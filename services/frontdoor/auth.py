"""The front door's guard: every `/platform/`, `/disputes/`, `/ops/` and `/qos/` call is
authenticated first.

`guard` is an aiohttp middleware. For a path under a protected prefix it:

1. finds the route's `Operation` in the route table (`routes.RouteTable`); a route that
   has none is refused (`LBRG-403 ROUTE_NOT_DOCUMENTED`): nothing is served undocumented;
2. authenticates the caller as the operation says: an operator API key
   (`Authorization: Bearer <secret>`), compared in constant time against every live key
   (the SHA-256 of the presented secret against each key's, with no early exit), then
   the scope; or a player token (`players.PlayerTokens`); or, where the operation takes
   either, an operator key if the token is one, else a player token; public routes pass;
3. runs the handler, turning `ApiError` into its `LBRG` answer and anything unforeseen
   into `LBRG-500 INTERNAL` (logged), never a traceback.

Unknown paths under the prefixes answer `LBRG-404 NOT_FOUND` after authentication, so
the route map is not revealed to callers without a key.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence

import nats
from aiohttp import web
from aiohttp.typedefs import Middleware

from contracts.api import Operation
from contracts.api import Scope
from services.frontdoor.config import OperatorKey
from services.frontdoor.config import key_digest
from services.frontdoor.http import ApiError
from services.frontdoor.routes import RouteTable

log = logging.getLogger(__name__)

PROTECTED = ("/platform/", "/disputes/", "/ops/", "/qos/")
TOKEN_QUERY = "token"
"""The query parameter a bet socket's upgrade may carry its player token in."""
OPERATOR = web.RequestKey("operator_key", OperatorKey)
OPERATION = web.RequestKey("operation", Operation)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PlayerCheck = Callable[[web.Request, str], Awaitable[None]]
"""Verifies a player token for a request (raises `ApiError`), storing what it proves."""


class OperatorKeys:
    def __init__(self, keys: Sequence[OperatorKey]) -> None:
        self._keys = tuple(keys)

    def find(self, secret: str) -> OperatorKey | None:
        # aiohttp hands a header's bytes that are not UTF-8 over as surrogates: digest the
        # bytes as sent (no key matches them) instead of failing to encode them
        presented = key_digest(secret.encode(errors="surrogateescape"))
        found: OperatorKey | None = None
        for key in self._keys:
            if hmac.compare_digest(presented, key.digest):
                found = key
        return found


def bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            "MISSING_CREDENTIALS",
            "send `Authorization: Bearer <key>` (an operator API key, or a player token)",
        )
    return token.strip()


def player_token(request: web.Request) -> str:
    """The bearer token, or for a WebSocket upgrade (browsers cannot set its headers) the
    `token` query parameter."""
    upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
    if upgrade and "Authorization" not in request.headers and request.query.get(TOKEN_QUERY):
        return request.query[TOKEN_QUERY]
    return bearer(request)


def guard(table: RouteTable, keys: OperatorKeys, players: PlayerCheck | None = None) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(PROTECTED):
            return await handler(request)
        try:
            return await _guarded(request, handler, table, keys, players)
        except ApiError as error:
            return error.response()
        except web.HTTPException:
            raise
        except (TimeoutError, nats.errors.Error) as error:
            # The ledger's log away (nats-server restarting): transient, not a defect. A
            # write may have been taken: the retry, same idempotency key, gets its answer.
            log.warning("%s %s: the log did not answer (%r)", request.method, request.path, error)
            return ApiError("RETRY", "the ledger's log did not answer; retry").response()
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            return ApiError(
                "INTERNAL", "livebridge failed to answer; nothing was changed, report it"
            ).response()

    return middleware


async def _guarded(
    request: web.Request,
    handler: Handler,
    table: RouteTable,
    keys: OperatorKeys,
    players: PlayerCheck | None,
) -> web.StreamResponse:
    route = request.match_info.route
    found = request.match_info.http_exception is None
    operation = (
        table.find(request.method, route.resource.canonical) if found and route.resource else None
    )
    if operation is None or operation.auth == "operator":
        key = keys.find(bearer(request))
        if key is None:
            raise ApiError("INVALID_API_KEY", "this API key is not (or no longer) valid")
        request[OPERATOR] = key
    if not found:
        refused = request.match_info.http_exception
        if isinstance(refused, web.HTTPMethodNotAllowed):
            allowed = ", ".join(sorted(refused.allowed_methods))
            raise ApiError(
                "METHOD_NOT_ALLOWED",
                f"{request.method} is not served at {request.path}; allowed: {allowed}",
                headers={"Allow": allowed},
            )
        raise ApiError("NOT_FOUND", f"no route {request.path}")
    if operation is None:
        raise ApiError(
            "ROUTE_NOT_DOCUMENTED", f"{request.method} {request.path} has no documented operation"
        )
    request[OPERATION] = operation
    if operation.auth == "operator":
        assert operation.scope is not None
        _require(request[OPERATOR], operation.scope)
    elif operation.auth == "player" or (
        operation.auth == "player_or_operator" and not _operator(request, keys, operation)
    ):
        if players is None:
            raise ApiError("INVALID_TOKEN", "player tokens are not accepted by this process")
        await players(request, player_token(request))
    return await handler(request)


def _operator(request: web.Request, keys: OperatorKeys, operation: Operation) -> bool:
    """True when the bearer is an operator key with the operation's scope (stored)."""
    key = keys.find(bearer(request))
    if key is None:
        return False
    assert operation.scope is not None
    _require(key, operation.scope)
    request[OPERATOR] = key
    return True


def _require(key: OperatorKey, scope: Scope) -> None:
    if not key.allows(scope):
        raise ApiError(
            "SCOPE_REQUIRED",
            f"key {key.key_id!r} of operator {key.operator!r} lacks scope {scope.value!r}; "
            f"it has {', '.join(sorted(s.value for s in key.scopes))}",
        )
