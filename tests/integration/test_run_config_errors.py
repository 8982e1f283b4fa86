"""A configuration `livebridge run` cannot use is one line on stderr and exit status 2.

Each case runs the command as an operator does, with one mistake in its `livebridge.toml`
or its environment: the line names the file and the key (or the variable), no traceback
follows, and nothing was started (no nats-server store, no `endpoints.json`, not even the
home directory). A PostgreSQL that does not answer is found only by trying: the bridge
stops what it started and says so in one line, with status 1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import pytest

from services.infra.natsserver import free_port
from tests.integration.support.bridge_settings import operator_toml
from tests.integration.support.bridge_settings import provider_toml
from tests.integration.support.livebridge_run import stopped_everything
from tests.integration.support.servers_away import unused_port


@dataclass(frozen=True)
class Mistake:
    config: str | None
    """The file's text; None: no file where `LIVEBRIDGE_CONFIG` points."""
    says: tuple[str, ...]
    """What the one line names, beside the command."""
    env: dict[str, str] = field(default_factory=dict)
    names_file: bool = True


EVOLUTION = provider_toml("evolution", "evolution", "CONFIG_TEST_EVOLUTION_TOKEN")
MISTAKES = {
    "invalid TOML": Mistake('[[provider]\nid = "evolution"\n', ("not valid TOML", "line 1")),
    "a missing file": Mistake(None, ("no such file", "LIVEBRIDGE_CONFIG")),
    "a mistyped top-level table": Mistake(
        EVOLUTION.replace("[[provider]]", "[[providers]]"), ("unknown key 'providers'",)
    ),
    "a wrong type": Mistake(
        EVOLUTION.replace('currencies = ["EUR"]', 'currencies = "EUR"'),
        ("provider 'evolution'", "currencies must be a list of strings"),
    ),
    "a secret file that is not there": Mistake(
        provider_toml("evolution", "evolution", secret_file="/nonexistent/evolution.key"),
        ("provider 'evolution'", "secret_file /nonexistent/evolution.key"),
    ),
    "a secret variable that is not set": Mistake(
        EVOLUTION, ("provider 'evolution'", "CONFIG_TEST_EVOLUTION_TOKEN", "not set")
    ),
    "an operator key whose secret is not set": Mistake(
        operator_toml("CONFIG_TEST_OPERATOR_KEY"),
        ("operator 'casino' key 'k1'", "CONFIG_TEST_OPERATOR_KEY"),
    ),
    "a Hub88 key that is no PEM key": Mistake(
        provider_toml("hub88", "hub88", "CONFIG_TEST_HUB88_KEY"),
        ("provider 'hub88'", "PEM"),
        env={"CONFIG_TEST_HUB88_KEY": "not a key"},
    ),
    "an unknown dialect": Mistake(
        provider_toml("evo", "evolutoin", "CONFIG_TEST_EVOLUTION_TOKEN"),
        ("provider 'evo'", "no adapter for dialect 'evolutoin'"),
        env={"CONFIG_TEST_EVOLUTION_TOKEN": "evo-token"},
    ),
    "a mistyped provider key": Mistake(
        EVOLUTION + 'ip_alowlist = ["10.0.0.0/8"]\n',
        ("[[provider]]", "provider 'evolution'", "`ip_alowlist`", "known: id, dialect"),
    ),
    "an option the dialect does not read": Mistake(
        provider_toml("evolution", "evolution", "CONFIG_TEST_EVOLUTION_TOKEN", sesion_ttl_s=60),
        ("provider 'evolution'", "[provider.options]", "`sesion_ttl_s`", "session_ttl_s"),
    ),
    "a mistyped operator key": Mistake(
        operator_toml("CONFIG_TEST_OPERATOR_KEY") + "rate_limt = 5\n",
        ("[[operator.key]] 'k1' of operator 'casino'", "`rate_limt`", "known: id, secret_env"),
    ),
    "a mistyped [platform] key": Mistake(
        "[platform]\nplayer_token_tll_s = 60\n",
        ("[platform]", "`player_token_tll_s`", "player_token_ttl_s"),
    ),
    "a webhook secret variable that is not set": Mistake(
        '[[webhooks]]\nname = "platform"\nurl = "http://127.0.0.1:9/settle"\n'
        'secret_env = "CONFIG_TEST_WEBHOOK_SECRET"\n',
        ("webhook 'platform'", "CONFIG_TEST_WEBHOOK_SECRET", "not set"),
    ),
    "a mistyped webhook key": Mistake(
        '[[webhooks]]\nname = "platform"\nurl = "http://127.0.0.1:9/settle"\nsecret = "k"\n'
        "max_attempt = 3\n",
        ("webhook 'platform'", "unknown field `max_attempt`"),
    ),
    "an unknown [sla] key": Mistake(
        "[sla]\ncheck_evry_s = 1\n", ("[sla]", "unknown field `check_evry_s`")
    ),
    "a port that is not a number": Mistake(
        "", ("LIVEBRIDGE_HTTP_PORT='80a'",), env={"LIVEBRIDGE_HTTP_PORT": "80a"}, names_file=False
    ),
    "a port out of range": Mistake(
        "",
        ("LIVEBRIDGE_HTTP_PORT='70000'",),
        env={"LIVEBRIDGE_HTTP_PORT": "70000"},
        names_file=False,
    ),
    "a heap watch's frames that are no number": Mistake(
        "",
        ("LIVEBRIDGE_HEAP_WATCH_FRAMES='ten'",),
        env={"LIVEBRIDGE_HEAP_WATCH_DIR": "heap", "LIVEBRIDGE_HEAP_WATCH_FRAMES": "ten"},
        names_file=False,
    ),
    "a NATS URL that is no URL": Mistake(
        "",
        ("LIVEBRIDGE_NATS_URL='nats://ops:***@127.0.0.1:notaport'", "invalid connect url"),
        env={"LIVEBRIDGE_NATS_URL": "nats://ops:s3cret@127.0.0.1:notaport"},
        names_file=False,
    ),
    "a lease time that is no number": Mistake(
        "", ("LIVEBRIDGE_LEASE_TTL_S='3s'",), env={"LIVEBRIDGE_LEASE_TTL_S": "3s"}, names_file=False
    ),
}


