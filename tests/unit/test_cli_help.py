"""`livebridge --help` and every subcommand's `--help` render (argparse formats help with %)."""

import argparse

import pytest

from services import cli


def subcommands() -> list[str]:
    top = cli.parser({})
    (choices,) = (a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(choices.choices)


@pytest.mark.parametrize("argv", [[], *([name] for name in subcommands())])
def test_help_renders_and_exits_0(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        cli.parser({}).parse_args([*argv, "--help"])
    assert exit.value.code == 0
    assert "usage: livebridge" in capsys.readouterr().out
