"""Mount the platform API's front door on an aiohttp application.

The composition root calls `setup_frontdoor` once, before the app starts, passing the
descriptions of routes other rooms mount (the read API) so the guard and the OpenAPI
document know them::

    door = setup_frontdoor(app, config=load_frontdoor(path, environ=os.environ),
                           documented=READ_OPERATIONS)

It installs the guard (`auth.guard`) and serves the generated documents:
`GET /openapi.json` and `GET /contracts/{name}.json` (the JSON Schema of one contract
message, `contracts.messages.MESSAGES`), both public, and the API page rendered from the
OpenAPI document at `GET /docs` (Swagger UI, served from the installed package).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
from aiohttp import web
from swagger_ui import api_doc  # type: ignore[import-untyped]

from contracts.api import Operation
from contracts.api import Param
from contracts.messages import MESSAGES
from services.frontdoor.auth import OperatorKeys
from services.frontdoor.auth import guard
from services.frontdoor.config import FrontdoorConfig
from services.frontdoor.http import json_response
from services.frontdoor.openapi import build_openapi
from services.frontdoor.openapi import document_json
from services.frontdoor.openapi import ecma_patterns
from services.frontdoor.players import PlayerTokens
from services.frontdoor.routes import RouteTable

ROUTES = web.AppKey("frontdoor_routes", RouteTable)
API_PAGE = "/docs"
"""The human-readable API page, rendered from /openapi.json."""


@dataclass(frozen=True, slots=True)
class FrontDoor:
    """What the other platform routes mount with: the route table and the player tokens."""

    table: RouteTable
    tokens: PlayerTokens
    config: FrontdoorConfig


def setup_frontdoor(
    app: web.Application, *, config: FrontdoorConfig, documented: Sequence[Operation] = ()
) -> FrontDoor:
    table = RouteTable()
    table.document(*documented)
    app[ROUTES] = table
    tokens = PlayerTokens(config.player_token_secret, config.player_token_ttl_s)
    app.middlewares.append(guard(table, OperatorKeys(config.keys), tokens.check))
    _mount_documents(app, table)
    return FrontDoor(table=table, tokens=tokens, config=config)


def _mount_documents(app: web.Application, table: RouteTable) -> None:
    cache: dict[str, bytes] = {}

    async def openapi(request: web.Request) -> web.Response:
        if "openapi" not in cache:
            cache["openapi"] = document_json(build_openapi(table))
        return web.Response(body=cache["openapi"], content_type="application/json")

    async def contract(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        kind = MESSAGES.get(name)
        if kind is None:
            known = ", ".join(sorted(MESSAGES))
            return json_response(
                {"error": "LBRG-404 NOT_FOUND", "message": f"no message {name!r}; known: {known}"},
                404,
            )
        return web.Response(
            body=document_json(ecma_patterns(msgspec.json.schema(kind))),
            content_type="application/json",
        )

    # The API page: Swagger UI from the swagger-ui-py wheel (its static dist, served from
    # here; nothing is fetched from a CDN), reading /openapi.json.
    api_doc(app, config_rel_url="/openapi.json", url_prefix=API_PAGE, title="livebridge API")
    table.add(
        app,
        Operation(
            method="GET",
            path="/openapi.json",
            operation_id="getOpenApi",
            summary="This document: OpenAPI 3.1 for every platform route",
            auth="public",
            tags=("documents",),
        ),
        openapi,
    )
    table.add(
        app,
        Operation(
            method="GET",
            path="/contracts/{name}.json",
            operation_id="getContractSchema",
            summary="The JSON Schema of one contract message (bet.place, round.settle, ...)",
            auth="public",
            errors=("NOT_FOUND",),
            params=(Param("name", "path", "The message's name, e.g. `bet.place`."),),
            tags=("documents",),
        ),
        contract,
    )
