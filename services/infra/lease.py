"""Leases in JetStream KV: one holder at a time for a job that must run once per deployment.

Any number of bridges may run on one cluster; the round-book follower, the settle feed, each
view's runner and the game-event feed clients must each run in one of them. Each such job
has a key in the bucket `<prefix>_LEASES`; its value names the holder, and its KV revision
(the stream sequence of the last write to the key) is the lease's fencing token.

- **Take**: `kv.create` when the key is absent or deleted; otherwise a bridge that has seen
  the same revision for a whole `ttl` on its own monotonic clock (the holder stopped
  renewing) takes it over with `kv.update(last=revision)`: of several contenders exactly
  one wins, the others get `KeyWrongLastSequenceError`. No wall clocks are compared, so a
  clock jumped on one machine changes nothing.
- **Renew**: every `ttl / 6`, `kv.update(last=<our revision>)`. It is refused once anyone
  else has written the key: a holder paused (SIGSTOP, a long GC, a partition) past its
  `ttl` that wakes up finds its revision stale and stops; it never renews over a new holder.
- **Hold**: `holding()` is true only while the last renewal that succeeded started less than
  `ttl * HOLD_FRACTION` ago, so a holder that cannot reach the cluster stops its job before
  anyone may take over; after a pause it is false at once (the monotonic clock ran on).
  `fence()` renews at once and returns the new revision; a job calls it right before a
  write it must not make once another holds the job (a refused fence raises `LeaseLost`).
- **Release**: on a clean stop the key is deleted (only if still ours), so another takes
  over on its next look, not after a `ttl`.

The jobs' writes are also guarded where they land, so a write already in flight when the
lease moves cannot be applied twice: the settle publisher's batches carry
`Nats-Expected-Last-Sequence` of the settle stream as it last saw it, a view's batch
commits with its tracking row (a position written twice is refused by PostgreSQL), and the
round book is an aggregate saved under the event store's optimistic concurrency.

Errors::

    LeaseLost     a renewal or fence was refused: another bridge holds the job now
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

log = logging.getLogger(__name__)

TTL = 3.0
"""Seconds a lease outlives its holder's last renewal before another bridge may take it."""
RETRY = 1.0
"""Seconds before a job that failed to start (or failed while held) is started again."""
HOLD_FRACTION = 0.6
"""A holder works only while its last good renewal started within `ttl * HOLD_FRACTION`."""


class LeaseLost(RuntimeError):
    """Another bridge holds the job now: stop writing for it."""


