"""`livebridge export` pointed at a log that is not there: a one-line refusal, nothing written."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.integration.export.test_export_ledger import played
from tests.integration.support.servers_away import has_stream
from tests.integration.support.servers_away import unused_port
from tests.unit.export.support.toylog import cli
from tests.unit.export.support.toylog import refused_export


def test_an_export_from_a_prefix_with_no_ledger_stream_refuses_and_creates_no_stream(
    env: dict[str, str],
    public_key: Path,
    tmp_path: Path,
    nats_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stream = f"{env['NATS_STREAM_PREFIX']}_LEDGER"

    printed, said = refused_export(capsys, tmp_path / "out")

    assert f"holds no stream {stream}" in said
    assert "LIVEBRIDGE_STREAM_PREFIX" in said
    assert "exported" not in printed
    assert not (tmp_path / "out").exists()
    assert not asyncio.run(has_stream(nats_url, stream))


def test_an_export_from_a_server_that_is_not_there_refuses_within_seconds(
    env: dict[str, str],
    public_key: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    closed = f"nats://127.0.0.1:{unused_port()}"
    monkeypatch.setenv("NATS_URL", closed)
    capsys.readouterr()
    started = time.monotonic()

    assert cli("export", "--round", "R-1", "--out", str(tmp_path / "out")) == 2

    assert time.monotonic() - started < 10
    assert f"livebridge export: cannot reach {closed}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_export_into_a_directory_that_cannot_be_made_says_so_in_one_line(
    env: dict[str, str],
    public_key: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    played(env)
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    printed, said = refused_export(capsys, blocker / "out")

    assert said.startswith("livebridge export: ")
    assert str(blocker / "out") in said
    assert len(said.splitlines()) == 1
    assert "exported" not in printed
