"""`livebridge check` with an input it cannot read: one line naming it, exit 2 (never the
exit 1 of a verdict that found faults, never a traceback)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration.support.ledgers import jetstream_ledger
from tests.integration.support.servers_away import unused_port
from tests.unit.export.support.toylog import cli


@pytest.fixture
def history(tmp_path: Path) -> Path:
    path = tmp_path / "history.jsonl"
    path.write_text("")
    return path


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = cli("check", *argv)
    return code, capsys.readouterr().err


def test_a_history_that_is_missing_or_not_json_lines_is_named_with_exit_2(
    nats_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.jsonl"
    code, said = check(capsys, "--history", str(missing), "--nats-url", nats_url)
    assert (code, said.count("\n")) == (2, 1)
    assert str(missing) in said

    garbled = tmp_path / "garbled.jsonl"
    garbled.write_text("garbage{\n")
    code, said = check(capsys, "--history", str(garbled), "--nats-url", nats_url)
    assert (code, said.count("\n")) == (2, 1)
    assert said.startswith("livebridge check: ")


def test_a_stream_the_server_does_not_hold_is_named_with_exit_2(
    nats_url: str, history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, said = check(
        capsys, "--history", str(history), "--nats-url", nats_url, "--stream", "NOPE_LEDGER"
    )
    assert code == 2
    assert said == f"livebridge check: {nats_url} holds no stream NOPE_LEDGER\n"


def test_a_view_database_that_does_not_answer_is_named_with_exit_2(
    nats_url: str, stream_prefix: str, history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jetstream_ledger(nats_url, stream_prefix).close()  # the ledger's streams exist
    code, said = check(
        capsys,
        "--history",
        str(history),
        "--nats-url",
        nats_url,
        "--stream",
        f"{stream_prefix}_LEDGER",
        "--database-url",
        f"postgresql://127.0.0.1:{unused_port()}/x",
    )
    assert (code, said.count("\n")) == (2, 1)
    assert "Connection refused" in said


def test_a_log_server_that_does_not_answer_is_named_within_seconds_with_exit_2(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # nats-py's own reconnect budget (60 tries, 2 s apart) made this two minutes of
    # tracebacks from its default error callback before the error.
    started = time.monotonic()
    code, said = check(
        capsys, "--history", str(history), "--nats-url", f"nats://127.0.0.1:{unused_port()}"
    )
    assert (code, said.count("\n")) == (2, 1), said
    assert "no servers available" in said and "Traceback" not in said
    assert time.monotonic() - started < 60, "each server is tried once, not for minutes"
