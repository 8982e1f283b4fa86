"""Bench figures for memory: the bridge's after warm-up and its growth, nats-server's, and
the server's collector budget as a trade-off between its memory and replay latency.

- `bridge_rss_mb_after_warmup`, `bridge_rss_growth_kb_per_1k_calls`, `nats_rss_mb`:
  `livebridge run` on its defaults (its own nats-server from the wheel, a database of its
  own on the bench's PostgreSQL) under `livebridge simulate` (SoftSwiss, a push feed,
  `TABLES` tables of `PLAYERS` players); the bridge's RSS (`/proc`, with the processes it
  starts for itself: its views') is sampled against the wallet calls it has answered (its
  access log). After `warmup` calls and `warmup_s` seconds (`WARMUP_SECONDS`), over `calls`
  calls more, the growth is the least-squares slope of the RSS the bridge comes back to: the
  lowest sample of each of `SPANS` equal spans of calls. The bridge's RSS is a sawtooth
  (a burst of some 25 MB, given back by the next heap trim a minute later), and a slope
  through every sample moves by a hundred KB a thousand calls with where the last bursts
  fall; `bridge_rss_trend_kb_per_1k_calls` is that slope, beside it, and the bursts'
  height is in `bridge_rss_mb_peak`.
- `replay_round_p99_ms_gomemlimit_<limit>` and `nats_rss_mb_gomemlimit_<limit>` for each
  of `GOMEMLIMITS`: one log of `events` events, the rounds view built once, then the same
  replays against the same store with nats-server restarted under each budget
  (`GOGC=off`), and the server's RSS after them.

`LIVEBRIDGE_BENCH_MEMORY_CALLS` (default 50,000), `..._WARMUP` (30,000: the calls it takes
the default budget's caches to fill), `..._WARMUP_S` (`WARMUP_SECONDS`), `..._MIN_S` (the
least seconds after warm-up, `MIN_SECONDS`), `..._TABLES` and `..._PLAYERS` (4 and 40), and
`LIVEBRIDGE_BENCH_MEMORY_LOG_EVENTS` (default `LIVEBRIDGE_BENCH_LOG_EVENTS`, 1,000,000)
size it; `livebridge bench --only memory` runs it alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from services.bridge.malloc import TRIM_EVERY_S
from services.infra.databases import own_database
from services.infra.natsserver import NatsServer
from services.infra.natsserver import free_port

TABLES = 4
PLAYERS = 40
GOMEMLIMITS = ("256MiB", "512MiB", "1GiB")
WALLET_CALL = b'"POST /wallet/'
"""How a wallet call appears in the bridge's access log (its `/metrics` has the count too,
but one scrape takes seconds on a busy machine)."""
SPANS = 10
"""Spans of calls after warm-up whose lowest RSS the growth is the slope of."""
MIN_SECONDS = SPANS * 2 * TRIM_EVERY_S
"""How long the samples after warm-up last at the least, whatever the calls: every span
two heap trims long. A quiet machine answered 50,000 calls in four minutes, two spans, and
the slope through their two floors read 57 KB a thousand calls (a loaded run, with more
spans, had read -12)."""
WARMUP_SECONDS = 15 * 60
"""The least time the warm-up lasts, whatever the calls. The caches fill by calls, but the
allocators' levels are set by bursts that come by time (a settle checkpoint and a heap trim
a minute, the views' catch-up batches): in a run at 75 calls a second (heap watch, 60 s
samples) pymalloc's arenas took their last step 10 minutes in and the views' process its
last at 16 minutes, 44,000 and 72,000 calls, while the caches were full by 25,000. After
warm-up at 30,000 calls alone, 2.5 minutes at the bench's 200 calls a second, those steps
fell inside the window. After 15 minutes the bridge's floor was flat (README, "Memory")."""
READY_S = 600
"""How long `livebridge run` may take to answer `/readyz` (on a 2-core machine shared by
eight, it took over two minutes)."""
SOFTSWISS_SECRET = "bench-softswiss-secret"
FEED_SECRET = "bench-feed-secret"
CONFIG = """\
[[provider]]
id = "softswiss"
dialect = "softswiss"
currencies = ["EUR"]
secret_env = "SOFTSWISS_SECRET"
rate_limit = 100000
burst = 100000
[provider.options]
feed = "push"
feed_secret_env = "LIVEBRIDGE_FEED_SECRET"
"""


