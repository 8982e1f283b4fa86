"""Jobs that must run once, under a lease in JetStream KV, on the cluster.

Two processes contend for one lease (`tests/integration/cluster/support/holder.py`): one
holds it and writes, fenced by the lease's revision; the other waits. When the holder is
killed (`kill -9`) or paused (SIGSTOP), the other takes over within a few seconds; a paused
holder that wakes up has its next write refused, and nothing it writes lands after the
new holder's first write.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nats
import pytest
from nats.js.api import StreamConfig
from nats.js.errors import BucketNotFoundError
from nats.js.errors import KeyDeletedError
from nats.js.errors import KeyNotFoundError

from projections.catalog import VIEWS as VIEW_SPECS
from services.infra.natscluster import NatsCluster
from tests.integration.cluster.support.holder import TTL
from tests.integration.support.livebridge_run import Bridge
from tests.integration.support.waiting import until

TAKEOVER_S = TTL + 3.0
"""A lease silent for its ttl is taken at the next look (the rest is slack on a busy box)."""


class Holder:
    """A holder process and the lines it prints, read by a thread as they come."""

    def __init__(self, url: str, prefix: str, name: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.cluster.support.holder", url, prefix, name],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())

    def expect(self, want: str, timeout: float) -> str:
        """The next line starting with `want`, within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if line.startswith(want):
                return line
        raise AssertionError(f"no {want!r} line within {timeout} s; saw {self.seen[-5:]}")

    def signal(self, number: int) -> None:
        self.process.send_signal(number)


@contextmanager
def holder(url: str, prefix: str, name: str) -> Iterator[Holder]:
    found = Holder(url, prefix, name)
    try:
        yield found
    finally:
        process = found.process
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
        process.wait()
        found._reader.join(5)
        if process.stdout:
            process.stdout.close()


def work(url: str, prefix: str) -> list[tuple[str, int]]:
    """Every write on the work stream, in order: (writer, lease revision)."""

    async def read() -> list[tuple[str, int]]:
        nc = await nats.connect(url.split(","))
        js = nc.jetstream()
        out: list[tuple[str, int]] = []
        last = (await js.stream_info(f"W{prefix}")).state.last_seq
        for seq in range(1, last + 1):
            name, revision = ((await js.get_msg(f"W{prefix}", seq)).data or b"").decode().split()
            out.append((name, int(revision)))
        await nc.close()
        return out

    return asyncio.run(read())


@pytest.fixture
def prefix(nats_cluster: NatsCluster) -> str:
    name = "L" + uuid.uuid4().hex[:10]

    async def create() -> None:
        nc = await nats.connect(nats_cluster.url.split(","))
        await nc.jetstream().add_stream(
            StreamConfig(name=f"W{name}", subjects=[f"work.{name}"], num_replicas=3)
        )
        await nc.close()

    asyncio.run(create())
    return name


def handover(writes: list[tuple[str, int]], old: str, new: str) -> None:
    """The old holder wrote first, the new one after, and never the old one after the new."""
    names = [name for name, _ in writes]
    assert old in names and new in names
    first_new = names.index(new)
    assert old not in names[first_new:], "a former holder wrote after the new one began"
    revisions = [revision for _, revision in writes]
    assert revisions == sorted(revisions), "every write carries a newer lease revision"


def test_a_killed_holder_is_replaced_within_seconds(nats_cluster: NatsCluster, prefix: str) -> None:
    url = nats_cluster.url
    with holder(url, prefix, "A") as a:
        a.expect("held", 20)
        with holder(url, prefix, "B") as b:
            time.sleep(1.0)  # B has looked, and waits
            a.signal(signal.SIGKILL)  # kill -9: no release
            killed = time.monotonic()
            b.expect("held", TAKEOVER_S + 5)
            assert time.monotonic() - killed < TAKEOVER_S
            time.sleep(0.3)
    handover(work(url, prefix), "A", "B")


def test_a_paused_holder_is_replaced_and_its_write_after_waking_is_refused(
    nats_cluster: NatsCluster, prefix: str
) -> None:
    url = nats_cluster.url
    with holder(url, prefix, "A") as a:
        a.expect("held", 20)
        with holder(url, prefix, "B") as b:
            time.sleep(1.0)  # B has looked, and waits
            a.signal(signal.SIGSTOP)
            paused = time.monotonic()
            b.expect("held", TAKEOVER_S + 5)
            assert time.monotonic() - paused < TAKEOVER_S
            time.sleep(0.3)
            a.signal(signal.SIGCONT)  # A still believes it holds the lease
            a.expect("refused", 5)
            time.sleep(0.3)
            assert b.process.poll() is None and a.process.poll() is None
    handover(work(url, prefix), "A", "B")


def lease_holders(url: str, prefix: str, jobs: set[str]) -> dict[str, str]:
    """Each of `jobs` whose lease is held in the bridges' bucket -> the pid of its holder.

    Every key is read by name: nats-py's `kv.keys()` sweeps the bucket with a watcher whose
    end marker can come before a key renewed during the sweep (renewals land four times a
    second), and a job would look unheld while it is held.
    """

    async def read() -> dict[str, str]:
        nc = await nats.connect(url.split(","))
        try:
            try:
                kv = await nc.jetstream().key_value(f"{prefix}_LEASES")
            except BucketNotFoundError:  # no lease taken yet
                return {}
            found: dict[str, str] = {}
            for key in sorted(jobs):
                with contextlib.suppress(KeyNotFoundError, KeyDeletedError):
                    entry = await kv.get(key)
                    found[key] = (entry.value or b"").decode().split(":")[1]
            return found
        finally:
            await nc.close()

    return asyncio.run(read())


def test_two_bridges_run_each_job_once_and_the_survivor_takes_them_all_when_one_is_killed(
    nats_cluster: NatsCluster, tmp_path: Path, database_url: str
) -> None:
    prefix = "B" + uuid.uuid4().hex[:8].upper()
    env = {
        "LIVEBRIDGE_NATS_MONITOR_URL": nats_cluster.monitor_url,
        "LIVEBRIDGE_STREAM_PREFIX": prefix,
        "LIVEBRIDGE_SETTLE_STREAM": f"{prefix}_ROUND_SETTLE",
        "LIVEBRIDGE_SETTLE_SUBJECT": f"{prefix}.round.settle",
        "LIVEBRIDGE_LEASE_TTL_S": "1.5",
    }
    jobs = {"round-book", "round-settle", *(f"view-{name}" for name in VIEW_SPECS)}
    bridges = [
        Bridge(tmp_path / f"b{n}", n, database_url, env, nats_url=nats_cluster.url) for n in (1, 2)
    ]
    try:
        for one in bridges:
            one.ready(within=30)
        pids = {str(one.process.pid): one for one in bridges}

        def holders_now() -> dict[str, str]:
            return lease_holders(nats_cluster.url, prefix, jobs)

        until(lambda: set(holders_now()) == jobs, 10, "every job")
        holders = holders_now()
        assert set(holders.values()) <= set(pids), "each job is held by one of the bridges"

        holder = pids[holders["round-book"]]
        survivor = next(one for one in bridges if one is not holder)
        holder.close()  # kill -9: its leases are not released, they lapse
        took = until(
            lambda: set(holders_now().values()) == {str(survivor.process.pid)},
            10,
            "the survivor holding every job",
        )
        assert took < 1.5 + 3.0
        assert set(holders_now()) == jobs
        assert survivor.interrupt()[0] == 0
    finally:
        for one in bridges:
            one.close()
