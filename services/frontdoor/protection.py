"""Limit profiles (scope `limits`) and player protection (scope `protection`) over HTTP.

- `POST /platform/v1/limits` takes a `limits.update`: stored in the protection log, it
  applies to the next bet on every bridge (no restart) and is published on NATS
  (`limits_subject`) for the bet sockets to push; `GET /platform/v1/limits` lists every
  profile in force and the rules; `PUT /platform/v1/limits/rules` replaces the rules that
  map country, currency and KYC status to allowed profiles;
  `PUT /platform/v1/players/{player}/limits-profile` assigns the profile of the player's
  bets that name none (every provider's debit).
- `POST /platform/v1/players/{player}/protection` records one change (self-exclusion,
  time-out, a loss/stake/deposit limit, the high-risk flag, lifting an exclusion);
  `GET .../protection` is the state the checks read, `GET .../protection/history` every
  change with who made it and its log position.

A self-exclusion or a time-out also ends the player's open platform sessions (reason
`PROTECTION`): their provider tokens are revoked and their bet sockets get `session.close`
and close.

Every body of these routes is read whole: a field its schema does not have is refused
(`LBRG-400 INVALID_REQUEST` naming it), not dropped, since a limit without its `amount`
is a limit lifted (a mistyped `ammount` would lift it without a word). So the body of
`GET /platform/v1/limits` is not a body for `PUT .../rules`: send its `rules` alone.

The checks themselves run in the ledger, before every hold (`services.ledger.protection`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from collections.abc import Callable
from datetime import UTC
from datetime import datetime

from aiohttp import web

from contracts import money
from contracts.api import Operation
from contracts.api import Scope
from contracts.player import CloseReason
from contracts.player import LimitsUpdate
from contracts.protection import AssignProfile
from contracts.protection import LimitsState
from contracts.protection import ProfileRules
from contracts.protection import ProtectionChange
from contracts.protection import ProtectionHistory
from contracts.protection import ProtectionLimit
from contracts.protection import ProtectionView
from contracts.protection import SelfExclusion
from contracts.protection import TimeOut
from services.edge.app import GATEWAY_KEY
from services.frontdoor.auth import OPERATOR
from services.frontdoor.cashier import _PLAYER
from services.frontdoor.cashier import in_ledger
from services.frontdoor.cashier import player_of
from services.frontdoor.config import PROFILE
from services.frontdoor.config import limits_problem
from services.frontdoor.config import rule_problem
from services.frontdoor.http import ApiError
from services.frontdoor.http import json_response
from services.frontdoor.http import read_json
from services.frontdoor.launch import EndSessions
from services.frontdoor.routes import RouteTable
from services.ledger.protection import AnyChange
from services.ledger.protection import Protection

PublishLimits = Callable[[LimitsUpdate], Awaitable[None]]


def limits_subject(prefix: str) -> str:
    """The NATS subject every stored `limits.update` is published on (JSON, core NATS)."""
    return f"{prefix}.limits.update"


def _operator(request: web.Request) -> str:
    key = request[OPERATOR]
    return f"{key.operator}/{key.key_id}"


def _checked(update: LimitsUpdate) -> LimitsUpdate:
    problem = limits_problem(update)
    if problem is not None:
        raise ApiError(*problem)
    return update


def setup_protection(
    app: web.Application,
    table: RouteTable,
    *,
    protection: Callable[[], Protection],
    publish: PublishLimits,
    end_sessions: EndSessions | None = None,
) -> None:
    async def update_limits(request: web.Request) -> web.Response:
        update = _checked(await read_json(request, LimitsUpdate, exact=True))
        gateway = app.get(GATEWAY_KEY)
        if update.provider and gateway is not None:
            # limits of a provider id nobody configured (`evolution` for `evo`) bind no bet
            try:
                gateway.providers.get(update.provider)
            except KeyError:
                raise ApiError("UNKNOWN_PROVIDER", f"no provider {update.provider!r}") from None
        stored = await in_ledger(lambda: protection().update_limits(update, _operator(request)))
        await publish(stored)
        return json_response(stored)

    async def list_limits(request: web.Request) -> web.Response:
        return json_response(protection().limits_state())

    async def set_rules(request: web.Request) -> web.Response:
        rules = await read_json(request, ProfileRules, exact=True)
        for rule in rules.rules:
            for profile in rule.profiles:
                if not PROFILE.match(profile):
                    raise ApiError("INVALID_REQUEST", f"profile {profile!r} is not a profile name")
            problem = rule_problem(rule)
            if problem is not None:
                raise ApiError(*problem)
        state = await in_ledger(lambda: protection().set_rules(rules, _operator(request)))
        return json_response(state)

    async def assign_profile(request: web.Request) -> web.Response:
        player = player_of(request)
        body = await read_json(request, AssignProfile, exact=True)
        view = await in_ledger(lambda: protection().change(player, body, _operator(request)))
        return json_response(view)

    async def change(request: web.Request) -> web.Response:
        player = player_of(request)
        body: AnyChange = await read_json(request, ProtectionChange, exact=True)  # type: ignore[arg-type]
        if isinstance(body, SelfExclusion) and body.until and body.until <= datetime.now(UTC):
            raise ApiError("INVALID_REQUEST", f"until {body.until} is not in the future")
        if isinstance(body, ProtectionLimit):
            if body.currency not in money.EXPONENTS:
                raise ApiError("UNKNOWN_CURRENCY", f"unknown currency {body.currency!r}")
            if body.amount is not None:
                try:
                    money.parse_amount(body.amount, body.currency)
                except money.MoneyError as exc:
                    raise ApiError("INVALID_AMOUNT", str(exc)) from None
        view = await in_ledger(lambda: protection().change(player, body, _operator(request)))
        if end_sessions is not None and isinstance(body, SelfExclusion | TimeOut):
            # Stored first: a bet racing the close is refused by the ledger's check anyway.
            await end_sessions(request[OPERATOR].operator, player, CloseReason.PROTECTION)
        return json_response(view)

    async def view(request: web.Request) -> web.Response:
        player = player_of(request)
        return json_response(await asyncio.to_thread(protection().view, player))

    async def history(request: web.Request) -> web.Response:
        player = player_of(request)
        return json_response(await asyncio.to_thread(protection().history, player))

    for operation, handler in (
        (UPDATE_LIMITS, update_limits),
        (LIST_LIMITS, list_limits),
        (SET_RULES, set_rules),
        (ASSIGN_PROFILE, assign_profile),
        (CHANGE_PROTECTION, change),
        (VIEW_PROTECTION, view),
        (PROTECTION_HISTORY, history),
    ):
        table.add(app, operation, handler)


UPDATE_LIMITS = Operation(
    method="POST",
    path="/platform/v1/limits",
    operation_id="updateLimits",
    summary="limits.update: set a profile's limits (per provider, table, currency); hot",
    description=(
        "Stored in the log and applied to the next bet on every bridge, without a restart; "
        "published on NATS for the bet sockets. The most specific update wins for a bet."
    ),
    auth="operator",
    scope=Scope.LIMITS,
    request=LimitsUpdate,
    response=LimitsUpdate,
    errors=("INVALID_AMOUNT", "UNKNOWN_CURRENCY", "UNKNOWN_PROVIDER", "RETRY"),
    tags=("limits",),
)
LIST_LIMITS = Operation(
    method="GET",
    path="/platform/v1/limits",
    operation_id="listLimits",
    summary="Every limit profile in force and the rules that allow them",
    auth="operator",
    scope=Scope.LIMITS,
    response=LimitsState,
    tags=("limits",),
)
SET_RULES = Operation(
    method="PUT",
    path="/platform/v1/limits/rules",
    operation_id="setProfileRules",
    summary="Which profiles a player may use, by country, currency and KYC status",
    auth="operator",
    scope=Scope.LIMITS,
    request=ProfileRules,
    response=LimitsState,
    errors=("UNKNOWN_CURRENCY", "RETRY"),
    tags=("limits",),
)
ASSIGN_PROFILE = Operation(
    method="PUT",
    path="/platform/v1/players/{player}/limits-profile",
    operation_id="assignLimitsProfile",
    summary="The limit profile of the player's bets that name none (providers' debits)",
    auth="operator",
    scope=Scope.LIMITS,
    request=AssignProfile,
    response=ProtectionView,
    errors=("INVALID_PLAYER", "RETRY"),
    params=(_PLAYER,),
    tags=("limits",),
)
CHANGE_PROTECTION = Operation(
    method="POST",
    path="/platform/v1/players/{player}/protection",
    operation_id="changeProtection",
    summary="Self-exclusion, time-out, loss/stake/deposit limit or high-risk flag",
    description=(
        "Applies on every path: before the answer on the bridge that takes it, and on the "
        "others as they follow the protection log, within milliseconds. A "
        "self-exclusion or a time-out also ends the player's open sessions (`session.close`, "
        "reason `PROTECTION`)."
    ),
    auth="operator",
    scope=Scope.PROTECTION,
    request=ProtectionChange,
    response=ProtectionView,
    errors=("INVALID_PLAYER", "INVALID_AMOUNT", "UNKNOWN_CURRENCY", "RETRY"),
    params=(_PLAYER,),
    tags=("protection",),
)
VIEW_PROTECTION = Operation(
    method="GET",
    path="/platform/v1/players/{player}/protection",
    operation_id="getProtection",
    summary="The player's protection as the checks read it",
    auth="operator",
    scope=Scope.PROTECTION,
    response=ProtectionView,
    errors=("INVALID_PLAYER",),
    params=(_PLAYER,),
    tags=("protection",),
)
PROTECTION_HISTORY = Operation(
    method="GET",
    path="/platform/v1/players/{player}/protection/history",
    operation_id="getProtectionHistory",
    summary="Every change of the player's protection, with who made it and its log position",
    auth="operator",
    scope=Scope.PROTECTION,
    response=ProtectionHistory,
    errors=("INVALID_PLAYER",),
    params=(_PLAYER,),
    tags=("protection",),
)
