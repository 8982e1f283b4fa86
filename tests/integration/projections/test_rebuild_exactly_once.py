"""I7 under faults: no event skipped or applied twice when things die mid-transaction.

Three ways to die, each followed by the same check: the view equals a rebuild from the log
(row for row, tracking row included) and every balance equals the ledger's.
1. PostgreSQL terminates the view's connections again and again, mid-transaction
   (`pg_terminate_backend` from another connection).
2. The projection process is killed (SIGKILL) mid-batch and started again, repeatedly;
   a kill of the batched runner is shown to have left a view half way through the log.
3. A private PostgreSQL cluster (initdb/pg_ctl) is restarted in immediate mode (a crash:
   no shutdown checkpoint) just after a view's write transaction is seen open, under the
   batched runner (production's) and the library's per-event runner.
"""

from __future__ import annotations

import contextlib
import glob
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from eventsourcing.persistence import Tracking

from projections.balances.postgres import PostgresBalancesView
from projections.catalog import VIEWS
from projections.catalog import view_env
from projections.rebuild import catch_up
from projections.rebuild import open_view
from projections.rebuild import rebuild
from projections.run import running_projections
from services.ledger.application import Ledger
from services.simulate.roulette_log import fund
from services.simulate.roulette_log import play


def assert_views_match_the_log(ledger: Ledger, env: dict[str, str], players: int) -> None:
    position = ledger.recorder.max_notification_id()
    for spec in VIEWS.values():
        report = rebuild(ledger, spec.projection_class, spec.view_class, env, swap=False)
        assert report.ok, "\n".join(report.lines())
        assert report.position == position
    balances = open_view(VIEWS["balances"].projection_class, PostgresBalancesView, env)
    try:
        assert isinstance(balances, PostgresBalancesView)
        for n in range(players):
            wallet = balances.wallet(f"p{n:03d}", ledger.name)
            assert wallet is not None
            for row in wallet.balances:
                truth = ledger.balance(f"p{n:03d}", row.currency)
                assert (row.balance, row.held) == (truth.balance, truth.held)
    finally:
        balances.close()


class Terminator(threading.Thread):
    """Every few milliseconds, terminates every backend of the database in a transaction."""

    def __init__(self, database_url: str) -> None:
        super().__init__(daemon=True)
        self.database_url = database_url
        self.stop = threading.Event()
        self.in_transaction = 0

    def run(self) -> None:
        rng = random.Random(3)
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while not self.stop.wait(rng.uniform(0.01, 0.08)):
                rows = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend' "
                    "AND state IN ('active', 'idle in transaction')"
                ).fetchall()
                self.in_transaction += len(rows)


def test_connections_terminated_mid_transaction_skip_nothing_and_repeat_nothing(
    database_url: str, schema: str
) -> None:
    ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    env = view_env(database_url, schema=schema)
    fund(ledger, 10)
    play(ledger, rounds=80, player_count=10, seed=3)
    killer = Terminator(database_url)
    views = {name: open_view(s.projection_class, s.view_class, env) for name, s in VIEWS.items()}
    killer.start()
    try:
        for name, spec in VIEWS.items():
            projection = spec.projection_class(views[name])
            notifications = ledger.recorder.select_notifications(1, 1_000_000)
            half = len(notifications) // 2
            # One event per transaction (the library runner's way) for the first half...
            for notification in notifications[:half]:
                event = ledger.mapper.to_domain_event(notification)
                projection.process_event(event, Tracking(ledger.name, notification.id))
            # ...batches of a few hundred for the rest.
            catch_up(ledger, projection, page=150)
    finally:
        killer.stop.set()
        killer.join()
        for view in views.values():
            view.close()
    # Check the terminations did hit transactions in flight.
    assert killer.in_transaction >= 3, killer.in_transaction
    assert_views_match_the_log(ledger, env, players=10)


KILL_PAGE = 50
"""Events per transaction in the killed process: a 900-event log is many batches."""


class Watcher:
    """Reads each view's tracking position from outside the projection process."""

    def __init__(self, ledger: Ledger, env: dict[str, str]) -> None:
        self.app_name = ledger.name
        self.views = {n: open_view(s.projection_class, s.view_class, env) for n, s in VIEWS.items()}

    def positions(self) -> dict[str, int]:
        return {n: v.max_tracking_id(self.app_name) or 0 for n, v in self.views.items()}

    def close(self) -> None:
        for view in self.views.values():
            view.close()


