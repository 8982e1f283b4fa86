"""Every command README.md shows is run here as written, or checked as far as it can be.

`tests/integration/support/readme.py` finds the commands (code blocks and inline spans);
`COMMANDS` says, for each, how it is checked. One test case per command, named by it, so
a failure names the command and its README line. A command the README gains without an
entry here fails: add one (the kinds below; a new example block gets `Script` entries).

- `Serves()`: run as written in a scratch directory (the repository's Makefile and .venv
  linked in) until `/readyz` answers 200, then Ctrl-C: exit 0, no traceback.
- `Script(expect)`: a fenced example block run as a bash script, command by command in
  one shell in a scratch directory: each command's exit status must be 0 and `expect`
  holds of its output. A comment `once <url> answers 200` waits for that.
- `Runs(expect)`: run as written in a scratch directory; exit 0 and `expect`.
- `Expands(lines)`: `make -n ...` must print these recipe lines. For targets that cannot
  run here: `make test` and `make check` run this very test (running them would recurse),
  `make bench` and `make soak` take minutes; what they run is tested on its own.
- `Via(command)`: the same program as another entry runs (`livebridge run` is what
  `make run` starts): `make -n` of that one must show it, and that one is checked.
- `Synopsis(test)`: a form with placeholders (`<roundId>`, `[NAME]`, `DIR`, `a|b`) that
  cannot run as written: each (sub)command's `--help` (the parser `livebridge` builds)
  must answer and name every option and choice it shows; `test` is the test that runs it
  for real.
- `Elsewhere(test, reads)`: run as written by another test, which reads it from the
  README (`reads` is how).

Everything runs against the real thing: the bridge's own nats-server, the session's
scratch PostgreSQL (`LIVEBRIDGE_DATABASE_URL`), a temporary `LIVEBRIDGE_HOME` and a free
HTTP port (`LIVEBRIDGE_HTTP_PORT`). The one rewrite of a command's text: the README's
`127.0.0.1:8080` becomes that free port (8080 may be taken on a shared machine).
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import redirect_stderr
from contextlib import redirect_stdout
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import pytest

from services import cli
from services.infra.natsserver import free_port
from tests.integration.support.livebridge_run import status
from tests.integration.support.livebridge_run import stopped_everything
from tests.integration.support.readme import Shown
from tests.integration.support.readme import shown

REPO = Path(__file__).resolve().parents[2]
README_PORT = "127.0.0.1:8080"
Expect = Callable[[str], None]


def nothing(output: str) -> None:
    """No check of the output beyond the exit status."""


def json_without_error(*keys: str) -> Expect:
    """The output is a JSON answer, not an `LBRG-...` error, and has `keys`."""

    def check(output: str) -> None:
        answer = json.loads(output)
        assert not (isinstance(answer, dict) and "error" in answer), answer
        for key in keys:
            assert key in answer, f"no {key!r} in {answer}"

    return check


def contains(*texts: str) -> Expect:
    def check(output: str) -> None:
        for text in texts:
            assert text in output, f"{text!r} not in:\n{output[-3000:]}"

    return check


@dataclass(frozen=True)
class Serves:
    within: float = 60.0


@dataclass(frozen=True)
class Script:
    expect: Expect = nothing


@dataclass(frozen=True)
class Runs:
    expect: Expect = nothing


@dataclass(frozen=True)
class Expands:
    lines: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class Via:
    command: str


@dataclass(frozen=True)
class Synopsis:
    test: str
    """`path::text`: the test file that runs this command for real, and text it holds."""


@dataclass(frozen=True)
class Elsewhere:
    test: str
    reads: str
    """Text the test's file holds: how it takes the command from the README."""


Check = Serves | Script | Runs | Expands | Via | Synopsis | Elsewhere

