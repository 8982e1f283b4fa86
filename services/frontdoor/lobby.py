"""The catalogue's routes: a provider's tables, the lobby, and setting statuses by hand.

- `GET /platform/v1/providers/{provider}/tables` (scope `read`): the provider's tables as
  served now (seed B's `/providers/:id/tables`); `HIDDEN` ones only with `?hidden=true`.
- `GET /platform/v1/lobby?player=...` (scope `read`): the tables the player may play,
  filtered by the country, currency and KYC status of the player's open session (or those
  given in the query, which win).
- `PUT /platform/v1/providers/{provider}/tables/{table}/status` and
  `PUT /platform/v1/providers/{provider}/status` (scope `admin`): set a table's status,
  mark a provider down or up (`services.frontdoor.tables`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from datetime import datetime

from aiohttp import web

from contracts import ids
from contracts import money
from contracts.api import Operation
from contracts.api import Param
from contracts.api import Scope
from contracts.catalog import Lobby
from contracts.catalog import ProviderState
from contracts.catalog import SetProviderStatus
from contracts.catalog import SetTableStatus
from contracts.catalog import Tables
from contracts.catalog import TableState
from contracts.catalog import TableStatus
from contracts.launch import KycStatus
from services.edge.config import ProvidersConfig
from services.frontdoor.auth import OPERATOR
from services.frontdoor.catalog import Catalog
from services.frontdoor.config import COUNTRY
from services.frontdoor.http import ApiError
from services.frontdoor.http import json_response
from services.frontdoor.http import read_json
from services.frontdoor.launch import PLATFORM_SESSIONS
from services.frontdoor.routes import RouteTable
from services.frontdoor.tables import TABLE_STATUSES


def setup_lobby(
    app: web.Application,
    table: RouteTable,
    *,
    catalog: Callable[[], Catalog],
    providers: ProvidersConfig,
) -> None:
    def provider_of(request: web.Request) -> str:
        provider = request.match_info["provider"]
        try:
            providers.get(provider)
        except KeyError:
            raise ApiError("PROVIDER_NOT_FOUND", f"no provider {provider!r}") from None
        return provider

    async def tables(request: web.Request) -> web.Response:
        provider = provider_of(request)
        statuses = app[TABLE_STATUSES]
        now = datetime.now(UTC)
        asked = request.query.get("hidden", "false")
        if asked not in ("true", "false"):  # `1` or `True` were read as false
            raise ApiError("INVALID_REQUEST", f"hidden must be true or false, not {asked!r}")
        hidden = asked == "true"
        served = [catalog().table(entry, statuses, now) for entry in catalog().of(provider)]
        return json_response(
            Tables(
                provider=provider,
                provider_up=statuses.provider_up(provider),
                tables=tuple(
                    sorted(
                        (t for t in served if hidden or t.status is not TableStatus.HIDDEN),
                        key=lambda t: t.table_id,
                    )
                ),
                server_time=now,
            )
        )

    async def lobby(request: web.Request) -> web.Response:
        query = request.query
        player = query.get("player", "")
        problem = ids.problem(player, "player")
        if problem:
            raise ApiError("INVALID_PLAYER", problem)
        country, currency = query.get("country", ""), query.get("currency", "")
        if currency:  # an open session's currency is known; the query's may not be
            try:
                money.exponent(currency)
            except money.UnknownCurrency as exc:
                raise ApiError("UNKNOWN_CURRENCY", str(exc)) from None
        kyc_text = query.get("kycStatus", "")
        if not (country and currency and kyc_text):
            session = await _open_session(request, player, currency)
            country = country or session[0]
            currency = currency or session[1]
            kyc_text = kyc_text or session[2]
        try:
            kyc = KycStatus(kyc_text)
        except ValueError:
            raise ApiError(
                "INVALID_REQUEST", "kycStatus must be VERIFIED, PENDING or UNVERIFIED"
            ) from None
        if not COUNTRY.match(country):  # `A1` passed an isupper() test
            raise ApiError("INVALID_REQUEST", "country must be ISO 3166-1 alpha-2 (e.g. MT)")
        now = datetime.now(UTC)
        shown = catalog().lobby(
            app[TABLE_STATUSES], now, country=country, currency=currency, kyc=kyc
        )
        return json_response(
            Lobby(
                player=player,
                country=country,
                currency=currency,
                kyc_status=kyc,
                tables=tuple(shown),
                server_time=now,
            )
        )

    async def _open_session(
        request: web.Request, player: str, currency: str
    ) -> tuple[str, str, str]:
        sessions = app[PLATFORM_SESSIONS]
        operator = request[OPERATOR].operator
        currencies = (
            [currency]
            if currency
            else sorted({c for p in providers.providers for c in p.currencies})
        )
        for each in currencies:
            session = await sessions.open_of(operator, player, each)
            if session is not None:
                return session.country, session.currency, session.kyc_status
        raise ApiError(
            "SESSION_NOT_FOUND",
            f"player {player!r} has no open session: launch one, or give country, currency "
            "and kycStatus",
        )

    async def set_table(request: web.Request) -> web.Response:
        provider = provider_of(request)
        table_id = request.match_info["table"]
        if catalog().find(provider, table_id) is None:
            raise ApiError("TABLE_NOT_FOUND", f"no table {table_id!r} of {provider!r}")
        body = await read_json(request, SetTableStatus)
        state = await app[TABLE_STATUSES].set_table(
            provider, table_id, body.status, reason=body.reason
        )
        return json_response(state)

    async def set_provider(request: web.Request) -> web.Response:
        provider = provider_of(request)
        body = await read_json(request, SetProviderStatus)
        state = await app[TABLE_STATUSES].set_provider(provider, up=body.up, reason=body.reason)
        return json_response(state)

    table.add(app, TABLES, tables)
    table.add(app, LOBBY, lobby)
    table.add(app, SET_TABLE, set_table)
    table.add(app, SET_PROVIDER, set_provider)


_PROVIDER = Param("provider", "path", "The provider's id, as configured.")

TABLES = Operation(
    method="GET",
    path="/platform/v1/providers/{provider}/tables",
    operation_id="providerTables",
    summary="A provider's live tables: game, limits per bet type, side bets, languages, "
    "schedule, status, stream URLs",
    auth="operator",
    scope=Scope.READ,
    response=Tables,
    errors=("PROVIDER_NOT_FOUND", "INVALID_REQUEST"),
    params=(
        _PROVIDER,
        Param("hidden", "query", "`true` lists HIDDEN tables too.", False, bool),
    ),
    tags=("catalog",),
)
LOBBY = Operation(
    method="GET",
    path="/platform/v1/lobby",
    operation_id="lobby",
    summary="The tables a player may play now, by its country, currency and KYC status",
    description=(
        "Without `country`, `currency` and `kycStatus`, they come from the player's open "
        "session (launched through `POST /platform/v1/sessions`)."
    ),
    auth="operator",
    scope=Scope.READ,
    response=Lobby,
    errors=("INVALID_PLAYER", "INVALID_REQUEST", "UNKNOWN_CURRENCY", "SESSION_NOT_FOUND"),
    params=(
        Param("player", "query", "The player's id.", type=ids.Id),
        Param("country", "query", "ISO 3166-1 alpha-2; default: the session's.", False),
        Param("currency", "query", "Default: the open session's.", False),
        Param("kycStatus", "query", "Default: the session's.", False, KycStatus),
    ),
    tags=("catalog",),
)
SET_TABLE = Operation(
    method="PUT",
    path="/platform/v1/providers/{provider}/tables/{table}/status",
    operation_id="setTableStatus",
    summary="Set a table's status (OPEN, CLOSED, MAINTENANCE, HIDDEN), hot, everywhere",
    auth="operator",
    scope=Scope.ADMIN,
    request=SetTableStatus,
    response=TableState,
    errors=("PROVIDER_NOT_FOUND", "TABLE_NOT_FOUND"),
    params=(_PROVIDER, Param("table", "path", "The table's id.", type=ids.Id)),
    tags=("catalog",),
)
SET_PROVIDER = Operation(
    method="PUT",
    path="/platform/v1/providers/{provider}/status",
    operation_id="setProviderStatus",
    summary="Mark a provider down (tables hidden, bets refused PROVIDER_DOWN) or up again",
    auth="operator",
    scope=Scope.ADMIN,
    request=SetProviderStatus,
    response=ProviderState,
    errors=("PROVIDER_NOT_FOUND",),
    params=(_PROVIDER,),
    tags=("catalog",),
)
