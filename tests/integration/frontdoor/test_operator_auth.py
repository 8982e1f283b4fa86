"""Every platform and dispute route is behind an operator API key with the right scope."""

from __future__ import annotations

import asyncio
import re

import msgspec

from services.frontdoor.app import ROUTES
from tests.integration.frontdoor.conftest import KEYS
from tests.integration.frontdoor.conftest import Bridge
from tests.integration.frontdoor.conftest import all_but_key

PROTECTED = ("/platform/v1/wallets/p-1", "/disputes/v1/rounds/R-1")


async def test_a_call_without_a_key_or_with_an_unknown_one_is_refused_and_says_why(
    bridge: Bridge,
) -> None:
    for path in (*PROTECTED, "/platform/v1/no-such-route"):
        response = await bridge.client.get(path)
        assert response.status == 401
        assert (await response.json())["error"] == "LBRG-401 MISSING_CREDENTIALS"
        forged = await bridge.client.get(path, headers={"Authorization": "Bearer not-a-key"})
        assert forged.status == 401
        body = await forged.json()
        assert body["error"] == "LBRG-401 INVALID_API_KEY"
        assert body["message"]
    basic = await bridge.client.get(
        PROTECTED[0], headers={"Authorization": f"Basic {KEYS['read']}"}
    )
    assert (await basic.json())["error"] == "LBRG-401 MISSING_CREDENTIALS"


async def test_two_live_keys_of_one_operator_both_work_while_a_key_is_rotated(
    bridge: Bridge,
) -> None:
    for name in ("read", "read_next", "admin"):
        response = await bridge.client.get(PROTECTED[0], headers=Bridge.auth(name))
        assert response.status == 404, name
        assert (await response.json())["error"] == "LBRG-404 WALLET_NOT_FOUND"
        response = await bridge.client.get(PROTECTED[1], headers=Bridge.auth(name))
        assert (await response.json())["error"] == "LBRG-404 ROUND_NOT_FOUND"


async def test_every_operator_route_refuses_a_key_without_its_scope(bridge: Bridge) -> None:
    table = bridge.app[ROUTES]
    checked = 0
    for operation in table:
        if operation.auth != "operator":
            continue
        assert operation.scope is not None
        path = re.sub(r"\{[^}]+\}", "x-1", operation.path)
        headers = {"Authorization": f"Bearer {all_but_key(operation.scope.value)}"}
        response = await bridge.client.request(operation.method, path, headers=headers)
        assert response.status == 403, (operation.operation_id, await response.text())
        body = await response.json()
        assert body["error"] == "LBRG-403 SCOPE_REQUIRED"
        assert repr(operation.scope.value) in body["message"]
        checked += 1
    assert checked >= 2


async def test_an_unknown_path_or_method_under_the_platform_answers_in_lbrg_form(
    bridge: Bridge,
) -> None:
    response = await bridge.client.get("/platform/v1/nothing-here", headers=Bridge.auth("admin"))
    assert response.status == 404
    assert (await response.json())["error"] == "LBRG-404 NOT_FOUND"
    response = await bridge.client.delete(PROTECTED[0], headers=Bridge.auth("admin"))
    assert response.status == 405
    assert (await response.json())["error"] == "LBRG-405 METHOD_NOT_ALLOWED"
    assert response.headers["Allow"] == "GET, HEAD"
    head = await bridge.client.head(PROTECTED[0], headers=Bridge.auth("admin"))
    got = await bridge.client.get(PROTECTED[0], headers=Bridge.auth("admin"))
    assert head.status == got.status and head.status != 403, "HEAD is served as its GET"
    assert await head.read() == b""


async def raw_call(bridge: Bridge, route: str, authorization: bytes) -> tuple[int, bytes]:
    """`route` (method and path, no body) with an `Authorization` header of exactly these
    bytes (aiohttp's client sends only text): the status and the body."""
    server = bridge.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(
        f"{route} HTTP/1.1\r\nHost: bridge\r\nContent-Length: 0\r\nConnection: close\r\n".encode()
        + b"Authorization: "
        + authorization
        + b"\r\n\r\n"
    )
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_a_credential_whose_bytes_are_not_utf8_is_refused_as_invalid_never_a_500(
    bridge: Bridge,
) -> None:
    expected = {
        "GET /platform/v1/wallets/p-1": "LBRG-401 INVALID_API_KEY",  # an operator route
        "GET /platform/v1/player/sessions/ses_1": "LBRG-401 INVALID_TOKEN",  # a player's
        "POST /qos/v1/samples": "LBRG-401 INVALID_TOKEN",  # a player's, or an operator's
    }
    for route, error in expected.items():
        for credential in (b"\xff\xfe", b"key-\xc3", b"a.b.\xff", b"\xe9.\xe9.\xe9"):
            status, body = await raw_call(bridge, route, b"Bearer " + credential)
            assert status == 401, (route, credential, body)
            assert msgspec.json.decode(body)["error"] == error, (route, credential)
