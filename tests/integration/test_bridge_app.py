"""The composition root of `livebridge run`, served in-process against real NATS and PostgreSQL.

It mounts the feeds of the configured providers beside their wallet routes, runs the round
book's follower, refuses readiness on a NATS server it could not verify as fsyncing, and
the other commands find it through `endpoints.json` only while it is alive.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiohttp.test_utils import TestServer

from contracts import feeds
from services.bridge.config import ENDPOINTS_FILE
from services.bridge.config import Settings
from services.bridge.config import use_running_bridge
from services.bridge.main import LEDGER
from services.bridge.main import POSTGRES
from services.bridge.main import build_app
from services.infra.natsserver import NatsServer
from services.ledger.application import Ledger
from tests.integration.support.bridge_settings import provider_toml
from tests.integration.support.bridge_settings import settings_for_test
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import opened

FEED_SECRET = "feed-secret-for-tests"
CONFIG = provider_toml(
    "evo", "evolution", "TEST_EVO_TOKEN", feed="push", feed_secret_env="TEST_EVO_FEED_SECRET"
)


def settings(
    tmp_path: Path,
    nats_server: NatsServer,
    database_url: str,
    stream_prefix: str,
    *,
    monitored: bool = True,
) -> Settings:
    return settings_for_test(
        tmp_path, nats_server, database_url, stream_prefix, config=CONFIG, monitored=monitored
    )


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_EVO_TOKEN", "evo-token")
    monkeypatch.setenv("TEST_EVO_FEED_SECRET", FEED_SECRET)


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_the_bridge_mounts_push_feeds_and_records_what_they_bring(
    tmp_path: Path, nats_server: NatsServer, database_url: str, stream_prefix: str
) -> None:
    app = build_app(settings(tmp_path, nats_server, database_url, stream_prefix))
    async with serve(app) as client:
        body = feeds.encoder.encode(
            feeds.FeedBatch(events=[opened("R-feed-1", at=datetime.now(UTC))])
        )
        forged = await client.post("/feed/evo", data=body, headers={"X-Feed-Signature": "0" * 64})
        assert forged.status == 401
        signed = {feeds.SIGNATURE_HEADER: feeds.sign(body, FEED_SECRET)}
        response = await client.post("/feed/evo", data=body, headers=signed)
        assert response.status == 200, await response.text()
        state = await asyncio.to_thread(app[LEDGER].round_state, "evo", "R-feed-1")
        assert state.status == "OPEN"
        assert state.table == "T1"


async def test_the_round_book_follower_books_bets_without_being_asked(
    tmp_path: Path, nats_server: NatsServer, database_url: str, stream_prefix: str
) -> None:
    app = build_app(settings(tmp_path, nats_server, database_url, stream_prefix))
    async with serve(app):
        ledger = app[LEDGER]

        def bet(ledger: Ledger = ledger) -> int:
            ledger.open_wallet("p1", "EUR")
            ledger.deposit("p1", "EUR", Decimal(100), tx_id="dep-1")
            ledger.execute(debit("tx-1", "5", round_id="R-book-1", picks=()))
            return ledger.recorder.max_notification_id() or 0

        last = await asyncio.to_thread(bet)
        for _ in range(200):
            if ledger.round_book.scanned >= last:
                break
            await asyncio.sleep(0.02)
        assert ledger.round_book.scanned >= last, "the follower never read the bet"


async def test_readyz_refuses_a_nats_server_not_verified_as_fsyncing(
    tmp_path: Path, nats_server: NatsServer, database_url: str, stream_prefix: str
) -> None:
    unverified = settings(
        tmp_path,
        nats_server,
        database_url,
        stream_prefix,
        monitored=False,
    )
    async with serve(build_app(unverified)) as client:
        response = await client.get("/readyz")
        assert response.status == 503
        document = await response.json()
        assert document["checks"]["fsync"] == "not verified"
        assert document["checks"]["nats"] == "ok"
    async with serve(
        build_app(settings(tmp_path, nats_server, database_url, stream_prefix))
    ) as client:
        response = await client.get("/readyz")
        assert response.status == 200, await response.text()


async def test_readyz_says_which_dependency_is_down(
    tmp_path: Path, nats_server: NatsServer, database_url: str, stream_prefix: str
) -> None:
    app = build_app(settings(tmp_path, nats_server, database_url, stream_prefix))
    async with serve(app) as client:
        app[POSTGRES].url = "postgresql://postgres@127.0.0.1:1/none"  # as if it went away
        response = await client.get("/readyz")
        assert response.status == 503
        checks = (await response.json())["checks"]
        assert checks["postgres"].startswith("error")
        assert checks["nats"] == "ok"


def test_commands_ignore_the_endpoints_of_a_bridge_that_is_gone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    found = {"nats_url": "nats://127.0.0.1:1", "database_url": "postgresql://x", "pid": 0}
    (home / ENDPOINTS_FILE).write_text(json.dumps({**found, "pid": 2**22 + 12345}))
    environ: dict[str, str] = {"LIVEBRIDGE_HOME": str(home)}
    use_running_bridge(environ)
    assert "LIVEBRIDGE_NATS_URL" not in environ, "a dead bridge's endpoints were used"
    (home / ENDPOINTS_FILE).write_text(json.dumps({**found, "pid": os.getpid()}))
    use_running_bridge(environ)
    assert environ["LIVEBRIDGE_NATS_URL"] == "nats://127.0.0.1:1"
