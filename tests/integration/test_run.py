"""`livebridge run` (what `make run` starts) serves /readyz 200 within 10 s and stops cleanly."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.integration.support.livebridge_run import Bridge, status, stopped_everything

OPERATOR_KEY = "run-test-operator-key-0123456789"


def body(url: str) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {OPERATOR_KEY}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as resp:
            return {"status": resp.status, "body": json.loads(resp.read())}
    except urllib.error.HTTPError as error:
        return {"status": error.code, "body": json.loads(error.read())}


def test_run_is_ready_within_10_seconds_and_ctrl_c_stops_everything_it_started(
    tmp_path: Path,
) -> None:
    config = tmp_path / "livebridge.toml"
    config.write_text(
        '[[operator]]\nid = "casino"\n[[operator.key]]\nid = "k1"\n'
        'secret_env = "RUN_TEST_OPERATOR_KEY"\nscopes = ["read"]\n'
    )
    env = {"LIVEBRIDGE_CONFIG": str(config), "RUN_TEST_OPERATOR_KEY": OPERATOR_KEY}
    bridge = Bridge(tmp_path / "home", 1, env=env)
    try:
        bridge.ready(within=10)
        assert status(bridge.url("/healthz")) == 200
        missing_wallet = body(bridge.url("/platform/v1/wallets/nobody"))
        assert missing_wallet["status"] == 404
        assert missing_wallet["body"]["error"] == "LBRG-404 WALLET_NOT_FOUND"
        assert body(bridge.url("/disputes/v1/rounds/R-none"))["status"] == 404
        endpoints = json.loads((tmp_path / "home" / "endpoints.json").read_text())
        assert endpoints["nats_url"].startswith("nats://127.0.0.1:")
        store = tmp_path / "home" / "nats"
        assert (store / "jetstream").is_dir(), "the embedded nats-server keeps its data in home"

        assert bridge.interrupt(within=20)[0] == 0
        assert stopped_everything(store), "nats-server outlived livebridge run"
    finally:
        bridge.close()
