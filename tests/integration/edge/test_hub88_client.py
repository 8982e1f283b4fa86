"""The dialect clients' transport retries the very same bytes, as providers do."""

from __future__ import annotations

from decimal import Decimal

import aiohttp
from aiohttp import web

from services.simulate.clients.base import HttpTransport
from services.simulate.clients.base import TransportError
from services.simulate.clients.hub88 import Hub88Client
from services.simulate.clients.hub88 import load_private_key
from tests.unit.edge.support.wallet_gateway import HUB88_PRIVATE_PEM


async def test_a_retried_call_resends_identical_signed_bytes_until_it_gets_an_answer() -> None:
    seen: list[tuple[bytes, str]] = []

    async def flaky(request: web.Request) -> web.Response:
        seen.append((await request.read(), request.headers["X-Hub88-Signature"]))
        if len(seen) < 3:
            return web.Response(status=503)
        return web.json_response({"status": "RS_OK", "balance": 1})

    app = web.Application()
    app.router.add_post("/wallet/hub88/transaction/bet", flaky)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{port}/wallet/hub88"
            client = Hub88Client(
                HttpTransport(http, base, retries=3, backoff_s=0.01),
                load_private_key(HUB88_PRIVATE_PEM),
            )
            answer = await client.bet(
                user="u", token="t", round_id="r", tx="b-1", amount=Decimal("2.5"), currency="EUR"
            )
            assert answer["status"] == "RS_OK"
            assert len(seen) == 3 and len(set(seen)) == 1, "every attempt is the same call"
            seen.clear()
            stubborn = Hub88Client(
                HttpTransport(http, base + "/nowhere", retries=1, backoff_s=0.01),
                load_private_key(HUB88_PRIVATE_PEM),
            )
            answer = await stubborn.send(stubborn.prepare_raw("x", b"{}"))
            assert answer["http_status"] == 404
            dead = HttpTransport(http, "http://127.0.0.1:9/none", retries=1, backoff_s=0.01)
            try:
                await dead.send(client.prepare_raw("transaction/bet", b"{}"))
            except TransportError as exc:
                assert "2 attempts" in str(exc)
            else:
                raise AssertionError("a dead endpoint must raise TransportError")
    finally:
        await runner.cleanup()
