"""What a fault can hit: each process of a chaos run behind the same small interface.

A `Target` can be killed with SIGKILL and started again (same port, same store), paused
(SIGSTOP) and resumed (SIGCONT). `Processes` holds them by name, with the list of names
each fault may pick from: a run with more nodes or bridges adds its targets there.

- `NatsTarget`: a nats-server from the wheel (`services.infra.natsserver`), store on disk,
  alone or a node of a three-node cluster (`services.infra.natscluster`), each node then in
  a network namespace of its own (`services.infra.netns`) that a partition cuts off;
- `BridgeTarget`: `livebridge run` as a child process, ready when `/readyz` answers 200;
  its wall clock can be stepped forward (libfaketime's timestamp file) when libfaketime
  is installed;
- `PostgresTarget`: a private PostgreSQL cluster (`initdb`/`pg_ctl`) in the run's
  directory, restarted by `pg_ctl` (the machine's shared server is never touched);
- `WebhookReceiver`: the platform's endpoint for signed `round.settle` webhooks, which a
  fault takes down for a while.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Protocol

from aiohttp import web

from services.bridge.postgres import PrivateCluster
from services.bridge.postgres import ensure_database
from services.infra.natscluster import NatsCluster
from services.infra.natsserver import NatsServer
from services.infra.natsserver import free_port
from services.infra.netns import Net

PREFIX = "LB"
"""The stream prefix of a chaos run's bridges."""
LEDGER_STREAM = f"{PREFIX}_LEDGER"
LEDGER_LEADER = "ledger-leader"
READY_WITHIN_S = 180.0
"""Seconds a bridge gets to answer /readyz: a minute was not enough for the second of two
bridges starting together on a machine whose load average was 33 on two cores."""

FAKETIME_LIBS = (
    Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"),
    Path("/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1"),
    Path("/usr/local/lib/faketime/libfaketimeMT.so.1"),
)


def faketime_library() -> Path | None:
    """libfaketime, when installed (`apt-get install faketime`): how a clock is jumped."""
    return next((lib for lib in FAKETIME_LIBS if lib.is_file()), None)


SLEEP_SHIM = """\
# Written by `livebridge chaos` for a bridge run under libfaketime: with the monotonic
# clock left alone, libfaketime 0.9.10 makes Python's time.sleep (an absolute
# clock_nanosleep) fail with EINVAL; select() with a timeout sleeps as well.
import select
import time


def _sleep(seconds):
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    select.select([], [], [], seconds)


time.sleep = _sleep
"""


class Target(Protocol):
    name: str

    def pid(self) -> int | None: ...

    async def kill(self) -> None:
        """SIGKILL: no shutdown, no flush."""

    async def start(self) -> None:
        """Start (again), on the same port and store, and wait until it serves."""


def _signal(target: Target, sig: signal.Signals) -> bool:
    pid = target.pid()
    if pid is None:
        return False
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def pause(target: Target) -> bool:
    return _signal(target, signal.SIGSTOP)


def resume(target: Target) -> bool:
    return _signal(target, signal.SIGCONT)


class NatsTarget:
    """One nats-server: a single server of its own, or a node of a cluster (`server`)."""

    def __init__(self, name: str, store: Path, server: NatsServer | None = None) -> None:
        self.name = name
        self.server = server or NatsServer(store)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def monitor_url(self) -> str:
        return self.server.monitor_url

    def pid(self) -> int | None:
        return self.server.pid

    async def kill(self) -> None:
        await asyncio.to_thread(self.server.kill)

    async def start(self) -> None:
        await asyncio.to_thread(self.server.start, 30.0)

    async def stop(self) -> None:
        resume(self)
        await asyncio.to_thread(self.server.stop)