COMMANDS: dict[str, Check] = {
    # The opening lines and the targets.
    "make run": Serves(),
    "make run CLUSTER=1": Serves(),
    "make test": Expands(
        (".venv/bin/pytest -q -p no:cacheprovider --durations=25 -n 2 --dist loadgroup",),
        "it runs this test; running it here would recurse",
    ),
    "make check": Expands(
        (
            ".venv/bin/ruff check .",
            ".venv/bin/ruff format --check .",
            ".venv/bin/mypy",
            ".venv/bin/pytest -q -p no:cacheprovider --durations=25 -n 2 --dist loadgroup",
        ),
        "its tests include this one; lint and types run before landing",
    ),
    "make help": Runs(contains("make run", "make test", "make check", "make bench", "make soak")),
    "make bench": Expands(
        (".venv/bin/livebridge bench",),
        "minutes; a small run of every area is tests/integration/bench",
    ),
    "make soak": Expands(
        ("LIVEBRIDGE_SOAK=1 .venv/bin/pytest -q -p no:cacheprovider -m soak",),
        "the long sizes take long; tests/unit/test_soak_marks.py holds the marks",
    ),
    "make chaos": Expands(
        (".venv/bin/livebridge chaos --cycles 5 --duration 10",),
        "a minute of faults; tests/integration/chaos/test_chaos_run.py runs a short one",
    ),
    "make chaos CYCLES=20 SEED=20261203": Expands(
        (".venv/bin/livebridge chaos --cycles 20 --duration 10 --seed 20261203",),
        "minutes of faults; tests/integration/chaos/test_chaos_run.py runs a short one",
    ),
    "make chaos CLUSTER=1 CYCLES=10 SEED=20261203": Expands(
        (".venv/bin/livebridge chaos --cycles 10 --duration 10 --seed 20261203 --cluster",),
        "minutes of faults; tests/integration/chaos/test_chaos_cluster.py runs a short one",
    ),
    "livebridge chaos": Via("make chaos"),
    "livebridge chaos --cycles 6 --seed 7 --faults kill pause postgres webhooks clock": Synopsis(
        "tests/integration/chaos/test_chaos_run.py::"
        "test_a_short_chaos_run_loses_nothing_and_pays_nothing_twice"
    ),
    "livebridge check --history FILE --nats-url URL [--database-url URL]": Synopsis(
        "tests/integration/chaos/test_check_command.py::"
        "test_check_judges_a_history_against_the_stream_it_reads_raw"
    ),
    "livebridge run": Via("make run"),
    "LIVEBRIDGE_CLUSTER=1 livebridge run": Via("make run CLUSTER=1"),
    # The edge.
    "livebridge simulate --url http://127.0.0.1:8080 --dialect softswiss --tables 1 "
    "--players 3 --rounds 3": Elsewhere(
        "tests/integration/test_run_operations.py::"
        "test_the_readme_simulate_command_plays_beside_a_started_bridge",
        'readme_command("simulate")',
    ),
    "livebridge simulate": Synopsis(
        'tests/integration/test_run_operations.py::readme_command("simulate")'
    ),
    "livebridge pilot --provider softswiss --rounds 1000": Elsewhere(
        "tests/integration/test_run_operations.py::"
        "test_the_readme_simulate_command_plays_beside_a_started_bridge",
        'readme_command("pilot")',
    ),
    # The platform API's worked example.
    "cat > livebridge.toml <<'TOML'": Script(),
    "export CASINO_API_KEY=casino-key-change-me-0123456789 EVOLUTION_AUTH_TOKEN=evo-token "
    "LIVEBRIDGE_PLAYER_TOKEN_SECRET=player-token-secret-change-me-0123456789": Script(),
    "make run &": Script(),
    'K="Authorization: Bearer $CASINO_API_KEY"; B=http://127.0.0.1:8080': Script(),
    'curl -H "$K" -d \'{"currency":"EUR"}\' $B/platform/v1/players/alice/wallets': Script(
        json_without_error()
    ),
    'curl -H "$K" -d \'{"idempotencyKey":"dep-001","currency":"EUR",'
    '"amount":"100.00"}\' $B/platform/v1/players/alice/deposits': Script(
        json_without_error("logPosition")
    ),
    'curl -H "$K" -d \'{"player":"alice","currency":"EUR","country":"MT",'
    '"kycStatus":"VERIFIED", "provider":"evolution","table":"roulette-1","language":"en"}\' '
    "$B/platform/v1/sessions": Script(
        json_without_error("sessionId", "providerToken", "playerToken", "betSocketUrl")
    ),
    # The views follow the log: the deposit is listed once they reach it (`atLeast`).
    'curl -H "$K" "$B/platform/v1/players/alice/transactions?limit=5"': Script(
        json_without_error("items")
    ),
    # What users read.
    "livebridge replay <roundId>": Synopsis(
        "tests/integration/projections/test_replay_from_log.py::"
        "test_replay_names_lost_wallet_movements_and_shows_a_lost_round_from_the_log"
    ),
    "livebridge reconcile report.csv --provider evo [--period FROM TO]": Synopsis(
        "tests/integration/reconcile/test_end_to_end.py::cli.main"
    ),
    "livebridge reconcile": Synopsis("tests/integration/reconcile/test_end_to_end.py::cli.main"),
    "livebridge export --round ID | --session ID | --period FROM TO --out DIR": Synopsis(
        "tests/integration/export/test_export_session.py::export"
    ),
    "livebridge export-key new --out DIR": Runs(),
    "livebridge verify DIR --key export-public-key.pem": Synopsis(
        "tests/integration/export/test_export_authenticity.py::verify"
    ),
    "livebridge projections rebuild [NAME]": Synopsis(
        "tests/integration/projections/test_rebuild_equals_live.py::"
        "test_a_rebuild_swaps_in_under_running_projections_and_they_carry_on"
    ),
    "livebridge projections parked [NAME]": Synopsis(
        "tests/integration/projections/test_poison_events.py::"
        "test_livebridge_projections_parked_lists_them_and_exits_1"
    ),
    "livebridge webhooks parked|resend": Synopsis(
        "tests/integration/platform/test_webhook_commands.py::webhooks"
    ),
    # Benchmarks.
    "livebridge bench --only views": Synopsis(
        "tests/integration/bench/test_bench_areas.py::"
        "test_the_views_area_rebuilds_and_replays_a_log_beside_its_raw_read_rate"
    ),
    "livebridge bench --only edge": Synopsis(
        "tests/integration/bench/test_bench_areas.py::"
        "test_the_edge_area_drives_signed_bets_through_http_into_the_ledger"
    ),
    "livebridge bench --only socket": Synopsis(
        "tests/integration/bench/test_bench_areas.py::"
        "test_the_socket_area_drives_canonical_bets_through_the_bet_socket_of_a_whole_bridge"
    ),
    "livebridge bench --only cluster": Synopsis(
        "tests/integration/bench/test_bench_areas.py::"
        "test_the_cluster_area_drives_socket_bets_through_one_and_then_two_bridges_on_a_cluster"
    ),
    "livebridge bench --only ledger": Synopsis(
        "tests/integration/bench/test_bench_areas.py::test_the_runner_writes_figures"
    ),
    "LIVEBRIDGE_BENCH_LOG_EVENTS=200000 livebridge bench --only views": Synopsis(
        "tests/integration/bench/test_bench_areas.py::"
        "test_the_views_area_rebuilds_and_replays_a_log_beside_its_raw_read_rate"
    ),
    "LIVEBRIDGE_BENCH_MEMORY_LOG_EVENTS=200000 livebridge bench --only memory": Synopsis(
        "tests/integration/bench/test_bench_memory.py::"
        "test_a_bridge_on_its_defaults_stays_under_its_budget_and_levels_off"
    ),
}

