"""One bet, one trace: from the provider's HTTP call through the ledger, the log, every view,
the `round.settle` publication and its webhook delivery, each a span of the call's trace."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiohttp.test_utils import TestServer
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.bridge.main import LEDGER
from services.bridge.main import build_app
from services.infra.natsserver import NatsServer
from tests.integration.support.bridge_settings import provider_toml
from tests.integration.support.bridge_settings import settings_for_test
from tests.integration.support.evolution_seat import seated

SECRET = "evo-trace-token-TEST-ONLY"
CONFIG = (
    provider_toml("evotrace", "evolution", "TEST_EVO_TRACE_TOKEN", test_sid=True)
    + """
[[webhooks]]
name = "platform"
url = "{url}"
secret = "webhook-secret-TEST-ONLY"
"""
)
VIEWS = {"balances", "rounds", "reconcile"}


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span this process ends during the test, from the global tracer provider."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    assert isinstance(trace.get_tracer_provider(), TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # the processor stays on the global provider; it stores no more


def children(found: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    own = parent.get_span_context()
    assert own is not None
    return [
        span
        for span in found
        if span.parent is not None
        and span.parent.span_id == own.span_id
        and span.parent.trace_id == own.trace_id
    ]


def one(found: list[ReadableSpan], name: str) -> ReadableSpan:
    named = [span for span in found if span.name == name]
    assert len(named) == 1, f"{name}: {[s.name for s in found]}"
    return named[0]


def assert_projected(trace_spans: list[ReadableSpan], write: ReadableSpan) -> None:
    """Every view's `project` spans hang under the write, each ended after its commit."""
    projected = [s for s in children(trace_spans, write) if s.name.startswith("project ")]
    assert {s.name.removeprefix("project ") for s in projected} == VIEWS
    for span in projected:
        assert span.kind is trace.SpanKind.CONSUMER
        assert span.attributes is not None
        assert span.attributes["livebridge.view"] == span.name.removeprefix("project ")
        assert span.status.is_ok


async def test_a_bet_and_its_settlement_are_one_trace_span_by_span_to_the_webhook(
    tmp_path: Path,
    nats_server: NatsServer,
    database_url: str,
    stream_prefix: str,
    spans: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    received: list[dict[str, str]] = []

    async def platform(request: web.Request) -> web.Response:
        await request.read()
        received.append(dict(request.headers))
        return web.Response(status=204)

    receiver = web.Application()
    receiver.router.add_post("/settle", platform)
    async with TestServer(receiver) as hook:
        monkeypatch.setenv("TEST_EVO_TRACE_TOKEN", SECRET)
        monkeypatch.setenv("LIVEBRIDGE_CONFIG", str(tmp_path / "livebridge.toml"))
        monkeypatch.setenv("LIVEBRIDGE_SETTLE_STREAM", f"{stream_prefix}_SETTLE")
        monkeypatch.setenv("LIVEBRIDGE_SETTLE_SUBJECT", f"{stream_prefix.lower()}.settle")
        settings = settings_for_test(
            tmp_path,
            nats_server,
            database_url,
            stream_prefix,
            config=CONFIG.format(url=hook.make_url("/settle")),
        )
        # The views' spans are looked for in this process's exporter: their runners too.
        app = build_app(dataclasses.replace(settings, views_process=False))
        async with TestClient(TestServer(app)) as client:
            evolution, seat = await seated(client, app[LEDGER], "t-p1", SECRET)
            bet = {**seat, "game_id": "R-tr-1"}
            placed = await evolution.debit(
                **bet, tx_id="t-tx-1", ref_id="t-bet-1", amount=Decimal("2.50")
            )
            assert placed["status"] == "OK", placed
            won = await evolution.credit(
                **bet, tx_id="t-tx-2", ref_id="t-bet-1", amount=Decimal("5.00")
            )
            assert won["status"] == "OK", won
            for _ in range(400):
                names = {s.name for s in spans.get_finished_spans()}
                if received and "POST webhook platform" in names:
                    break
                await asyncio.sleep(0.025)
            await asyncio.sleep(0.3)  # the views' spans end when their batch commits
    finished = list(spans.get_finished_spans())

    # The debit: the provider's call, the ledger command, the JetStream write, every view.
    debit = one(finished, "wallet debit")
    assert debit.parent is None and debit.kind is trace.SpanKind.SERVER
    placing = [s for s in finished if s.context.trace_id == debit.context.trace_id]
    command = one(children(placing, debit), "ledger Debit")
    write = one(children(placing, command), "eventstore.write")
    assert write.kind is trace.SpanKind.PRODUCER
    assert_projected(placing, write)
    assert not [s for s in placing if s.name.startswith("round.settle")], "a bet settled early"

    # The credit: the same chain, then the settlement published and delivered.
    credit = one(finished, "wallet credit")
    assert credit.parent is None and credit.context.trace_id != debit.context.trace_id
    settling = [s for s in finished if s.context.trace_id == credit.context.trace_id]
    command = one(children(settling, credit), "ledger Credit")
    write = one(children(settling, command), "eventstore.write")
    assert_projected(settling, write)
    publish = one(children(settling, write), "round.settle publish")
    assert publish.kind is trace.SpanKind.PRODUCER
    assert publish.attributes is not None and publish.attributes["livebridge.round_id"] == "R-tr-1"
    deliver = one(children(settling, publish), "round.settle deliver platform")
    assert deliver.kind is trace.SpanKind.CONSUMER and deliver.status.is_ok
    post = one(children(settling, deliver), "POST webhook platform")
    assert post.kind is trace.SpanKind.CLIENT

    # The platform received the trace with the settlement, as the POST's child context.
    assert len(received) == 1
    version, trace_id, span_id, _flags = received[0]["traceparent"].split("-")
    assert (version, trace_id, span_id) == (
        "00",
        f"{credit.context.trace_id:032x}",
        f"{post.context.span_id:016x}",
    )
