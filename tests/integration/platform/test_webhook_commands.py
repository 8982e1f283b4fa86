"""`livebridge webhooks parked|resend` against a real nats-server: unknown endpoints, and a
server without the settle stream, are errors."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import nats
import pytest
from nats.js.errors import NotFoundError

from services import cli
from services.infra.natsserver import free_port
from services.platform.stream import SettleStream


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "livebridge.toml"
    path.write_text(
        '[[webhooks]]\nname = "platform"\nurl = "http://127.0.0.1:9/settle"\nsecret = "k"\n'
    )
    monkeypatch.setenv("LIVEBRIDGE_CONFIG", str(path))
    monkeypatch.setenv("LIVEBRIDGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LIVEBRIDGE_SETTLE_STREAM", "WEBHOOKCMD")
    return path


def test_parked_for_an_endpoint_not_in_the_config_is_an_error_naming_the_known_ones(
    config: Path, nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["webhooks", "parked", "--endpoint", "platfrom", "--nats-url", nats_url])
    assert stopped.value.code == 2
    out, err = capsys.readouterr()
    assert "'platfrom'" in err and "'platform'" in err and str(config) in err
    assert len(err.strip().splitlines()) == 1 and "parked for" not in out


def test_resend_to_an_endpoint_not_in_the_config_is_exit_2_not_the_1_of_still_parked(
    config: Path, nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A script runs `resend` again while it exits 1 (some still parked): a mistyped name
    must not look like that."""
    with pytest.raises(SystemExit) as stopped:
        cli.main(["webhooks", "resend", "--endpoint", "platfrom", "--nats-url", nats_url])
    assert stopped.value.code == 2
    assert "livebridge webhooks: no endpoint 'platfrom'" in capsys.readouterr().err


def test_parked_for_a_configured_endpoint_lists_what_is_parked(
    config: Path, nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_settle_stream(nats_url, "WEBHOOKCMD"))
    assert cli.main(["webhooks", "parked", "--endpoint", "platform", "--nats-url", nats_url]) == 0
    assert capsys.readouterr().out.strip() == "0 parked for platform"


@pytest.mark.parametrize("action", ["parked", "resend"])
def test_a_server_without_the_settle_stream_is_an_error_not_0_parked(
    action: str,
    config: Path,
    nats_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another server, or a stream name the bridge does not use: the operator is told,
    rather than reading "0 parked" (and the look makes no parked bucket there)."""
    monkeypatch.setenv("LIVEBRIDGE_SETTLE_STREAM", "WEBHOOKNONE")
    with pytest.raises(SystemExit) as stopped:
        cli.main(["webhooks", action, "--endpoint", "platform", "--nats-url", nats_url])
    assert stopped.value.code == 2
    out, err = capsys.readouterr()
    assert f"livebridge webhooks: {nats_url} holds no stream WEBHOOKNONE" in err
    assert "parked" not in out and len(err.strip().splitlines()) == 1
    assert not asyncio.run(_buckets(nats_url, "WEBHOOKNONE_WEBHOOK_PARKED"))


async def _settle_stream(nats_url: str, name: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        await SettleStream(name=name, root=f"{name.lower()}.round.settle").ensure(nc.jetstream())
    finally:
        await nc.close()


async def _buckets(nats_url: str, bucket: str) -> bool:
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().stream_info(f"KV_{bucket}")
    except NotFoundError:
        return False
    finally:
        await nc.close()
    return True


@pytest.mark.parametrize("action", ["parked", "resend"])
def test_a_nats_server_that_is_not_there_is_one_line_within_seconds_and_exit_2(
    action: str, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    absent = f"nats://127.0.0.1:{free_port()}"
    started = time.monotonic()

    with pytest.raises(SystemExit) as stopped:
        cli.main(["webhooks", action, "--endpoint", "platform", "--nats-url", absent])

    assert time.monotonic() - started < 10
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"livebridge webhooks: cannot reach NATS at {absent}" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
