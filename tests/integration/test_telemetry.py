"""`livebridge run`'s telemetry: `/metrics` serves, in Prometheus text, what the edge
records for a bet, beside the process and runtime metrics."""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from services.bridge.config import Settings
from services.bridge.main import LEDGER
from services.bridge.main import build_app
from services.bridge.telemetry import install_metrics
from services.bridge.telemetry import tracer_provider
from services.infra.natsserver import NatsServer
from tests.integration.support.bridge_settings import provider_toml
from tests.integration.support.bridge_settings import settings_for_test
from tests.integration.support.evolution_seat import seated

SECRET = "evo-metrics-token-TEST-ONLY"
CONFIG = provider_toml("evometrics", "evolution", "TEST_EVO_METRICS_TOKEN", test_sid=True)


def settings(
    tmp_path: Path, nats_server: NatsServer, database_url: str, stream_prefix: str
) -> Settings:
    return settings_for_test(tmp_path, nats_server, database_url, stream_prefix, config=CONFIG)


def debits_seen(text: str) -> float:
    """The edge's count of wallet debits for the provider, from Prometheus text."""
    for family in text_string_to_metric_families(text):
        if family.name == "livebridge_edge_wallet_duration_milliseconds":
            return sum(
                sample.value
                for sample in family.samples
                if sample.name.endswith("_count")
                and sample.labels.get("livebridge_provider") == "evometrics"
                and sample.labels.get("livebridge_endpoint") == "debit"
            )
    return 0.0


async def test_metrics_show_the_edges_record_of_one_bet_and_the_process_metrics(
    tmp_path: Path,
    nats_server: NatsServer,
    database_url: str,
    stream_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_EVO_METRICS_TOKEN", SECRET)
    install_metrics(os.environ)  # as `livebridge run` does before it builds the app
    app = build_app(settings(tmp_path, nats_server, database_url, stream_prefix))
    async with TestClient(TestServer(app)) as client:
        evolution, seat = await seated(client, app[LEDGER], "m-p1", SECRET)
        before = await client.get("/metrics")
        assert before.status == 200
        assert before.headers["Content-Type"].startswith("text/plain")
        assert debits_seen(await before.text()) == 0

        bet = await evolution.debit(
            **seat, game_id="R-metrics-1", tx_id="m-tx-1", ref_id="m-bet-1", amount=Decimal("2.50")
        )
        assert bet["status"] == "OK", bet

        after = await client.get("/metrics")
        text = await after.text()
    assert debits_seen(text) == 1
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {
        "process_cpu_seconds",
        "process_resident_memory_bytes",
        "python_gc_objects_collected",
    } <= names
    assert "target_info" in names  # the OpenTelemetry resource: service.name livebridge


async def test_spans_are_exported_over_otlp_http_to_the_endpoint_the_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    received: list[tuple[str, str, bytes]] = []

    async def collector(request: web.Request) -> web.Response:
        received.append((request.path, request.content_type, await request.read()))
        return web.Response(status=200)

    server = web.Application()
    server.router.add_post("/v1/traces", collector)
    async with TestServer(server) as running:
        endpoint = str(running.make_url("")).rstrip("/")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "livebridge-test")
        provider = tracer_provider(os.environ)
        with provider.get_tracer("test").start_as_current_span("wallet debit"):
            pass

        assert await asyncio.to_thread(provider.force_flush, 5000)
        await asyncio.to_thread(provider.shutdown)

    assert [(path, kind) for path, kind, _ in received] == [
        ("/v1/traces", "application/x-protobuf")
    ]
    body = received[0][2]
    assert b"wallet debit" in body and b"livebridge-test" in body