def http_status(url: str, timeout: float = 1.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


class BridgeTarget:
    """`livebridge run` with the given environment; its output goes to `log`."""

    def __init__(
        self, name: str, env: dict[str, str], log: Path, clock_file: Path, *, clock: bool = True
    ) -> None:
        self.name = name
        self.port = free_port()
        self.env = {**env, "LIVEBRIDGE_HTTP_PORT": str(self.port)}
        self.log = log
        self.clock_file = clock_file
        self.clock_offset_s = 0
        self.faketime = faketime_library() if clock else None
        if self.faketime is not None:
            clock_file.write_text("+0s\n")
            shim = clock_file.parent / "faketime-shim"
            shim.mkdir(exist_ok=True)
            (shim / "sitecustomize.py").write_text(SLEEP_SHIM)
            self.env |= {
                "LD_PRELOAD": str(self.faketime),
                "FAKETIME_TIMESTAMP_FILE": str(clock_file),
                "FAKETIME_CACHE_DURATION": "1",
                # Only the wall clock jumps, as when NTP steps it: timers keep their pace.
                "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(shim), env.get("PYTHONPATH")])),
            }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "services.cli", "run"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def start(self, ready_within_s: float = READY_WITHIN_S) -> None:
        self.process = self._spawn()
        deadline = time.monotonic() + ready_within_s
        while await asyncio.to_thread(http_status, f"{self.url}/readyz") != 200:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.process.returncode}{self._tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready within {ready_within_s} s{self._tail()}")
            await asyncio.sleep(0.2)

    def _tail(self, lines: int = 20) -> str:
        """The end of the bridge's log, for an error (the run's directory is removed)."""
        found = self.log.read_text(errors="replace").splitlines()[-lines:]
        return f"; the end of {self.log}:\n" + "\n".join(found)

    async def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(self.process.wait)
        self.process = None

    def jump_clock(self, seconds: int) -> bool:
        """Step the bridge's clock forward by `seconds` (it stays there): False without
        libfaketime. Forward only: stepping back would stall every timer by as much."""
        if self.faketime is None:
            return False
        self.clock_offset_s += seconds
        self.clock_file.write_text(f"+{self.clock_offset_s}s\n")
        return True

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGCONT)
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.to_thread(process.wait, 30)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)


class PostgresTarget:
    """A private PostgreSQL in the run's directory; restarted with `pg_ctl`."""

    def __init__(self, name: str, directory: Path) -> None:
        self.name = name
        self.cluster = PrivateCluster(directory)
        self.url = ""

    def pid(self) -> int | None:
        pidfile = self.cluster.data / "postmaster.pid"
        try:
            return int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    async def start(self) -> None:
        await asyncio.to_thread(self.cluster.start)
        self.url = await asyncio.to_thread(ensure_database, self.cluster.url)

    async def kill(self) -> None:
        """A restart: `pg_ctl stop -m fast` (the views reconnect when it is back)."""
        await asyncio.to_thread(self.cluster.stop)

    async def stop(self) -> None:
        await asyncio.to_thread(self.cluster.stop)


@dataclass
class WebhookReceiver:
    """The platform's webhook endpoint: 200 to every POST, counted; down on demand."""

    name: str = "webhooks"
    port: int = field(default_factory=free_port)
    received: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/settle"

    def pid(self) -> int | None:
        return None

    async def _take(self, request: web.Request) -> web.Response:
        await request.read()
        self.received += 1
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/settle", self._take)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def kill(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    stop = kill


@dataclass
class Processes:
    """Every target of a run by name, and which of them each kind of fault may hit.

    On a cluster (`cluster`), `nats` are its nodes, in order; `net` is set when each node
    runs in a network namespace of its own, which is what a partition cuts."""

    nats: list[NatsTarget]
    bridges: list[BridgeTarget]
    postgres: PostgresTarget
    webhooks: WebhookReceiver
    cluster: NatsCluster | None = None
    net: Net | None = None

    @property
    def nats_url(self) -> str:
        """Every node's client URL, comma-separated."""
        return ",".join(node.url for node in self.nats)

    def partitionable(self) -> list[NatsTarget]:
        return list(self.nats) if self.net is not None else []

    def leaders(self) -> list[str]:
        """The name a fault on the ledger stream's leader (whichever node it is then) takes."""
        return [LEDGER_LEADER] if self.cluster is not None else []

    def killable(self) -> list[Target]:
        return [*self.bridges, *self.nats]

    def pausable(self) -> list[Target]:
        return [*self.bridges, *self.nats]

    def clocks(self) -> list[BridgeTarget]:
        return [b for b in self.bridges if b.faketime is not None]

    def by_name(self, name: str) -> Target:
        every: list[Target] = [*self.nats, *self.bridges, self.postgres, self.webhooks]
        for target in every:
            if target.name == name:
                return target
        raise KeyError(name)

    async def stop(self) -> None:
        for bridge in self.bridges:
            await bridge.stop()
        await self.webhooks.stop()
        for node in self.nats:
            await node.stop()
        await self.postgres.stop()
        if self.net is not None:
            await asyncio.to_thread(self.net.down)