SHOWN = shown()
FIRST_SHOWN = {s.command: s for s in reversed(SHOWN)}


@dataclass
class Place:
    """A scratch directory to run commands in, as a checkout's root looks to them."""

    root: Path
    env: dict[str, str]
    port: int
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def text(self, command: str) -> str:
        return command.replace(README_PORT, f"127.0.0.1:{self.port}")

    def run(self, text: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", self.text(text)],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, text: str, log: Path) -> subprocess.Popen[bytes]:
        """`text` in a process group of its own (so Ctrl-C reaches all of it)."""
        with open(log, "wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", self.text(text)],
                cwd=self.root,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            stop_group(process, signal.SIGTERM)


def stop_group(process: subprocess.Popen[bytes], sig: signal.Signals, within: float = 15) -> bool:
    """Signal `process`'s group; True when all of it is gone within `within` s (else killed)."""
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + within
    try:
        process.wait(within)
        while time.monotonic() < deadline:
            os.killpg(process.pid, 0)  # raises once the last of the group is gone
            time.sleep(0.1)
    except ProcessLookupError:
        return True
    except subprocess.TimeoutExpired:
        pass
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return False


@pytest.fixture
def place(tmp_path: Path, database_url: str) -> Iterator[Place]:
    root = tmp_path / "checkout"
    root.mkdir()
    for name in ("Makefile", "pyproject.toml", ".venv"):
        (root / name).symlink_to(REPO / name)
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LIVEBRIDGE_", "NATS_", "POSTGRES_", "PYTEST_"))
    }
    env.update(
        PATH=f"{REPO / '.venv' / 'bin'}:{env.get('PATH', '')}",
        LIVEBRIDGE_HOME=str(tmp_path / "home"),
        LIVEBRIDGE_HTTP_PORT=str(port),
        LIVEBRIDGE_DATABASE_URL=database_url,
    )
    found = Place(root, env, port)
    try:
        yield found
    finally:
        found.stop_all()
        assert stopped_everything(tmp_path / "home"), "a process outlived its command"


