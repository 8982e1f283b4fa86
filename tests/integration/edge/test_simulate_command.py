"""`livebridge simulate` against a served bridge: it funds, plays, checks, and reports in JSON."""

from __future__ import annotations

import argparse
import os

import pytest

from services.bridge.config import command_env
from services.cli import parser
from services.simulate.commands import _simulate
from tests.integration.edge.support.served_edge import provider
from tests.integration.edge.support.simulated_bridge import FEED_SECRET
from tests.integration.edge.support.simulated_bridge import served_bridge

SECRET = "ezugi-TEST-ONLY-secret"


def parse(argv: list[str]) -> argparse.Namespace:
    return parser(command_env(os.environ)).parse_args(argv)


async def test_simulate_plays_ezugi_tables_and_reports_every_balance_matched(
    nats_url: str, stream_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_EZUGI_SECRET", SECRET)
    monkeypatch.setenv("LIVEBRIDGE_FEED_SECRET", FEED_SECRET)
    config = provider("ezugi", SECRET.encode(), operator_id=42)
    async with served_bridge(nats_url, stream_prefix, config) as bridge:
        args = parse(
            [
                "simulate",
                "--url", bridge.url,
                "--dialect", "ezugi",
                "--tables", "3",
                "--players", "3",
                "--rounds", "2",
                "--seed", "11",
                "--secret-env", "SIM_EZUGI_SECRET",
                "--operator-id", "42",
                "--nats-url", nats_url,
                "--stream-prefix", stream_prefix,
                "--session-bucket", f"sessions_{stream_prefix.lower()}",
            ]
        )  # fmt: skip
        report = await _simulate(args, os.environ)
    assert report["ok"] is True, report
    assert report["tables"] == 3 and report["bets"]