def test_projection_process_killed_mid_batch_resumes_exactly_where_it_was(
    ledger: Ledger,
    env: dict[str, str],
    database_url: str,
    schema: str,
    repo_root: Path,
) -> None:
    fund(ledger, 6)
    play(ledger, rounds=30, player_count=6, seed=4)
    end = ledger.recorder.max_notification_id()
    assert end is not None and end > 10 * KILL_PAGE
    child_env = {
        **os.environ,
        "PERSISTENCE_MODULE": env["PERSISTENCE_MODULE"],
        "NATS_URL": env["NATS_URL"],
        "NATS_STREAM_PREFIX": env["NATS_STREAM_PREFIX"],
        "LIVEBRIDGE_DATABASE_URL": database_url,
        "LIVEBRIDGE_VIEWS_SCHEMA": schema,
    }
    modes = {
        # The production runner: batches of events, each one transaction.
        "batched": [],
        # The library's per-event runner, after a batched catch-up at start...
        "catch-up, then per event": ["--one-by-one"],
        # ...and without it.
        "per event": ["--one-by-one", "--no-catch-up"],
    }
    watcher = Watcher(ledger, env)  # creates the tables: watched from the start
    rng = random.Random(8)
    left_by_kills: dict[str, list[dict[str, int]]] = {mode: [] for mode in modes}
    try:
        for attempt in range(12):
            mode = list(modes)[attempt % 3]
            before = watcher.positions()
            if min(before.values()) == end and attempt >= 3:
                break
            child = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "services.bridge.projections_main",
                    "--page",
                    str(KILL_PAGE),
                    *modes[mode],
                ],
                cwd=repo_root,
                env=child_env,
                stdout=subprocess.DEVNULL,
            )
            if mode == "batched":
                # Kill as soon as a batch has landed: the catch-up is then part way.
                deadline = time.monotonic() + 30
                while watcher.positions() == before and time.monotonic() < deadline:
                    time.sleep(0.005)
            else:
                time.sleep(rng.uniform(0.8, 2.0))
            child.send_signal(signal.SIGKILL)
            child.wait()
            left_by_kills[mode].append(watcher.positions())
    finally:
        watcher.close()

    # Check a kill of the batched runner did land mid catch-up: some view was left
    # strictly between the start and the end of the log.
    assert any(0 < p < end for left in left_by_kills["batched"] for p in left.values()), (
        left_by_kills
    )
    assert all(left_by_kills.values()), f"every runner was killed at least once: {left_by_kills}"
    # Finish the job in this process, then check.
    with running_projections(env) as running:
        running.wait(end, timeout=60)
    assert_views_match_the_log(ledger, env, players=6)


def _postgres_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None
    )
    if found is None:
        pytest.fail(f"{name} not found: install the PostgreSQL server binaries (postgresql)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PrivateCluster:
    """A throwaway PostgreSQL cluster we may crash and restart (run as `postgres` if root)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.data = base / "data"
        self.port = _free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        base.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil.chown(base, "postgres")
        self._run(_postgres_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def _run(self, *argv: str) -> None:
        done = subprocess.run([*self.as_user, *argv], capture_output=True, text=True, timeout=60)
        if done.returncode:
            pytest.fail(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr}")

    def pg_ctl(self, *args: str) -> None:
        self._run(
            _postgres_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.base / "log"),
            "-w",
            "-o",
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1",
            *args,
        )

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    # Not under pytest's tmp_path: the `postgres` user must be able to reach it.
    base = Path(tempfile.mkdtemp(prefix="livebridge-pg-"))
    try:
        cluster = PrivateCluster(base)
        cluster.pg_ctl("start")
        try:
            yield cluster
        finally:
            cluster.pg_ctl("stop", "-m", "immediate")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def open_write_seen(url: str, seconds: float) -> bool:
    """Whether a client backend was seen inside a transaction that has written (it holds a
    transaction id) within `seconds`. One connection asks again and again: a connection
    per look took longer than a batch of ten events does to commit, and missed most. It
    sleeps a moment between looks: the runners share this process's interpreter lock."""
    deadline = time.monotonic() + seconds
    with (
        contextlib.suppress(psycopg.OperationalError),
        psycopg.connect(url, autocommit=True) as conn,
    ):
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
            ).fetchone()
            if row and row[0]:
                return True
            time.sleep(0.001)
    return False


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "per-event"])
def test_postgres_crash_restart_mid_transaction_skips_nothing_and_repeats_nothing(
    batched: bool, ledger: Ledger, ledger_env: dict[str, str], cluster: PrivateCluster
) -> None:
    fund(ledger, 6)
    play(ledger, rounds=25, player_count=6, seed=6)
    position = ledger.recorder.max_notification_id()
    env = {**ledger_env, **view_env(cluster.url, schema="views")}
    restarts = 0
    caught_open = 0
    # Batches of a few events, so the batched runner is many transactions, not one.
    with running_projections(env, catch_up_first=False, batched=batched, page=10) as running:
        # Crash PostgreSQL while the runners write, three times; each time just after
        # seeing a write transaction open. The first at once: the batched runners now
        # write this log in under 0.3 s.
        for attempt in range(3):
            if attempt:
                time.sleep(0.3)
            reader = running.readers["rounds"]
            if reader.max_tracking_id(ledger.name) == position:
                break
            caught_open += open_write_seen(cluster.url, 5.0)
            cluster.pg_ctl("restart", "-m", "immediate")
            restarts += 1
        running.wait(position, timeout=60)
    assert restarts >= 1
    assert caught_open >= 1, "no write transaction was seen open before a restart"
    assert_views_match_the_log(ledger, env, players=6)
