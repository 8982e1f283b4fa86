"""The generated documents: OpenAPI 3.1 for every route, JSON Schema for every message."""

from __future__ import annotations

from typing import Any

import nats
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiohttp.test_utils import TestServer

from contracts.api import ERRORS
from contracts.api import Scope
from contracts.api import error_text
from contracts.messages import MESSAGES
from services.frontdoor.app import ROUTES
from services.frontdoor.app import setup_frontdoor
from services.frontdoor.auth import PROTECTED
from services.frontdoor.config import FrontdoorConfig
from services.frontdoor.config import OperatorKey
from services.frontdoor.config import key_digest
from services.frontdoor.launch import PLATFORM_SESSIONS
from tests.integration.frontdoor.conftest import Bridge

ADMIN = "admin-secret-0123456789abcdefghij"
DOCUMENTED_PREFIXES = ("/platform/", "/disputes/", "/contracts/", "/openapi.json")


async def served_document(bridge: Bridge, path: str) -> dict[str, Any]:
    """The generated document the bridge serves at `path` (public: no key)."""
    response = await bridge.client.get(path)
    assert response.status == 200, f"{path}: {await response.text()}"
    document: dict[str, Any] = await response.json()
    return document


def served_routes(app: web.Application) -> set[tuple[str, str]]:
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith(DOCUMENTED_PREFIXES)
        and route.method != "HEAD"
    }


async def test_every_platform_route_has_its_entry_in_the_openapi_document(
    bridge: Bridge,
) -> None:
    document = await served_document(bridge, "/openapi.json")
    assert document["openapi"] == "3.1.0"
    in_document = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    served = served_routes(bridge.app)
    assert served, "no platform routes found"
    missing = served - in_document
    assert not missing, f"routes without an OpenAPI entry: {sorted(missing)}"
    documented = {(op.method, op.path) for op in bridge.app[ROUTES]}
    assert served <= documented


async def test_the_openapi_document_names_security_schemes_and_every_lbrg_error(
    bridge: Bridge,
) -> None:
    document = await served_document(bridge, "/openapi.json")
    schemes = document["components"]["securitySchemes"]
    assert schemes["operatorKey"]["scheme"] == "bearer"
    assert schemes["playerToken"]["bearerFormat"] == "JWT"
    wallet = document["paths"]["/platform/v1/wallets/{player}"]["get"]
    assert wallet["security"] == [{"operatorKey": ["read"]}]
    assert set(wallet["responses"]) >= {"200", "400", "401", "403", "404", "503"}
    examples = wallet["responses"]["401"]["content"]["application/json"]["examples"]
    assert examples["INVALID_API_KEY"]["value"]["error"] == "LBRG-401 INVALID_API_KEY"
    ok = wallet["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/PlayerBalances"}
    bets = document["paths"]["/platform/v1/bets"]["post"]
    assert bets["security"] == [{"playerToken": []}]
    closed = bets["responses"]["409"]["content"]["application/json"]
    assert "BETTING_CLOSED" in closed["examples"]
    assert {"$ref": "#/components/schemas/BetRejected"} in closed["schema"]["oneOf"]
    assert set(document["components"]["schemas"]["ErrorCode"]["enum"]) == {
        error_text(code) for code in ERRORS
    }
    for code in ERRORS:
        assert error_text(code) in document["info"]["description"]


def patterns(document: Any) -> list[str]:
    if isinstance(document, dict):
        found = [v for k, v in document.items() if k == "pattern" and isinstance(v, str)]
        return found + [p for k, v in document.items() if k != "pattern" for p in patterns(v)]
    if isinstance(document, list):
        return [p for item in document for p in patterns(item)]
    return []


async def test_the_documents_patterns_are_json_schema_regexes_in_plain_ascii(
    bridge: Bridge,
) -> None:
    documents = [await served_document(bridge, "/openapi.json")]
    for name in MESSAGES:
        documents.append(await served_document(bridge, f"/contracts/{name}.json"))
    found = [p for document in documents for p in patterns(document)]
    assert found, "the id policy's patterns are documented"
    for pattern in found:
        assert pattern.isascii() and "\\Z" not in pattern, pattern


