"""Every platform and dispute route is behind an operator API key with the right scope."""

from __future__ import annotations

import re

from services.frontdoor.app import ROUTES
from tests.integration.frontdoor.conftest import KEYS, Bridge, all_but_key

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
