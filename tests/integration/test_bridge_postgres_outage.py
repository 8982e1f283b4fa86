"""PostgreSQL goes away under a running bridge, then comes back.

The bridge reaches PostgreSQL through a TCP proxy the test takes down and brings up again
(the machine's server keeps running). While it is down every read answers a prompt
`LBRG-503 VIEWS_UNAVAILABLE` and `/readyz` 503; the ledger goes on taking writes (its
log is JetStream); once PostgreSQL is back the views catch up within seconds.
"""

from __future__ import annotations

import asyncio
import os
import time
from decimal import Decimal
from pathlib import Path

import psycopg
from aiohttp.test_utils import TestClient
from aiohttp.test_utils import TestServer

from services.bridge.main import LEDGER
from services.bridge.main import build_app
from services.infra.natsserver import NatsServer
from tests.integration.support.bridge_settings import operator_toml
from tests.integration.support.bridge_settings import settings_for_test
from tests.integration.tcpproxy import TcpProxy

OPERATOR_KEY = "outage-test-operator-key-0123456789"
CONFIG = operator_toml("OUTAGE_TEST_OPERATOR_KEY")
OUTAGE = 8.0
"""Long enough for psycopg_pool's own backoff (1, 2, 4, 8 s...) to leave the next
reconnect attempt 5-8 s after PostgreSQL is back."""


async def test_while_postgresql_is_down_reads_answer_503_at_once_and_views_catch_up_after(
    tmp_path: Path,
    nats_server: NatsServer,
    database_url: str,
    stream_prefix: str,
) -> None:
    parts = psycopg.conninfo.conninfo_to_dict(database_url)
    with TcpProxy(int(str(parts.get("port", 5432)))) as proxy:
        parts["port"] = str(proxy.port)
        settings = settings_for_test(
            tmp_path,
            nats_server,
            psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in parts.items()}),
            stream_prefix,
            config=CONFIG,
            environ={**os.environ, "OUTAGE_TEST_OPERATOR_KEY": OPERATOR_KEY},
        )
        app = build_app(settings)
        headers = {"Authorization": f"Bearer {OPERATOR_KEY}"}
        async with TestClient(TestServer(app), headers=headers) as client:
            ledger = app[LEDGER]
            await asyncio.to_thread(ledger.open_wallet, "p1", "EUR")
            await asyncio.to_thread(ledger.deposit, "p1", "EUR", Decimal("5.00"), tx_id="d-1")
            head = ledger.recorder.max_notification_id()
            response = await client.get(f"/platform/v1/wallets/p1?atLeast={head}")
            assert response.status == 200, await response.text()

            proxy.down()
            down_at = time.monotonic()
            # Reads say at once that the views are unavailable; readiness agrees.
            for target in (
                "/platform/v1/wallets/p1",
                f"/platform/v1/wallets/p1?atLeast={head}",
                "/disputes/v1/rounds/R-1",
            ):
                started = time.monotonic()
                response = await client.get(target)
                assert time.monotonic() - started < 4.0, f"{target} hung"
                assert response.status == 503, await response.text()
                body = await response.json()
                assert body["error"] == "LBRG-503 VIEWS_UNAVAILABLE", body
            response = await client.get("/readyz")
            assert response.status == 503
            assert (await response.json())["checks"]["postgres"].startswith("error")
            # The ledger still takes money: its log is not in PostgreSQL.
            await asyncio.to_thread(ledger.deposit, "p1", "EUR", Decimal("2.50"), tx_id="d-2")
            head = ledger.recorder.max_notification_id()
            await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - down_at)))

            proxy.up()
            back_at = time.monotonic()
            while True:
                response = await client.get(f"/platform/v1/wallets/p1?atLeast={head}")
                if response.status == 200:
                    break
                assert time.monotonic() - back_at < 30, await response.text()
                await asyncio.sleep(0.1)
            caught_up = time.monotonic() - back_at
            assert (await response.json())["balances"][0]["balance"] == "7.50"
            assert caught_up < 3.0, f"views caught up {caught_up:.1f} s after PostgreSQL returned"
            assert (await client.get("/readyz")).status == 200
