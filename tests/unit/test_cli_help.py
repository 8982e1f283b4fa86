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


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["export", "--round", "", "--out", "x"], "an id may not be empty"),
        (["export", "--session", " ", "--out", "x"], "an id may not be empty"),
        (["pilot", "--provider", "evo", "--rounds", "99999999999999999999"], "not between 1"),
        (["pilot", "--provider", "evo", "--rounds", "0"], "not between 1"),
        (["pilot", "--provider", "evo", "--rounds", "ten"], "not a whole number"),
    ],
)
def test_an_argument_that_can_never_work_is_a_usage_error(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused by argparse (one line, status 2) before anything is opened, not a
    traceback from the export or a database refusing the number."""
    with pytest.raises(SystemExit) as exit:
        cli.parser({}).parse_args(argv)
    assert exit.value.code == 2
    assert says in capsys.readouterr().err