def test_every_command_the_readme_shows_is_known_here() -> None:
    unknown = [str(s) for s in SHOWN if s.command not in COMMANDS]
    assert not unknown, (
        "README.md shows commands tests/integration/test_readme_commands.py does not run; "
        "add each to COMMANDS:\n" + "\n".join(unknown)
    )


def test_every_command_known_here_is_still_in_the_readme() -> None:
    gone = [command for command in COMMANDS if command not in FIRST_SHOWN]
    assert not gone, f"COMMANDS lists commands README.md no longer shows: {gone}"


KNOWN = [command for command in COMMANDS if command in FIRST_SHOWN]


@pytest.mark.parametrize("command", KNOWN, ids=[c[:60] for c in KNOWN])
def test_the_readme_command_does_what_the_readme_says(
    command: str, request: pytest.FixtureRequest
) -> None:
    where = FIRST_SHOWN[command]
    match COMMANDS[command]:
        case Serves(within):
            serves(where, request.getfixturevalue("place"), within)
        case Script(expect):
            scripted(where, request.getfixturevalue("place"), expect)
        case Runs(expect):
            place = request.getfixturevalue("place")
            done = place.run(where.text)
            assert done.returncode == 0, f"{where} exited {done.returncode}:\n{done.stderr}"
            expect(done.stdout)
        case Expands(lines, why):
            expands(where.command, lines, why)
        case Via(other):
            via(where, other)
        case Synopsis(test):
            synopsis(where, test)
        case Elsewhere(test, reads):
            path, name = test.split("::")
            source = (REPO / path).read_text()
            assert f"def {name}(" in source and reads in source, f"{where}: {test} gone"


def serves(where: Shown, place: Place, within: float) -> None:
    log = place.root.parent / "serves.log"
    process = place.start(where.text, log)
    started = time.monotonic()
    while status(f"http://127.0.0.1:{place.port}/readyz") != 200:
        assert process.poll() is None, f"{where} ended:\n{log.read_text()[-3000:]}"
        assert time.monotonic() - started < within, f"{where} not ready:\n{log.read_text()}"
        time.sleep(0.2)
    assert stop_group(process, signal.SIGINT), f"{where}: Ctrl-C did not stop it"
    output = log.read_text()
    # make reports its own interruption (killed by SIGINT) whatever livebridge's status.
    expected = (0, -signal.SIGINT) if where.command.startswith("make ") else (0,)
    assert process.returncode in expected, f"{where} exited {process.returncode}:\n{output}"
    assert "Traceback" not in output, output


Ran = tuple[int, str, str]
"""A script step's exit status, output and errors."""
_SCRIPTS: dict[int, list[Ran]] = {}
"""Each example block's run, by its first line: run once, checked command by command."""


def scripted(where: Shown, place: Place, expect: Expect) -> None:
    """Check `where`'s part of its block's run (running the whole block the first time)."""
    assert where.block is not None, f"{where} is not in a code block"
    block = [s for s in SHOWN if s.block == where.block]
    if where.block not in _SCRIPTS:
        _SCRIPTS[where.block] = run_script(block, place)
    for step, (code, output, errors) in zip(block, _SCRIPTS[where.block], strict=True):
        assert code == 0, f"{step} exited {code}:\n{output}\n{errors}"
        if step.command == where.command:
            expect(output)
            return
    raise AssertionError(f"{where} did not run")