def holder_id() -> str:
    """This process, told apart from every other (and from itself before a restart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def lease_bucket(
    js: JetStreamContext, prefix: str, replicas: int = 1, *, within: float = 30.0
) -> KeyValue:
    """The leases' bucket `<prefix>_LEASES` (created at `replicas` if missing).

    A cluster still electing its leaders (all nodes just started) answers late: the
    request is tried again for up to `within` seconds.
    """
    deadline = time.monotonic() + within
    while True:
        try:
            return await js.create_key_value(
                bucket=f"{prefix}_LEASES", history=1, replicas=replicas, direct=False
            )
        except NatsTimeoutError:
            if time.monotonic() > deadline:
                raise
            log.warning("leases bucket %s_LEASES: no answer yet; asking again", prefix)


class Lease:
    """One job's lease, as seen by one would-be holder; see the module doc."""

    def __init__(
        self,
        kv: KeyValue,
        job: str,
        holder: str,
        *,
        ttl: float = TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kv = kv
        self.job = job
        self.holder = holder
        self.ttl = ttl
        self.clock = clock
        self.revision = 0
        """Our last write to the key while we hold it (the fencing token); 0: not held."""
        self.taken = 0
        """How many times this holder has taken the lease."""
        self._confirmed_at = 0.0
        self._seen: tuple[int, float] | None = None  # (another's revision, when first seen)

    @property
    def key(self) -> str:
        return self.job

    def holding(self) -> bool:
        """Whether to work now: held, and confirmed recently enough that nobody else may be."""
        return bool(self.revision) and (
            self.clock() - self._confirmed_at < self.ttl * HOLD_FRACTION
        )

    async def acquire(self) -> bool:
        """Take the lease if it is free or its holder stopped renewing; True if taken."""
        if self.revision:
            return True
        started = self.clock()
        value = self.holder.encode()
        try:
            revision = await self.kv.create(self.key, value)
        except KeyWrongLastSequenceError:
            try:
                entry = await self.kv.get(self.key)
            except KeyNotFoundError:
                return False  # released between the two calls: the next look creates it
            seen = int(entry.revision or 0)
            if self._seen is None or self._seen[0] != seen:
                self._seen = (seen, started)
                return False
            if started - self._seen[1] < self.ttl:
                return False
            try:
                revision = await self.kv.update(self.key, value, last=seen)
            except KeyWrongLastSequenceError:
                return False  # another contender took it first
            log.warning(
                "lease %s taken over from %s (silent for %.1f s)",
                self.job,
                (entry.value or b"").decode(errors="replace"),
                started - self._seen[1],
            )
        self.revision, self._confirmed_at, self._seen = revision, started, None
        self.taken += 1
        return True

    async def renew(self) -> int:
        """Write the lease again under our revision; `LeaseLost` if someone else wrote it."""
        if not self.revision:
            raise LeaseLost(f"lease {self.job}: not held by {self.holder}")
        started = self.clock()
        try:
            revision = await self.kv.update(self.key, self.holder.encode(), last=self.revision)
        except KeyWrongLastSequenceError:
            self.revision = 0
            raise LeaseLost(f"lease {self.job}: another holder wrote it") from None
        self.revision, self._confirmed_at = revision, started
        return revision

    async def fence(self) -> int:
        """Renew now and return the new revision: call it right before a fenced write."""
        return await self.renew()

    async def release(self) -> None:
        """Give the lease up (only if still ours), so another takes it at its next look."""
        revision, self.revision = self.revision, 0
        if revision:
            with contextlib.suppress(Exception):
                await self.kv.delete(self.key, last=revision)

    async def keep(self, stop: asyncio.Event, *, interval: float | None = None) -> None:
        """Take, renew and, when `stop` is set, release the lease; never raises."""
        interval = interval or self.ttl / 6
        try:
            while not stop.is_set():
                try:
                    if self.revision:
                        await self.renew()
                    elif await self.acquire():
                        log.info("lease %s held by %s", self.job, self.holder)
                except LeaseLost as lost:
                    log.warning("%s", lost)
                except Exception as error:  # NATS away: holding() lapses by itself
                    log.warning("lease %s: %s", self.job, error or type(error).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)
        finally:
            await self.release()


async def while_held(
    lease: Lease,
    stop: asyncio.Event,
    job: Callable[[], AbstractAsyncContextManager[Any]],
    *,
    interval: float = 0.1,
) -> None:
    """Keep `job()` entered exactly while `lease.holding()`, until `stop` is set.

    `lease.keep` must run beside it. The job is left (its context exits) as soon as the
    lease lapses or is lost, and entered again when held again.
    """
    while not stop.is_set():
        if not lease.holding():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            continue
        try:
            async with job():
                while lease.holding() and not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), interval)
        except Exception:
            log.exception("job %s failed; starting it again in %.0f s", lease.job, RETRY)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RETRY)


class LeaseBoard:
    """The leases of one process: one `Lease` per job, each kept by a task of its own."""

    def __init__(self, kv: KeyValue, holder: str | None = None, *, ttl: float = TTL) -> None:
        self.kv = kv
        self.holder = holder or holder_id()
        self.ttl = ttl
        self.leases: dict[str, Lease] = {}
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def lease(self, job: str) -> Lease:
        """The lease of `job`, kept (taken when free, renewed) from the first call on."""
        if job not in self.leases:
            lease = self.leases[job] = Lease(self.kv, job, self.holder, ttl=self.ttl)
            self._tasks.append(asyncio.create_task(lease.keep(self._stop), name=f"lease-{job}"))
        return self.leases[job]

    def held(self) -> list[str]:
        return sorted(job for job, lease in self.leases.items() if lease.holding())

    async def close(self) -> None:
        """Stop renewing and release every lease held, so other bridges take them at once."""
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
