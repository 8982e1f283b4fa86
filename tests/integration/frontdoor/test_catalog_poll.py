"""A provider's catalogue endpoint, polled: its tables come from it, and a provider whose
endpoint keeps failing is marked down (tables hidden) until it answers again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any
from typing import cast

import nats.errors
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from nats.js.kv import KeyValue

from services.bridge.config import Settings
from services.edge.config import load_providers
from services.frontdoor.catalog import Catalog
from services.frontdoor.catalog_poll import MAX_ANSWER
from services.frontdoor.catalog_poll import CatalogBox
from services.frontdoor.catalog_poll import CatalogSource
from services.frontdoor.catalog_poll import follow
from services.frontdoor.tables import TableStatuses
from tests.integration.frontdoor.conftest import Bridge

READ = Bridge.auth("read")
TABLES = {
    "tables": [
        {
            "id": "H1",
            "game": "blackjack",
            "name": "Blackjack One",
            "limits": {"blackjack_main": {"min_bet": "1.00", "max_bet": "50.00"}},
        }
    ]
}


class Endpoint:
    healthy = True
    answer: dict[str, Any] | bytes = TABLES
    """A catalogue, or bytes served as they are."""


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[str, type[Endpoint]]]:
    async def catalog(request: web.Request) -> web.Response:
        if not Endpoint.healthy:
            return web.Response(status=500)
        if isinstance(Endpoint.answer, bytes):
            return web.Response(body=Endpoint.answer, content_type="application/json")
        return web.json_response(Endpoint.answer)

    app = web.Application()
    app.router.add_get("/catalog", catalog)
    Endpoint.healthy, Endpoint.answer = True, TABLES
    async with TestServer(app) as server:
        yield str(server.make_url("/catalog")), Endpoint


@pytest.fixture
def bridge_settings(bridge_settings: Settings, endpoint: tuple[str, type[Endpoint]]) -> Settings:
    with bridge_settings.config_path.open("a") as config:
        config.write(
            f'\n[[catalog.source]]\nprovider = "hub88"\nurl = "{endpoint[0]}"\n'
            "interval_s = 0.2\ndown_after = 2\n"
        )
    return bridge_settings


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(100):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("not within 10 s")


async def test_a_polled_provider_lists_its_endpoints_tables_and_goes_down_with_it(
    bridge: Bridge, endpoint: tuple[str, type[Endpoint]]
) -> None:
    async def listed() -> dict[str, Any]:
        response = await bridge.client.get("/platform/v1/providers/hub88/tables", headers=READ)
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body

    async def shows_h1() -> bool:
        body = await listed()
        return body["providerUp"] and [t["tableId"] for t in body["tables"]] == ["H1"]

    await until(shows_h1)
    table = (await listed())["tables"][0]
    assert (table["game"], table["currencies"]) == ("blackjack", ["EUR"])
    assert table["limits"] == {"blackjack_main": {"minBet": "1.00", "maxBet": "50.00"}}

    endpoint[1].healthy = False

    async def down() -> bool:
        body = await listed()
        return not body["providerUp"] and body["tables"] == []

    await until(down)
    endpoint[1].healthy = True
    await until(shows_h1)


async def test_limits_that_are_not_amounts_fail_the_poll_and_polling_goes_on(
    bridge: Bridge, endpoint: tuple[str, type[Endpoint]]
) -> None:
    async def provider_up() -> bool:
        response = await bridge.client.get("/platform/v1/providers/hub88/tables", headers=READ)
        body: dict[str, Any] = await response.json()
        return bool(body["providerUp"]) and [t["tableId"] for t in body["tables"]] == ["H1"]

    async def provider_down() -> bool:
        return not await provider_up()

    await until(provider_up)
    [table] = TABLES["tables"]
    for nonsense in ("NaN", "sNaN", "Infinity"):
        endpoint[1].answer = {
            "tables": [
                {**table, "limits": {"blackjack_main": {"min_bet": "1", "max_bet": nonsense}}}
            ]
        }
        await until(provider_down)  # failed polls, not a poller that died on a NaN
        endpoint[1].answer = TABLES
        await until(provider_up)
    # JSON nested deeper than the interpreter's recursion limit: msgspec raises
    # RecursionError, which the poller did not catch (it died; the tables stayed as they were)
    endpoint[1].answer = b'{"tables": [{"id": "H1", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}]}"
    await until(provider_down)
    endpoint[1].answer = TABLES
    await until(provider_up)
    # an answer past MAX_ANSWER is not read whole into the bridge's memory
    endpoint[1].answer = json.dumps({**TABLES, "pad": "x" * MAX_ANSWER}).encode()
    await until(provider_down)
    endpoint[1].answer = TABLES
    await until(provider_up)


class FlakyKv:
    """A status bucket whose next `failures` writes time out (NATS away)."""

    def __init__(self, failures: int) -> None:
        self.failures = failures

    async def put(self, key: str, value: bytes) -> int:
        if self.failures:
            self.failures -= 1
            raise nats.errors.TimeoutError
        return 1


async def test_a_status_write_that_fails_while_nats_is_away_does_not_stop_the_polling(
    bridge_settings: Settings, endpoint: tuple[str, type[Endpoint]]
) -> None:
    providers = load_providers(bridge_settings.config_path, environ=os.environ)
    source = CatalogSource(provider="hub88", url=endpoint[0], interval_s=0.05, down_after=2)
    kv = FlakyKv(failures=1)
    statuses, box = TableStatuses(cast(KeyValue, kv)), CatalogBox(Catalog())
    endpoint[1].healthy = False
    polling = asyncio.create_task(follow(source, box, statuses, providers))
    try:

        async def marked_down() -> bool:
            return not statuses.provider_up("hub88")

        await until(marked_down)  # the first write timed out; a later failed poll marks it
        endpoint[1].healthy, kv.failures = True, 1

        async def back_up() -> bool:
            return statuses.provider_up("hub88") and [e.id for e in box.current.of("hub88")] == [
                "H1"
            ]

        await until(back_up)  # the first write of "up" timed out too; the next poll's holds
        assert not polling.done()
    finally:
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