def run_script(block: list[Shown], place: Place) -> list[Ran]:
    """`block` as one bash script, each command's status and output kept apart."""
    out = place.root.parent / "script"
    out.mkdir()
    lines = []
    for n, step in enumerate(block):
        lines += ["{", place.text(step.text), f'}} >"{out}/{n}.out" 2>"{out}/{n}.err"']
        lines.append(f'echo $? >"{out}/{n}.status"')
        waited = re.search(r"once (\S+) answers 200", step.comment)
        if waited:
            url = place.text(waited.group(1))
            answer = f"$(curl -s -o /dev/null -w '%{{http_code}}' {url})"
            lines.append(f'for _ in $(seq 1200); do [ "{answer}" = 200 ] && break; sleep 0.1; done')
            lines.append(f'echo "{answer}" >"{out}/{n}.ready"')
    script = place.root.parent / "script.sh"
    script.write_text("\n".join(lines) + "\n")
    shell = place.start(f"bash {shlex.quote(str(script))}", out / "shell.log")
    shell.wait(180)
    ran = []
    for n, step in enumerate(block):
        status, ready = out / f"{n}.status", out / f"{n}.ready"
        code = int(status.read_text()) if status.exists() else -1
        output, errors = (out / f"{n}.out").read_text(), (out / f"{n}.err").read_text()
        if ready.exists() and ready.read_text().strip() != "200":
            code, errors = -1, f"{errors}\nnot ready as its comment says: {step.comment}"
        ran.append((code, output, errors))
    return ran


def make_n(command: str) -> list[str]:
    done = subprocess.run(
        ["bash", "-c", command.replace("make ", "make -n ", 1)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [line.strip() for line in done.stdout.splitlines()]


def expands(command: str, lines: tuple[str, ...], why: str) -> None:
    recipe = make_n(command)
    assert [line for line in recipe if line in lines] == list(lines), (
        f"`{command}` is not run here ({why}); `make -n` must show {lines}, shows {recipe}"
    )


def via(where: Shown, other: str) -> None:
    assert other in COMMANDS, other
    program = where.command.replace("livebridge", ".venv/bin/livebridge", 1)
    recipe = make_n(other)
    assert any(re.search(rf"(^| ){re.escape(program)}( |$)", line) for line in recipe), (
        f"{where} is run as `{other}`; `make -n` shows {recipe}"
    )


PLACEHOLDER = re.compile(r"^(<.*>|\[.*\]?|[A-Z_]+\]?|.*\.(csv|pem)|\|)$")


def synopsis(where: Shown, test: str) -> None:
    path, name = test.split("::")
    assert name in (REPO / path).read_text(), f"{where}: {test} gone"
    words = shlex.split(where.command.replace("[", " [ ").replace("]", " ] "))
    words = [w for w in words if not re.match(r"^[A-Z_][A-Z0-9_]*=", w)][1:]
    commands: list[list[str]] = [[]]
    for word in words:
        if word.startswith("-") or PLACEHOLDER.match(word) or word in "[]":
            break
        commands = [[*c, alternative] for c in commands for alternative in word.split("|")]
    shown_options = [w for w in words if w.startswith("--")]
    helps = ""
    for argv in commands:
        shown_help, errors = io.StringIO(), io.StringIO()
        with (
            redirect_stdout(shown_help),
            redirect_stderr(errors),
            pytest.raises(SystemExit) as exit,
        ):
            cli.parser({}).parse_args([*argv, "--help"])
        assert exit.value.code == 0, f"{where}: `livebridge {' '.join(argv)} --help`: {errors}"
        helps += shown_help.getvalue()
    for option in shown_options:
        assert option in helps, f"{where}: no {option} in its --help:\n{helps}"
    for option, value in itertools.pairwise(words):
        choices = re.search(re.escape(option) + r" \{([^}]*)\}", helps)
        if choices and not PLACEHOLDER.match(value):
            assert value in choices.group(1).split(","), f"{where}: {value!r} is no choice"


def test_commands_are_found_in_every_form_a_readme_shows_them() -> None:
    sample = "\n".join(
        [
            "Intro `make help`, a `livebridge` database and `livebridge replay",
            "<roundId>` across lines.",
            "",
            "    make run     # a comment",
            "    SETTING=1",
            "",
            "```sh",
            'curl -d \'{"a":',
            "  1}' $B/x \\",
            "     --fail",
            "cat > f <<'EOF'",
            "make inside a here-document",
            "EOF",
            "```",
            "```",
            "contracts/    not a command",
            "```",
            "```console",
            ".venv/bin/livebridge bench --only views",
            "```",
        ]
    )
    assert [(s.command, s.line, s.block) for s in shown(sample)] == [
        ("make help", 1, None),
        ("livebridge replay <roundId>", 1, None),
        ("make run", 4, 4),
        ("curl -d '{\"a\": 1}' $B/x --fail", 8, 7),
        ("cat > f <<'EOF'", 11, 7),
        (".venv/bin/livebridge bench --only views", 19, 18),
    ]
