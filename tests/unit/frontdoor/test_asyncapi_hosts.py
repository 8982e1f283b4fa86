"""`GET /asyncapi.json` names the host it was asked at; what it keeps for that is bounded."""

from __future__ import annotations

import gc
import json
import tracemalloc

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from services.frontdoor.asyncapi import ASYNCAPI
from services.frontdoor.asyncapi import mount_asyncapi
from services.frontdoor.routes import RouteTable


async def test_a_caller_naming_a_new_host_each_time_does_not_grow_the_documents_kept() -> None:
    # The Host header is the caller's to choose, and a 17 kB document was kept for every
    # one ever named: a public route anyone could fill memory through.
    app = web.Application()
    mount_asyncapi(app, RouteTable(), settle_root="round.settle", limits_subject="lb.limits")
    route = next(
        r for r in app.router.routes() if r.resource and r.resource.canonical == ASYNCAPI.path
    )

    async def served(host: str) -> web.Response:
        response = await route.handler(
            make_mocked_request("GET", ASYNCAPI.path, headers={"Host": host})
        )
        assert isinstance(response, web.Response) and isinstance(response.body, bytes)
        return response

    first = await served("bridge.example.com")
    tracemalloc.start()
    try:
        for n in range(60):
            await served(f"host-{n}.example.com")
        gc.collect()
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept < 600_000, f"{kept} bytes kept after 60 hosts"

    again = await served("bridge.example.com")
    assert isinstance(first.body, bytes) and again.body == first.body
    document = json.loads(again.body)
    assert document["servers"]["livebridge"]["host"] == "bridge.example.com"
