"""The platform API's description: who may call what, and every error it can answer.

Every HTTP route the platform (or a player's front) calls is described by one `Operation`:
method, path, who may call it (an operator key with a scope, a player token, or anyone),
its request and response types, and the error codes it can answer. The route table is the
source of the OpenAPI document (`/openapi.json`) and of the checks the front door runs
before a handler: a route under `/platform/` or `/disputes/` without an `Operation` is
refused, so nothing can be mounted unauthenticated or undocumented.

Errors are JSON `{"error": "LBRG-<status> <CODE>", "message": "..."}`. The code is stable
and machine-readable; the message says what was wrong, with the ids involved, and what to
do. `ERRORS` is the whole table (the README and the OpenAPI document show it).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Final
from typing import Literal

import msgspec


class Scope(enum.StrEnum):
    """What an operator API key may do. `admin` may do everything."""

    READ = "read"
    """Read balances, transaction histories, rounds and disputes."""
    CASHIER = "cashier"
    """Open wallets, deposit, withdraw, move money to and from a provider's table bank."""
    SESSIONS = "sessions"
    """Launch games for players and close their sessions."""
    LIMITS = "limits"
    """Set limit profiles and table limits."""
    PROTECTION = "protection"
    """Self-exclusion, time-outs, deposit/loss/stake limits, AML flags."""
    ADMIN = "admin"
    """Everything above."""


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    """What every refused call answers: a stable code and a human message."""

    error: str
    """`LBRG-<http status> <CODE>`, e.g. `LBRG-409 IDEMPOTENCY_CONFLICT`."""
    message: str
    """What was wrong, with the ids involved, and what to do about it."""


ERRORS: Final[Mapping[str, tuple[int, str]]] = {
    "MALFORMED_JSON": (400, "The body is not a JSON document."),
    "INVALID_REQUEST": (400, "The body or a parameter does not match the documented schema."),
    "INVALID_PLAYER": (400, "A player id is empty, too long or has characters ids may not have."),
    "INVALID_POSITION": (
        400,
        "A log position (`atLeast`, a socket's resume position) is not ASCII digits below "
        "2**63, or is past the end of the log.",
    ),
    "INVALID_ROUND": (400, "A round id is empty, too long or has characters ids may not have."),
    "INVALID_PROVIDER": (400, "`provider` is too long or has characters ids may not have."),
    "MISSING_CREDENTIALS": (401, "No `Authorization: Bearer ...` header."),
    "INVALID_API_KEY": (401, "The operator API key is unknown (or was revoked)."),
    "INVALID_TOKEN": (401, "The player token is forged, malformed or for another audience."),
    "TOKEN_EXPIRED": (401, "The player token has expired: refresh it through the platform."),
    "SCOPE_REQUIRED": (403, "The API key lacks the scope the route needs."),
    "SELF_EXCLUDED": (403, "The player is self-excluded, in a time-out or flagged high-risk."),
    "PROFILE_NOT_ALLOWED": (
        403,
        "No rule lets this player bet under that limit profile, or it has no limits in force.",
    ),
    "NOT_YOUR_SESSION": (403, "The player token belongs to another player or session."),
    "PROVIDER_NOT_IN_SESSION": (
        403,
        "A player's QoS sample names a provider its session did not launch.",
    ),
    "ROUTE_NOT_DOCUMENTED": (403, "The route has no description in the route table."),
    "NOT_FOUND": (404, "No route at this path."),
    "WALLET_NOT_FOUND": (404, "The player has no wallet (in that currency)."),
    "ROUND_NOT_FOUND": (404, "No such round (in the dispute view, or open for bets)."),
    "SESSION_NOT_FOUND": (404, "No such session."),
    "PROVIDER_NOT_FOUND": (404, "No provider with this id is configured."),
    "TABLE_NOT_FOUND": (404, "No such table of this provider in the catalogue."),
    "TICKET_NOT_FOUND": (404, "No dispute ticket with this id."),
    "AUDIT_ITEM_NOT_FOUND": (404, "No flagged item with this key in the audit queue."),
    "METHOD_NOT_ALLOWED": (405, "The path exists, not with this method."),
    "AMBIGUOUS_ROUND": (409, "Several providers use this round id; name one."),
    "IDEMPOTENCY_CONFLICT": (409, "The idempotency key was used before with another payload."),
    "BETTING_CLOSED": (409, "The round's betting window closed before the bet (by log order)."),
    "SESSION_CLOSED": (409, "The session was closed; launch a new one."),
    "TABLE_CLOSED": (409, "The table takes no bets now (closed, under maintenance or hidden)."),
    "TICKET_RESOLVED": (409, "The dispute ticket was resolved; it takes no more steps."),
    "AUDIT_ITEM_RESOLVED": (409, "The audit item was resolved; it takes no more steps."),
    "BODY_TOO_LARGE": (413, "The body is larger than the route accepts."),
    "INVALID_AMOUNT": (422, "An amount is not a positive decimal in its currency's precision."),
    "UNKNOWN_CURRENCY": (422, "The currency is not one livebridge knows."),
    "UNKNOWN_PROVIDER": (422, "No provider with this id is configured."),
    "CURRENCY_NOT_OFFERED": (422, "The provider does not offer this currency."),
    "INSUFFICIENT_FUNDS": (422, "The wallet's available balance is below the amount."),
    "INVALID_STAKE": (422, "The stake is not money in the session's currency, or a pick is wrong."),
    "LIMIT_EXCEEDED": (429, "The bet is over a limit of the player's profile or protection."),
    "RATE_LIMITED": (429, "Too many messages (on a socket) or requests; slow down."),
    "INTERNAL": (500, "A fault inside livebridge; nothing was changed. Report it."),
    "VIEW_BEHIND": (503, "The view has not reached the requested log position yet; retry."),
    "PROVIDER_DOWN": (503, "The provider is down: its tables are hidden until it recovers."),
    "RETRY": (503, "A transient condition (contention, a dependency restarting); retry."),
    "VIEWS_UNAVAILABLE": (503, "The views' database does not answer; retry in a few seconds."),
}  # fmt: skip
"""Every LBRG code: its HTTP status and what it means."""


