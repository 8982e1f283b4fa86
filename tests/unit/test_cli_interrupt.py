"""Ctrl-C during a command is one line on stderr and status 130, not a traceback."""

import argparse
from collections.abc import Mapping

import pytest

from services import cli
from services.platform import commands


def test_ctrl_c_in_a_command_is_one_line_and_status_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(_args: argparse.Namespace, env: Mapping[str, str]) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "run_parked", interrupted)
    assert cli.main(["webhooks", "parked", "--endpoint", "platform"]) == 130
    assert capsys.readouterr().err == "livebridge webhooks: interrupted\n"
