"""`livebridge run` (what `make run` starts) serves /readyz 200 within 10 s and stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from services.infra.natsserver import free_port


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


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
    port = free_port()
    config = tmp_path / "livebridge.toml"
    config.write_text(
        '[[operator]]\nid = "casino"\n[[operator.key]]\nid = "k1"\n'
        'secret_env = "RUN_TEST_OPERATOR_KEY"\nscopes = ["read"]\n'
    )
    env = dict(
        os.environ,
        LIVEBRIDGE_HOME=str(tmp_path / "home"),
        LIVEBRIDGE_HTTP_PORT=str(port),
        LIVEBRIDGE_CONFIG=str(config),
        RUN_TEST_OPERATOR_KEY=OPERATOR_KEY,
    )
    env.pop("LIVEBRIDGE_NATS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        started = time.monotonic()
        while status(f"http://127.0.0.1:{port}/readyz") != 200:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() - started < 10, "not ready within 10 s"
            time.sleep(0.1)
        assert status(f"http://127.0.0.1:{port}/healthz") == 200
        base = f"http://127.0.0.1:{port}"
        missing_wallet = body(f"{base}/platform/v1/wallets/nobody")
        assert missing_wallet["status"] == 404
        assert missing_wallet["body"]["error"] == "LBRG-404 WALLET_NOT_FOUND"
        assert body(f"{base}/disputes/v1/rounds/R-none")["status"] == 404
        endpoints = json.loads((tmp_path / "home" / "endpoints.json").read_text())
        assert endpoints["nats_url"].startswith("nats://127.0.0.1:")
        store = tmp_path / "home" / "nats"
        assert (store / "jetstream").is_dir(), "the embedded nats-server keeps its data in home"

        process.send_signal(signal.SIGINT)
        assert process.wait(20) == 0
        leftovers = subprocess.run(
            ["pgrep", "-f", str(store)], capture_output=True, text=True, check=False
        )
        assert leftovers.stdout.strip() == "", "nats-server outlived livebridge run"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