async def test_every_contract_message_has_its_json_schema(bridge: Bridge) -> None:
    for name in MESSAGES:
        schema = await served_document(bridge, f"/contracts/{name}.json")
        assert schema["$ref"] == f"#/$defs/{MESSAGES[name].__name__}", name
    place = await served_document(bridge, "/contracts/bet.place.json")
    body = place["$defs"]["BetPlace"]
    assert body["properties"]["type"]["enum"] == ["bet.place"]
    assert {"idempotencyKey", "sessionId", "roundId", "selection", "stake"} <= set(body["required"])
    missing = await bridge.client.get("/contracts/bet.teleport.json")
    assert missing.status == 404
    assert (await missing.json())["error"] == "LBRG-404 NOT_FOUND"


async def test_a_route_mounted_without_a_description_is_refused_not_served() -> None:
    app = web.Application()
    config = FrontdoorConfig(
        keys=(
            OperatorKey(
                operator="o", key_id="k", digest=key_digest(ADMIN), scopes=frozenset({Scope.ADMIN})
            ),
        )
    )
    setup_frontdoor(app, config=config)

    async def sneaky(request: web.Request) -> web.Response:
        return web.Response(text="secret")

    app.router.add_get("/platform/v1/undocumented", sneaky)
    async with TestClient(TestServer(app)) as client:
        headers = {"Authorization": f"Bearer {ADMIN}"}
        response = await client.get("/platform/v1/undocumented", headers=headers)
        assert response.status == 403
        assert (await response.json())["error"] == "LBRG-403 ROUTE_NOT_DOCUMENTED"
        assert served_routes(app) - {(op.method, op.path) for op in app[ROUTES]} == {
            ("GET", "/platform/v1/undocumented")
        }


async def test_the_asyncapi_document_lists_every_socket_message_and_the_platforms_subjects(
    bridge: Bridge,
) -> None:
    document = await served_document(bridge, "/asyncapi.json")
    assert document["asyncapi"] == "3.0.0"
    socket = document["channels"]["betSocket"]
    assert socket["address"] == "/platform/v1/player/socket"
    on_socket = {message["name"] for message in socket["messages"].values()}
    assert on_socket == set(MESSAGES) - {"round.settle"}, "every socket message, no other"
    settle = document["channels"]["roundSettle"]
    assert settle["address"].endswith(".{provider}.{round}")
    assert {m["name"] for m in settle["messages"].values()} == {"round.settle"}
    schemas = document["components"]["schemas"]
    for channel in document["channels"].values():
        for message in channel["messages"].values():
            name = message["payload"]["$ref"].rsplit("/", 1)[1]
            assert name in schemas, name
    for operation in document["operations"].values():
        channel = operation["channel"]["$ref"].rsplit("/", 1)[1]
        for ref in operation["messages"]:
            _, _, at, _, message = ref["$ref"].split("/")
            assert at == channel and message in document["channels"][channel]["messages"]
    balance = schemas["RoundSettle"]["properties"]["balanceAfter"]
    assert balance["type"] == "string", "amounts are decimal strings"


async def test_the_api_page_renders_the_openapi_document_from_files_served_here(
    bridge: Bridge,
) -> None:
    page = await bridge.client.get("/docs")
    assert page.status == 200 and page.content_type == "text/html"
    html = await page.text()
    assert "/openapi.json" in html
    assert "https://" not in html and "http://" not in html.replace("http://www.w3.org", ""), (
        "nothing fetched from a CDN"
    )
    scripts = [part.split('"', 1)[0] for part in html.split('src="')[1:]]
    assert any(s.endswith("swagger-ui-bundle.js") for s in scripts), scripts
    for script in scripts:
        asset = await bridge.client.get(script)
        assert asset.status == 200, script
        assert len(await asset.read()) > 1000


async def test_the_log_away_is_answered_retry_on_a_route_that_lists_it(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard answers any route `LBRG-503 RETRY` when the ledger's log (NATS) does not
    answer: closing a session, refreshing a player token, a lobby or a table status read
    or written in JetStream KV. Each documents it, so a generated client knows it."""

    async def away(*_args: object) -> None:
        raise nats.errors.TimeoutError

    monkeypatch.setattr(bridge.app[PLATFORM_SESSIONS], "get", away)
    response = await bridge.client.post(
        "/platform/v1/sessions/ses_0123456789abcdef01234567/close", headers=Bridge.auth("admin")
    )
    answer = await response.json()
    assert (response.status, answer["error"]) == (503, "LBRG-503 RETRY"), answer
    document = await served_document(bridge, "/openapi.json")
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if path.startswith(PROTECTED):
                assert "LBRG-503 RETRY" in operation["responses"]["503"]["description"], path
            else:
                assert "503" not in operation["responses"], (method, path)
