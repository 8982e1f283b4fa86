"""`livebridge run` as an operator meets it: restarts, Ctrl-C, a nats-server that dies."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.integration.support.bridge_settings import provider_toml
from tests.integration.support.livebridge_run import Bridge
from tests.integration.support.livebridge_run import status
from tests.integration.support.waiting import until


def test_restarts_on_one_home_start_without_a_traceback_and_ctrl_c_exits_0_at_once(
    tmp_path: Path, database_url: str
) -> None:
    home = tmp_path / "home"
    for n in range(2):
        bridge = Bridge(home, n, database_url)
        try:
            bridge.ready()
            code, seconds = bridge.interrupt()
        finally:
            bridge.close()
        output = bridge.log.read_text()
        assert code == 0, output
        assert seconds < 5, f"Ctrl-C took {seconds:.1f} s"
        assert "Traceback" not in output, output


SOFTSWISS = provider_toml(
    "softswiss",
    "softswiss",
    "SOFTSWISS_SECRET",
    feed="push",
    feed_secret_env="LIVEBRIDGE_FEED_SECRET",
)


def softswiss_bridge(tmp_path: Path, database_url: str) -> Bridge:
    """`livebridge run` with the SoftSwiss provider of `SOFTSWISS` in its livebridge.toml."""
    config = tmp_path / "livebridge.toml"
    config.write_text(SOFTSWISS)
    env = {
        "LIVEBRIDGE_CONFIG": str(config),
        "SOFTSWISS_SECRET": "softswiss-TEST-ONLY-secret",
        "LIVEBRIDGE_FEED_SECRET": "feed-TEST-ONLY-secret",
    }
    return Bridge(tmp_path / "home", 0, database_url, env)


def readme_command(name: str) -> str:
    """The README's `livebridge <name> ...` command, as written (joined across its lines)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    found = re.search(rf"`(livebridge {name} [^`]+)`", readme)
    assert found is not None, f"README.md shows no `livebridge {name} ...` command"
    return " ".join(found.group(1).split())


def run_beside(bridge: Bridge, command: str, timeout: float) -> str:
    """Run the `livebridge ...` `command` on `bridge`'s home, as an operator beside it
    would; it must exit 0. Its output."""
    argv = [sys.executable, "-m", "services.cli", *shlex.split(command)[1:]]
    done = subprocess.run(
        argv,
        env={**os.environ, "LIVEBRIDGE_HOME": str(bridge.home), **bridge.env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def test_the_readme_simulate_command_plays_beside_a_started_bridge(
    tmp_path: Path, database_url: str
) -> None:
    # Beside `make run` (here `livebridge run` on a free port: the README's 8080 is
    # replaced by it), with the provider in livebridge.toml as the README says.
    bridge = softswiss_bridge(tmp_path, database_url)
    try:
        bridge.ready()
        command = readme_command("simulate").replace("http://127.0.0.1:8080", bridge.url())
        played = run_beside(bridge, command, timeout=120)
        report = json.loads(played)
        assert report["ok"] is True and report["bets"], report
        # The pilot scorecard over the rounds just played: every one cross-verified.
        scored = run_beside(bridge, readme_command("pilot"), timeout=60)
        assert "verdict              PASS" in scored, scored
        code, _ = bridge.interrupt()
        assert code == 0, bridge.log.read_text()
    finally:
        bridge.close()


def nats_server_pids(home: Path) -> list[int]:
    found = subprocess.run(
        ["pgrep", "-f", str(home / "nats")], capture_output=True, text=True, check=False
    )
    return [int(pid) for pid in found.stdout.split()]


def test_a_dead_nats_server_is_restarted_and_healthz_says_when_it_cannot_be(
    tmp_path: Path, database_url: str
) -> None:
    home = tmp_path / "home"
    bridge = Bridge(home, 0, database_url)
    try:
        bridge.ready()
        (first,) = nats_server_pids(home)
        url = json.loads((home / "endpoints.json").read_text())["nats_url"]

        # kill -9: the bridge starts it again on the same port and store, and is ready.
        os.kill(first, signal.SIGKILL)
        until(lambda: status(bridge.url("/readyz")) != 200, 5, "readyz noticing")
        until(lambda: status(bridge.url("/readyz")) == 200, 15, "ready again")
        assert nats_server_pids(home) not in ([], [first])
        assert json.loads((home / "endpoints.json").read_text())["nats_url"] == url
        assert status(bridge.url("/healthz")) == 200

        # Killed again with its store taken away (a file where the directory was): it
        # cannot come back, and /healthz says so, until the store is back.
        (second,) = nats_server_pids(home)
        store, away = home / "nats", home / "nats-away"
        store.rename(away)
        store.write_text("not a directory")
        try:
            os.kill(second, signal.SIGKILL)
            until(lambda: status(bridge.url("/healthz")) == 503, 15, "healthz 503")
        finally:
            store.unlink()
            away.rename(store)
        until(lambda: status(bridge.url("/healthz")) == 200, 20, "healthz 200 again")
        until(lambda: status(bridge.url("/readyz")) == 200, 15, "ready again")

        code, seconds = bridge.interrupt()
        output = bridge.log.read_text()
        assert code == 0 and seconds < 5, (code, seconds, output)
        attempts = [line for line in output.splitlines() if "restarting it, attempt" in line]
        assert 2 <= len(attempts) <= 12, attempts
        assert nats_server_pids(bridge.home) == [], "nats-server outlived livebridge run"
    finally:
        bridge.close()


def wallet_calls_answered(bridge: Bridge) -> int:
    """Wallet calls the bridge has answered so far (its edge histogram's count on /metrics)."""
    try:
        with urllib.request.urlopen(bridge.url("/metrics"), timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return 0
    counts = re.findall(
        r"^livebridge_edge_wallet_duration_milliseconds_count\{.*\} (\S+)$", text, re.M
    )
    return int(sum(float(c) for c in counts))


@pytest.mark.parametrize("nats_just_killed", [False, True], ids=["nats-up", "nats-just-killed"])
def test_ctrl_c_under_load_stops_everything_within_seconds_with_exit_0(
    tmp_path: Path, database_url: str, nats_just_killed: bool
) -> None:
    # Tables in play (the simulator's SoftSwiss clients, several rounds at once) when the
    # operator presses Ctrl-C: wallet calls are in flight at that moment. In the second
    # case its nats-server has just died too (every connection is failing to reconnect).
    bridge = softswiss_bridge(tmp_path, database_url)
    load: subprocess.Popen[bytes] | None = None
    try:
        bridge.ready()
        argv = [sys.executable, "-m", "services.cli", "simulate", "--url", bridge.url()]
        argv += ["--tables", "4", "--players", "8", "--rounds", "500", "--parallel", "2"]
        load = subprocess.Popen(
            argv,
            env={**os.environ, "LIVEBRIDGE_HOME": str(bridge.home), **bridge.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        until(lambda: wallet_calls_answered(bridge) >= 50, 60, "50 wallet calls answered")
        assert load.poll() is None, "the load ended before Ctrl-C"
        if nats_just_killed:
            for pid in nats_server_pids(bridge.home):
                os.kill(pid, signal.SIGKILL)
            time.sleep(1.0)

        code, seconds = bridge.interrupt()
        output = bridge.log.read_text()
        assert code == 0, output[-3000:]
        assert seconds < 10, f"Ctrl-C under load took {seconds:.1f} s"
        assert "Traceback" not in output, output[-3000:]
        assert nats_server_pids(bridge.home) == [], "nats-server outlived livebridge run"
    finally:
        if load is not None and load.poll() is None:
            load.kill()
            load.wait()
        bridge.close()
