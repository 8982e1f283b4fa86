"""Wallet API latency per provider and endpoint, from the SLA watch's samples in the log:
planted samples read back exactly from `/ops/v1/kpis` and `/metrics`, and again by a
bridge started afresh on the same log. Quantiles are read from the samples' histograms
(linear within a bucket of `LATENCY_BOUNDS_S`), counts and means are exact."""

from __future__ import annotations

import asyncio
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from services.bridge.config import Settings
from services.bridge.main import build_app
from services.ops.latency import sample as calls
from services.ops.playbook import WATCH
from tests.integration.ops.conftest import Bridge

DEBIT = [0.010, 0.020, 0.030, 0.040]
"""Four debits over two samples, one of them failed."""
CREDIT = [0.005, 0.015]

EXPECTED: dict[tuple[str, str], dict[str, Any]] = {
    ("evo", "wallet.debit"): {
        "count": 4,
        "mean": 0.025,
        "p50": 0.01 + 0.015 * (2 - 1) / 1,  # rank 2 in (0.01, 0.025], one below it
        "p99": 0.025 + 0.025 * (3.96 - 2) / 2,  # rank 3.96 in (0.025, 0.05], two below
        "failed": 1,
        "rate": 0.25,
    },
    ("evo", "wallet.credit"): {
        "count": 2,
        "mean": 0.010,
        "p50": 0.0025 + 0.0025 * 1 / 1,  # rank 1 in (0.0025, 0.005]
        "p99": 0.01 + 0.015 * (1.98 - 1) / 1,  # rank 1.98 in (0.01, 0.025]
        "failed": 0,
        "rate": 0.0,
    },
    ("evo", "feed.poll"): {
        "count": 1,
        "mean": 0.3,
        "p50": 0.25 + 0.25 * 0.5,  # in (0.25, 0.5]
        "p99": 0.25 + 0.25 * 0.99,
        "failed": 1,
        "rate": 1.0,
    },
    ("hub88", "wallet.bet"): {
        "count": 1,
        "mean": 0.5,
        "p50": 0.25 + 0.25 * 0.5,
        "p99": 0.25 + 0.25 * 0.99,
        "failed": 0,
        "rate": 0.0,
    },
}


def plant(bridge: Bridge) -> None:
    watch = bridge.app[WATCH]
    now = datetime.now(UTC)
    watch.sample(
        "evo",
        now - timedelta(minutes=2),
        [calls("wallet.debit", DEBIT[:3], 1)],
    )
    watch.sample(
        "evo",
        now - timedelta(minutes=1),
        [
            calls("feed.poll", [0.3], 1),
            calls("wallet.credit", CREDIT, 0),
            calls("wallet.debit", DEBIT[3:], 0),
        ],
    )
    watch.sample("hub88", now, [calls("wallet.bet", [0.5], 0)])
    # Outside the window: a day and an hour ago, never counted.
    watch.sample(
        "evo",
        now - timedelta(days=1, hours=1),
        [calls("wallet.debit", [9.0], 1)],
    )


async def read_back(bridge: Bridge) -> None:
    response = await bridge.client.get("/ops/v1/kpis", headers=Bridge.auth("read"))
    assert response.status == 200, await response.text()
    wallet = {(k["provider"], k["endpoint"]): k for k in (await response.json())["wallet"]}
    assert set(wallet) == set(EXPECTED)
    for key, want in EXPECTED.items():
        got = wallet[key]
        assert (got["latency"]["count"], got["failed"]) == (want["count"], want["failed"]), key
        assert got["latency"]["meanS"] == pytest.approx(want["mean"], abs=1e-12), key
        assert got["latency"]["p50S"] == pytest.approx(want["p50"], abs=1e-12), key
        assert got["latency"]["p99S"] == pytest.approx(want["p99"], abs=1e-12), key
        assert got["errorRate"] == pytest.approx(want["rate"], abs=1e-12), key

    shown: dict[str, float] = {}
    text = await (await bridge.client.get("/metrics")).text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("livebridge_kpi_wallet_"):
                labels = sample.labels
                extra = f"[{labels['quantile']}]" if "quantile" in labels else ""
                name = sample.name.removeprefix("livebridge_kpi_")
                shown[f"{labels['provider']} {labels['endpoint']} {name}{extra}"] = sample.value
    want_shown: dict[str, float] = {}
    for (provider, endpoint), want in EXPECTED.items():
        at = f"{provider} {endpoint}"
        want_shown |= {
            f"{at} wallet_latency_seconds[0.5]": want["p50"],
            f"{at} wallet_latency_seconds[0.99]": want["p99"],
            f"{at} wallet_calls": want["count"],
            f"{at} wallet_failed_calls": want["failed"],
            f"{at} wallet_error_rate": want["rate"],
        }
    assert shown == pytest.approx(want_shown, abs=1e-12)


async def test_wallet_latency_per_provider_and_endpoint_comes_from_the_log(
    bridge: Bridge, bridge_settings: Settings
) -> None:
    await asyncio.to_thread(plant, bridge)
    await read_back(bridge)

    # Another bridge on the same log (a restart, or a second process) answers the same.
    again = build_app(bridge_settings)
    async with TestClient(TestServer(again)) as client:
        await asyncio.sleep(1.1)  # past the metrics' one-second cache of the first board
        await read_back(Bridge(again, client))


async def test_a_window_further_back_than_the_copy_is_read_from_the_log(bridge: Bridge) -> None:
    await asyncio.to_thread(plant, bridge)
    since = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    response = await bridge.client.get(
        "/ops/v1/kpis", params={"since": since, "provider": "evo"}, headers=Bridge.auth("read")
    )
    assert response.status == 200, await response.text()
    wallet = {k["endpoint"]: k for k in (await response.json())["wallet"] if k["provider"] == "evo"}
    debit = wallet["wallet.debit"]
    assert (debit["latency"]["count"], debit["failed"]) == (5, 2)  # with the one 25 h ago
    assert debit["latency"]["meanS"] == pytest.approx((sum(DEBIT) + 9.0) / 5, abs=1e-12)


async def test_kpis_asked_for_one_provider_hold_that_providers_figures_only(
    bridge: Bridge,
) -> None:
    await asyncio.to_thread(plant, bridge)
    ticket = {"provider": "evo", "roundId": "R-1", "player": "p1", "reason": "rim"}
    opened = await bridge.client.post("/ops/v1/tickets", json=ticket, headers=Bridge.auth("admin"))
    assert opened.status == 201, await opened.text()
    for provider, endpoints, tickets in (
        ("hub88", {"wallet.bet"}, 0),
        ("evo", {"wallet.debit", "wallet.credit", "feed.poll"}, 1),
    ):
        response = await bridge.client.get(
            "/ops/v1/kpis", params={"provider": provider}, headers=Bridge.auth("read")
        )
        assert response.status == 200, await response.text()
        report = await response.json()
        assert {(k["provider"], k["endpoint"]) for k in report["wallet"]} == {
            (provider, e) for e in endpoints
        }
        assert report["disputes"]["opened"] == tickets
