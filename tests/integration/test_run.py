"""`livebridge run` (what `make run` starts) serves /readyz 200 within 10 s and stops cleanly."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.support.bridge_settings import operator_toml
from tests.integration.support.livebridge_run import Answer
from tests.integration.support.livebridge_run import Bridge
from tests.integration.support.livebridge_run import request
from tests.integration.support.livebridge_run import status
from tests.integration.support.livebridge_run import stopped_everything

OPERATOR_KEY = "run-test-operator-key-0123456789"


def read(url: str) -> Answer:
    return request(url, headers={"Authorization": f"Bearer {OPERATOR_KEY}"}, timeout=2)


def test_run_is_ready_within_10_seconds_and_ctrl_c_stops_everything_it_started(
    tmp_path: Path,
) -> None:
    config = tmp_path / "livebridge.toml"
    config.write_text(operator_toml("RUN_TEST_OPERATOR_KEY"))
    env = {"LIVEBRIDGE_CONFIG": str(config), "RUN_TEST_OPERATOR_KEY": OPERATOR_KEY}
    bridge = Bridge(tmp_path / "home", 1, env=env)
    try:
        bridge.ready(within=10)
        assert status(bridge.url("/healthz")) == 200
        missing_wallet = read(bridge.url("/platform/v1/wallets/nobody"))
        assert missing_wallet.status == 404
        assert missing_wallet.json()["error"] == "LBRG-404 WALLET_NOT_FOUND"
        missing_round = read(bridge.url("/disputes/v1/rounds/R-none"))
        assert missing_round.status == 404
        missing_round.json()  # answered in JSON
        endpoints = json.loads((tmp_path / "home" / "endpoints.json").read_text())
        assert endpoints["nats_url"].startswith("nats://127.0.0.1:")
        store = tmp_path / "home" / "nats"
        assert (store / "jetstream").is_dir(), "the embedded nats-server keeps its data in home"

        assert bridge.interrupt(within=20)[0] == 0
        assert stopped_everything(store), "nats-server outlived livebridge run"
    finally:
        bridge.close()
