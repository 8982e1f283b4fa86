"""`GET /metrics` whose gauges' callbacks outrun the SDK's collect deadline answers 503 with
Retry-After and a canonical error, never a 500 (seen under a load average of 40)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiohttp.test_utils import TestServer
from opentelemetry.sdk.metrics import MetricsTimeoutError

from services.bridge import telemetry


def timing_out(accept: str) -> tuple[Callable[[object], bytes], str]:
    def encode(registry: object) -> bytes:
        raise MetricsTimeoutError("Timed out while executing callback")

    return encode, "text/plain"


async def test_a_collect_that_times_out_answers_503_and_asks_to_scrape_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(telemetry, "choose_encoder", timing_out)
    app = web.Application()
    app.router.add_get("/metrics", telemetry.serve_metrics)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/metrics")
        assert response.status == 503
        assert response.headers["Retry-After"] == "10"
        assert (await response.text()).startswith("LBRG-503 METRICS_TIMEOUT ")


async def test_a_collect_in_time_serves_the_registry() -> None:
    app = web.Application()
    app.router.add_get("/metrics", telemetry.serve_metrics)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/metrics")
        assert response.status == 200
        assert "python_info" in await response.text()