def livebridge(
    tmp_path: Path, command: list[str], mistake: Mistake
) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "livebridge.toml"
    if mistake.config is not None:
        config.write_text(mistake.config)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LIVEBRIDGE_")},
        "LIVEBRIDGE_HOME": str(tmp_path / "home"),
        "LIVEBRIDGE_HTTP_PORT": str(free_port()),
        "LIVEBRIDGE_CONFIG": str(config),
        **mistake.env,
    }
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("mistake", MISTAKES.values(), ids=MISTAKES.keys())
def test_livebridge_run_names_the_mistake_in_one_line_and_starts_nothing(
    tmp_path: Path, mistake: Mistake
) -> None:
    ran = livebridge(tmp_path, ["run"], mistake)
    lines = ran.stderr.splitlines()
    assert ran.returncode == 2, ran.stderr
    assert len(lines) == 1 and "Traceback" not in ran.stderr, ran.stderr
    (line,) = lines
    assert line.startswith("livebridge run: "), line
    if mistake.names_file:
        assert str(tmp_path / "livebridge.toml") in line, line
    for text in mistake.says:
        assert text in line, line
    assert ran.stdout == ""
    assert not (tmp_path / "home").exists(), "something started"


WEBHOOKS_MISTAKES = (
    "invalid TOML",
    "a missing file",
    "a webhook secret variable that is not set",
    "a mistyped webhook key",
)


@pytest.mark.parametrize("action", ["parked", "resend"])
@pytest.mark.parametrize("mistake", [MISTAKES[m] for m in WEBHOOKS_MISTAKES], ids=WEBHOOKS_MISTAKES)
def test_livebridge_webhooks_refuses_a_file_it_cannot_read_as_run_does(
    tmp_path: Path, mistake: Mistake, action: str
) -> None:
    command = ["webhooks", action, "--endpoint", "platform", "--nats-url", "nats://127.0.0.1:1"]
    ran = livebridge(tmp_path, command, mistake)
    assert ran.returncode == 2, ran.stderr
    (line,) = ran.stderr.splitlines()
    assert line.startswith(f"livebridge webhooks: {tmp_path / 'livebridge.toml'}: "), line
    assert all(text in line for text in mistake.says), line


def test_livebridge_run_stops_what_it_started_and_says_so_when_postgresql_does_not_answer(
    tmp_path: Path,
) -> None:
    unanswered = f"postgresql://127.0.0.1:{free_port()}/livebridge"
    empty = Mistake("", (), env={"LIVEBRIDGE_DATABASE_URL": unanswered})
    ran = livebridge(tmp_path, ["run"], empty)
    assert ran.returncode == 1, ran.stderr
    assert "Traceback" not in ran.stderr, ran.stderr
    said = ran.stderr.splitlines()[-1]
    assert said == f"livebridge run: LIVEBRIDGE_DATABASE_URL={unanswered} does not answer"
    assert stopped_everything(tmp_path / "home" / "nats"), "nats-server outlived livebridge run"


def test_livebridge_run_says_in_one_line_that_its_http_port_is_taken_and_stops_what_it_started(
    tmp_path: Path, database_url: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        on_it = Mistake(
            "", (), env={"LIVEBRIDGE_HTTP_PORT": str(port), "LIVEBRIDGE_DATABASE_URL": database_url}
        )
        ran = livebridge(tmp_path, ["run"], on_it)

    assert ran.returncode == 1, ran.stderr
    assert "Traceback" not in ran.stderr, ran.stderr
    said = ran.stderr.splitlines()[-1]
    assert said.startswith(f"livebridge run: cannot listen on 127.0.0.1:{port} ("), said
    assert "LIVEBRIDGE_HTTP_PORT" in said
    assert stopped_everything(tmp_path / "home" / "nats"), "nats-server outlived livebridge run"


def test_livebridge_run_says_in_one_line_within_seconds_that_its_nats_server_does_not_answer(
    tmp_path: Path,
) -> None:
    away = f"nats://127.0.0.1:{unused_port()}"
    empty = Mistake(
        "", (), env={"LIVEBRIDGE_NATS_URL": away, "LIVEBRIDGE_ALLOW_UNSYNCED_NATS": "1"}
    )
    started = time.monotonic()

    ran = livebridge(tmp_path, ["run"], empty)

    assert time.monotonic() - started < 30, "nats-py alone tries for ever"
    assert ran.returncode == 1, ran.stderr
    assert "Traceback" not in ran.stderr, ran.stderr
    said = ran.stderr.splitlines()[-1]
    assert said.startswith(f"livebridge run: nats-server at {away} does not answer ("), said