def rss_mb(pid: int) -> float:
    """The resident set of process `pid`, in MB (2**20 bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ProcessLookupError(pid)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _is_nats(pid: int) -> bool:
    return Path(f"/proc/{pid}/comm").read_text().strip() == "nats-server"


def bridge_rss_mb(pid: int) -> float:
    """The resident set of the bridge `pid` and of the processes it started for itself (the
    views' process), not counting its nats-server."""
    own = [child for child in children(pid) if not _is_nats(child)]
    return rss_mb(pid) + sum(rss_mb(child) for child in own)


def wallet_calls(log: Path) -> int:
    """Wallet calls answered so far, from the bridge's access log."""
    with open(log, "rb") as lines:
        return sum(1 for line in lines if WALLET_CALL in line)


@dataclass
class Growth:
    """RSS samples (wallet calls answered, MB) of one bridge run."""

    samples: list[tuple[int, float]] = field(default_factory=list)
    nats_rss_mb: float = 0.0
    warmup: int = 0
    """The calls answered when warm-up ended: the samples from there on are measured."""
    seconds_after_warmup: float = 0.0
    """How long the samples after warm-up took (0: unknown): a span lasts two heap trims."""

    def after_warmup(self) -> list[tuple[int, float]]:
        return [(calls, rss) for calls, rss in self.samples if calls >= self.warmup]

    def calls_measured(self) -> int:
        """Calls between the first sample after warm-up and the last: the growth's window
        (the first sample lands some calls past the warm-up, at a load's pace)."""
        points = self.after_warmup()
        return points[-1][0] - points[0][0] if points else 0

    def floors(self) -> list[tuple[int, float]]:
        """The lowest sample of each of `SPANS` equal spans of calls after warm-up (fewer
        when the run was short: each span lasts at least two heap trims)."""
        points = self.after_warmup()
        if len(points) < 2:
            return points
        spans = SPANS
        if self.seconds_after_warmup:
            spans = max(2, min(SPANS, int(self.seconds_after_warmup / (2 * TRIM_EVERY_S))))
        first, width = points[0][0], (points[-1][0] - points[0][0]) / spans or 1
        lowest: dict[int, tuple[int, float]] = {}
        for calls, rss in points:
            span = min(int((calls - first) / width), spans - 1)
            if span not in lowest or rss < lowest[span][1]:
                lowest[span] = (calls, rss)
        return [lowest[span] for span in sorted(lowest)]

    def kb_per_1k_calls(self) -> float:
        """The growth: least-squares slope of the floors, in KB a thousand calls."""
        return _slope_kb_per_1k(self.floors())

    def trend_kb_per_1k_calls(self) -> float:
        """Least-squares slope through every sample after warm-up, bursts and all."""
        return _slope_kb_per_1k(self.after_warmup())

    def figures(self) -> dict[str, float]:
        points = self.after_warmup()
        return {
            "bridge_rss_mb_after_warmup": round(points[0][1], 1) if points else 0.0,
            "bridge_rss_mb_peak": round(max(r for _, r in self.samples), 1),
            "bridge_rss_growth_kb_per_1k_calls": round(self.kb_per_1k_calls(), 2),
            "bridge_rss_trend_kb_per_1k_calls": round(self.trend_kb_per_1k_calls(), 2),
            "bridge_rss_calls_measured": float(self.calls_measured()),
            "bridge_rss_seconds_measured": round(self.seconds_after_warmup, 1),
            "nats_rss_mb": round(self.nats_rss_mb, 1),
        }


def _slope_kb_per_1k(points: Sequence[tuple[int, float]]) -> float:
    if len(points) < 2 or points[-1][0] == points[0][0]:
        return 0.0
    slope, _ = statistics.linear_regression([float(c) for c, _ in points], [r for _, r in points])
    return slope * 1024 * 1000


def _get(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return str(response.read().decode())


@dataclass
class Bridge:
    process: subprocess.Popen[bytes]
    base: str
    env: dict[str, str]
    log: Path


@contextlib.contextmanager
def running_bridge(database_url: str, env: Mapping[str, str] | None = None) -> Iterator[Bridge]:
    """`livebridge run` on its defaults in a scratch home, its output in `Bridge.log`."""
    with own_database(database_url, "lb_memory") as url:
        home = Path(tempfile.mkdtemp(prefix="livebridge-memory-"))
        port = free_port()
        (home / "livebridge.toml").write_text(CONFIG)
        bridge_env = {
            **os.environ,
            **(env or {}),
            "LIVEBRIDGE_HOME": str(home),
            "LIVEBRIDGE_HTTP_PORT": str(port),
            "LIVEBRIDGE_DATABASE_URL": url,
            "LIVEBRIDGE_CONFIG": str(home / "livebridge.toml"),
            "SOFTSWISS_SECRET": SOFTSWISS_SECRET,
            "LIVEBRIDGE_FEED_SECRET": FEED_SECRET,
        }
        for key in (
            "LIVEBRIDGE_NATS_URL",
            "LIVEBRIDGE_NATS_MONITOR_URL",
            "LIVEBRIDGE_STREAM_PREFIX",
        ):
            bridge_env.pop(key, None)
        base = f"http://127.0.0.1:{port}"
        with open(home / "bridge.log", "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "run"],
                env=bridge_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + READY_S
            while True:
                with contextlib.suppress(OSError):
                    _get(f"{base}/readyz", timeout=1.0)
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = (home / "bridge.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"livebridge run did not become ready:\n{tail}")
                time.sleep(0.5)
            yield Bridge(process, base, bridge_env, home / "bridge.log")
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            shutil.rmtree(home, ignore_errors=True)


def bridge_growth(
    database_url: str,
    *,
    calls: int,
    warmup: int,
    warmup_s: float = 0.0,
    tables: int = TABLES,
    players: int = PLAYERS,
    sample_every_s: float = 2.0,
    min_seconds: float = 0.0,
    max_seconds: float | None = None,
) -> Growth:
    """Sample the RSS of `livebridge run` under `livebridge simulate` until the samples
    after warm-up (`warmup` calls and `warmup_s` seconds) span `calls` calls and
    `min_seconds` (or `max_seconds` passed)."""
    growth = Growth(warmup=warmup)
    # Ten times the rounds the calls need: the simulator is stopped once the samples span
    # what was asked, calls and seconds (sized by the calls alone, a bridge answering
    # quickly had it run out before `min_seconds`). It draws its rounds up front.
    per_round = tables * players * 2
    rounds = 10 * max(3, 2 * (warmup + calls) // per_round + 2)
    with running_bridge(database_url) as bridge:
        command = [sys.executable, "-m", "services.cli", "simulate", "--url", bridge.base]
        command += ["--dialect", "softswiss", "--tables", str(tables)]
        command += ["--players", str(players), "--rounds", str(rounds), "--seed", "17"]
        simulate = subprocess.Popen(
            command,
            env=bridge.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        started = time.monotonic()
        warm: float | None = None
        try:
            while True:
                answered = wallet_calls(bridge.log)
                growth.samples.append((answered, bridge_rss_mb(bridge.process.pid)))
                if warm is None and answered >= warmup and time.monotonic() - started >= warmup_s:
                    warm, growth.warmup = time.monotonic(), answered
                if warm is not None:
                    growth.seconds_after_warmup = time.monotonic() - warm
                if growth.calls_measured() >= calls and growth.seconds_after_warmup >= min_seconds:
                    break
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    break
                if simulate.poll() is not None:
                    err = simulate.stderr.read().decode(errors="replace") if simulate.stderr else ""
                    raise RuntimeError(f"livebridge simulate stopped early: {err[-2000:]}")
                time.sleep(sample_every_s)
            servers = [pid for pid in children(bridge.process.pid) if _is_nats(pid)]
            growth.nats_rss_mb = sum(rss_mb(pid) for pid in servers)
        finally:
            simulate.kill()
            simulate.wait()
            if simulate.stderr is not None:
                simulate.stderr.close()
    return growth


def collector_tradeoff(
    database_url: str,
    events: int,
    limits: Sequence[str] = GOMEMLIMITS,
    replays: int | None = None,
) -> dict[str, float]:
    """Replay p99 and nats-server RSS under each collector budget, on one log."""
    from services.bench import views
    from services.ledger.application import Ledger

    store = Path(tempfile.mkdtemp(prefix="livebridge-gomemlimit-"))
    prefix = "GOMEM" + uuid.uuid4().hex[:8].upper()
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    figures: dict[str, float] = {}
    try:
        with NatsServer(store) as server:
            ledger = views.big_log(server.url, events, stream_prefix=prefix)
            try:
                views.rebuild_rates(ledger, database_url, schema, names=["rounds"])
                round_ids = _sample_rounds(database_url, schema, replays)
            finally:
                ledger.close()
        for limit in limits:
            server = NatsServer(store, go_memory={"GOGC": "off", "GOMEMLIMIT": limit})
            with contextlib.closing(server.start()):
                env = {
                    "PERSISTENCE_MODULE": "services.eventstore",
                    "NATS_URL": server.url,
                    "NATS_STREAM_PREFIX": prefix,
                }
                with Ledger(env) as ledger:
                    timings = views.replay_latencies_ms(
                        ledger, database_url, schema, round_ids, samples=len(round_ids)
                    )
                assert server.pid is not None
                key = limit.lower()
                figures[f"replay_round_p99_ms_gomemlimit_{key}"] = round(views.p99(timings), 2)
                figures[f"nats_rss_mb_gomemlimit_{key}"] = round(rss_mb(server.pid), 1)
    finally:
        shutil.rmtree(store, ignore_errors=True)
    return figures


def _sample_rounds(database_url: str, schema: str, samples: int | None) -> list[str]:
    from projections.catalog import VIEWS
    from projections.catalog import view_env
    from projections.rebuild import open_view
    from projections.rounds.postgres import PostgresRoundsView
    from services.bench.views import REPLAY_SAMPLES

    spec = VIEWS["rounds"]
    view = open_view(spec.projection_class, spec.view_class, view_env(database_url, schema=schema))
    assert isinstance(view, PostgresRoundsView)
    try:
        return list(view.sample_round_ids(samples or REPLAY_SAMPLES))
    finally:
        view.close()


def measure(database_url: str, env: Mapping[str, str]) -> dict[str, float]:
    """Every memory figure, sized by the bench's environment (see the module docstring)."""
    calls = int(env.get("LIVEBRIDGE_BENCH_MEMORY_CALLS", "50000"))
    warmup = int(env.get("LIVEBRIDGE_BENCH_MEMORY_WARMUP", "30000"))
    warmup_s = float(env.get("LIVEBRIDGE_BENCH_MEMORY_WARMUP_S", str(WARMUP_SECONDS)))
    events = int(
        env.get("LIVEBRIDGE_BENCH_MEMORY_LOG_EVENTS")
        or env.get("LIVEBRIDGE_BENCH_LOG_EVENTS", "1000000")
    )
    tables = int(env.get("LIVEBRIDGE_BENCH_MEMORY_TABLES", str(TABLES)))
    players = int(env.get("LIVEBRIDGE_BENCH_MEMORY_PLAYERS", str(PLAYERS)))
    min_seconds = float(env.get("LIVEBRIDGE_BENCH_MEMORY_MIN_S", str(MIN_SECONDS)))
    growth = bridge_growth(
        database_url,
        calls=calls,
        warmup=warmup,
        warmup_s=warmup_s,
        tables=tables,
        players=players,
        min_seconds=min_seconds,
    )
    figures = growth.figures()
    replays = int(env.get("LIVEBRIDGE_BENCH_MEMORY_REPLAYS", "0")) or None
    figures.update(collector_tradeoff(database_url, events, replays=replays))
    return figures