def error_text(code: str) -> str:
    """`LBRG-<status> <CODE>` for a code of `ERRORS`."""
    return f"LBRG-{ERRORS[code][0]} {code}"


Auth = Literal["operator", "player", "player_or_operator", "public"]
"""Who may call: an operator key with the route's scope, a player token, either (a player's
front posting its own data, or the platform relaying it with a key), or anyone."""


@dataclass(frozen=True, slots=True)
class Param:
    """A path or query parameter."""

    name: str
    where: Literal["path", "query"]
    description: str
    required: bool = True
    type: Any = str


@dataclass(frozen=True, slots=True)
class Operation:
    """One HTTP route of the platform API, as documented and as enforced.

    `scope` is required of an operator key when `auth` is `operator`; `request` and
    `response` are msgspec types (None: no body); `errors` are codes of `ERRORS` the route
    itself answers (the errors of its `auth` and, with a `request`, `BODY_ERRORS` are added
    when documented).
    """

    method: str
    path: str
    """aiohttp route syntax: `/platform/v1/wallets/{player}`."""
    operation_id: str
    summary: str
    auth: Auth
    scope: Scope | None = None
    request: Any = None
    response: Any = None
    status: int = 200
    errors: tuple[str, ...] = ()
    rejection: Any = None
    """A msgspec type some refusals answer with instead of `ErrorBody` (`bet.rejected`)."""
    params: tuple[Param, ...] = ()
    description: str = ""
    tags: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        unknown = [code for code in self.errors if code not in ERRORS]
        if unknown:
            raise ValueError(f"{self.operation_id}: unknown error codes {unknown}")
        if (self.auth in ("operator", "player_or_operator")) != (self.scope is not None):
            raise ValueError(f"{self.operation_id}: an operator route needs a scope, no other")


BODY_ERRORS: Final = ("MALFORMED_JSON", "INVALID_REQUEST", "BODY_TOO_LARGE")
"""What every route with a JSON body answers about the body itself: no route lists them."""

AUTH_ERRORS: Final[Mapping[Auth, tuple[str, ...]]] = {
    "operator": ("MISSING_CREDENTIALS", "INVALID_API_KEY", "SCOPE_REQUIRED"),
    "player": ("MISSING_CREDENTIALS", "INVALID_TOKEN", "TOKEN_EXPIRED", "NOT_YOUR_SESSION"),
    "player_or_operator": (
        "MISSING_CREDENTIALS",
        "INVALID_TOKEN",
        "TOKEN_EXPIRED",
        "SCOPE_REQUIRED",
    ),
    "public": (),
}
