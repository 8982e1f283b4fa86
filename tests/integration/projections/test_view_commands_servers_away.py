"""`livebridge replay`, `projections rebuild|parked` and `pilot` with their database or log
away or wrongly named: one line saying which, within seconds, no traceback, no stream made."""

from __future__ import annotations

import asyncio
import time

import pytest

from projections.commands import EXIT_CONFIG
from projections.pilot import EXIT_UNREAD
from tests.integration.support.servers_away import has_stream
from tests.integration.support.servers_away import unused_port
from tests.unit.export.support.toylog import cli

VIEW_COMMANDS = {
    ("replay", "R-1", "--provider", "evo"): EXIT_CONFIG,
    ("projections", "rebuild", "--no-swap"): EXIT_CONFIG,
    ("projections", "parked"): EXIT_CONFIG,
    ("pilot", "--provider", "evo"): EXIT_UNREAD,
}
LOG_COMMANDS = [("replay", "R-1", "--provider", "evo"), ("projections", "rebuild", "--no-swap")]


@pytest.fixture
def env(
    nats_url: str, database_url: str, stream_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVEBRIDGE_NATS_URL", nats_url)
    monkeypatch.setenv("LIVEBRIDGE_DATABASE_URL", database_url)
    monkeypatch.setenv("LIVEBRIDGE_STREAM_PREFIX", stream_prefix)


@pytest.mark.parametrize(("argv", "code"), VIEW_COMMANDS.items())
def test_a_views_database_that_does_not_answer_is_named_within_seconds(
    env: None,
    argv: tuple[str, ...],
    code: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LIVEBRIDGE_DATABASE_URL", f"postgresql://127.0.0.1:{unused_port()}/x")
    started = time.monotonic()

    assert cli(*argv) == code

    assert time.monotonic() - started < 10
    said = capsys.readouterr().err
    assert "cannot connect to the views' database" in said
    assert "LIVEBRIDGE_DATABASE_URL" in said


@pytest.mark.parametrize("argv", LOG_COMMANDS)
def test_a_log_server_that_does_not_answer_is_named_within_seconds(
    env: None,
    argv: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    closed = f"nats://127.0.0.1:{unused_port()}"
    monkeypatch.setenv("LIVEBRIDGE_NATS_URL", closed)
    started = time.monotonic()

    assert cli(*argv) == EXIT_CONFIG

    assert time.monotonic() - started < 10
    assert f"cannot reach {closed}" in capsys.readouterr().err


@pytest.mark.parametrize("argv", LOG_COMMANDS)
def test_a_prefix_with_no_ledger_stream_is_named_and_no_stream_is_made(
    env: None,
    argv: tuple[str, ...],
    nats_url: str,
    stream_prefix: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli(*argv) == EXIT_CONFIG

    said = capsys.readouterr().err
    assert f"holds no stream {stream_prefix}_LEDGER" in said
    assert "LIVEBRIDGE_STREAM_PREFIX" in said
    assert not asyncio.run(has_stream(nats_url, f"{stream_prefix}_LEDGER"))
