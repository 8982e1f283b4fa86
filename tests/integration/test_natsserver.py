"""The launcher starts a fit server, and refuses unfit ones with a message saying what to change."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.infra.natsserver import CONNECT_WITHIN_S
from services.infra.natsserver import NatsServer
from services.infra.natsserver import NatsServerError
from services.infra.natsserver import ServerFacts
from services.infra.natsserver import UnfitServerError
from services.infra.natsserver import check_facts
from services.infra.natsserver import check_server
from services.infra.natsserver import free_port
from services.infra.natsserver import read_varz
from tests.integration.support.servers_away import unused_port


def test_the_wheel_server_is_recent_and_fsyncs_every_write(nats_server: NatsServer) -> None:
    facts = read_varz(nats_server.monitor_url)
    assert facts.sync_always
    assert facts.version.startswith("2.15")


def test_a_server_older_than_2_12_is_refused_with_what_to_do() -> None:
    old = ServerFacts(version="2.9.25", sync_always=True, jetstream=True)
    with pytest.raises(UnfitServerError, match=r"needs >= 2\.12"):
        check_facts(old, where="nats://debian:4222")


def test_a_server_that_acks_before_fsync_is_refused_unless_allowed() -> None:
    lazy = ServerFacts(version="2.15.1", sync_always=False, jetstream=True)
    with pytest.raises(UnfitServerError, match="sync_interval: always"):
        check_facts(lazy, where="nats://x:4222")
    check_facts(lazy, where="nats://x:4222", allow_unsynced=True)


async def test_check_server_fails_closed_without_a_monitoring_endpoint(
    nats_server: NatsServer,
) -> None:
    with pytest.raises(UnfitServerError, match="LIVEBRIDGE_NATS_MONITOR_URL is not set"):
        await check_server(nats_server.url)
    silent = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(UnfitServerError, match=f"{silent}/varz does not answer"):
        await check_server(nats_server.url, monitor_url=silent)
    facts = await check_server(nats_server.url, allow_unsynced=True)
    assert not facts.sync_always, "unverified is never reported as fsyncing"
    facts = await check_server(nats_server.url, monitor_url=nats_server.monitor_url)
    assert facts.sync_always and facts.version.startswith("2.15")


@pytest.mark.parametrize("servers", [1, 3], ids=["a server", "a cluster's three"])
async def test_a_url_where_no_server_answers_is_one_error_naming_it_within_seconds(
    servers: int, caplog: pytest.LogCaptureFixture
) -> None:
    """nats-py alone would try it for ever, logging a traceback every two seconds."""
    away = ",".join(f"nats://127.0.0.1:{unused_port()}" for _ in range(servers))

    with pytest.raises(NatsServerError) as refused:  # not a TimeoutError: it gave up itself
        await asyncio.wait_for(check_server(away, allow_unsynced=True), 4 * CONNECT_WITHIN_S)

    said = str(refused.value)
    assert said.startswith(f"nats-server at {away} does not answer (") and "\n" not in said
    assert "LIVEBRIDGE_NATS_URL" in said
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_a_password_or_token_in_the_url_is_never_shown() -> None:
    port, other = unused_port(), unused_port()
    away = f"nats://ops:s3cret-pw@127.0.0.1:{port},nats://t0ken-xyz@127.0.0.1:{other}"

    with pytest.raises(NatsServerError) as refused:
        await asyncio.wait_for(check_server(away, allow_unsynced=True), 4 * CONNECT_WITHIN_S)

    said = str(refused.value)
    assert "s3cret-pw" not in said and "t0ken-xyz" not in said, said
    assert f"nats://ops:***@127.0.0.1:{port},nats://***@127.0.0.1:{other}" in said


@pytest.mark.parametrize("url", ["nats://ops:pw@[::1", "nats://127.0.0.1:notaport", "h:4222x"])
async def test_a_url_that_is_no_nats_url_is_one_error_naming_it(url: str) -> None:
    """Not an AssertionError from nats-py closing a client that never began."""
    with pytest.raises(NatsServerError) as refused:
        await check_server(url, allow_unsynced=True)

    said = str(refused.value)
    assert said.startswith("LIVEBRIDGE_NATS_URL=") and "is no NATS URL" in said
    assert "pw" not in said


def test_a_killed_server_restarts_on_the_same_port_and_store(nats_server: NatsServer) -> None:
    with NatsServer() as server:
        port = server.port
        server.kill()
        server.start()
        assert server.port == port
        assert read_varz(server.monitor_url).jetstream


def test_the_server_collects_garbage_within_its_budget_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GOGC", raising=False)
    monkeypatch.setenv("GOMEMLIMIT", "256MiB")
    with NatsServer() as server:
        assert server.pid is not None
        environ = Path(f"/proc/{server.pid}/environ").read_bytes().split(b"\0")
    assert b"GOGC=off" in environ
    assert b"GOMEMLIMIT=256MiB" in environ, "the environment's budget wins"
