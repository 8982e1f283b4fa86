"""The commands find a running bridge by `<home>/endpoints.json`; a file that is not one the
bridge wrote is passed over, never a traceback of every command."""

import os
from pathlib import Path

import pytest

from services.bridge.config import use_running_bridge


@pytest.mark.parametrize("text", ["[]", "null", '"nats://x"', "3", "{}", "{"])
def test_an_endpoints_file_the_bridge_did_not_write_is_passed_over(
    tmp_path: Path, text: str
) -> None:
    (tmp_path / "endpoints.json").write_text(text)
    environ = {"LIVEBRIDGE_HOME": str(tmp_path)}
    use_running_bridge(environ)
    assert environ == {"LIVEBRIDGE_HOME": str(tmp_path)}


def test_the_running_bridges_endpoints_fill_what_is_unset(tmp_path: Path) -> None:
    (tmp_path / "endpoints.json").write_text(
        f'{{"pid": {os.getpid()}, "nats_url": "nats://n", "database_url": "postgresql://d"}}'
    )
    environ = {"LIVEBRIDGE_HOME": str(tmp_path), "LIVEBRIDGE_DATABASE_URL": "postgresql://mine"}
    use_running_bridge(environ)
    assert environ["LIVEBRIDGE_NATS_URL"] == "nats://n"
    assert environ["LIVEBRIDGE_DATABASE_URL"] == "postgresql://mine"
