"""`livebridge run` as a child process, the way an operator starts it, and its HTTP answers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.infra.natsserver import free_port


@dataclass(frozen=True)
class Answer:
    status: int
    """The HTTP status, error statuses included; 0 when nothing answered."""
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    url: str,
    data: bytes | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = 1.0,
) -> Answer:
    """A GET (a POST with `data`), whatever its status; status 0 when nothing answers."""
    try:
        sent = urllib.request.Request(url, data=data, headers=dict(headers or {}))
        with urllib.request.urlopen(sent, timeout=timeout) as resp:
            return Answer(int(resp.status), resp.read())
    except urllib.error.HTTPError as error:
        return Answer(int(error.code), error.read())
    except OSError:
        return Answer(0, b"")


def status(url: str) -> int:
    """The HTTP status of a GET, 0 when nothing answers."""
    return request(url).status


def stopped_everything(store: Path) -> bool:
    """Whether no process is left that was started on `store` (a nats-server's data)."""
    found = subprocess.run(["pgrep", "-f", str(store)], capture_output=True, text=True, check=False)
    return found.stdout.strip() == ""


class Bridge:
    """One `livebridge run` process on `home`, its output in `<home>/../run-<n>.log`.

    It starts its own nats-server (the outer `LIVEBRIDGE_NATS_URL` and
    `LIVEBRIDGE_NATS_REPLICAS` are dropped) unless given `nats_url`; `database_url`, when
    given, is its views' PostgreSQL; `env` adds to or overrides the rest."""

    def __init__(
        self,
        home: Path,
        n: int,
        database_url: str | None = None,
        env: dict[str, str] | None = None,
        nats_url: str | None = None,
    ) -> None:
        self.home = home
        self.env = env or {}
        self.port = free_port()
        self.log = home.parent / f"run-{n}.log"
        empty = home.parent / "empty.toml"  # no providers, no operator keys
        empty.touch()
        environ = {
            **os.environ,
            "LIVEBRIDGE_HOME": str(home),
            "LIVEBRIDGE_HTTP_PORT": str(self.port),
            "LIVEBRIDGE_CONFIG": str(empty),
            **({"LIVEBRIDGE_DATABASE_URL": database_url} if database_url else {}),
            **self.env,
        }
        environ.pop("LIVEBRIDGE_NATS_URL", None)
        environ.pop("LIVEBRIDGE_NATS_REPLICAS", None)
        if nats_url:  # a server or cluster started by the test
            environ["LIVEBRIDGE_NATS_URL"] = nats_url
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "run"],
                env=environ,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ready(self, within: float = 15.0) -> None:
        started = time.monotonic()
        while status(self.url("/readyz")) != 200:
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() - started < within, f"not ready: {self.log.read_text()}"
            time.sleep(0.1)

    def interrupt(self, within: float = 30.0) -> tuple[int, float]:
        """Ctrl-C: the exit status and the seconds it took."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(within)
        return code, time.monotonic() - started

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
