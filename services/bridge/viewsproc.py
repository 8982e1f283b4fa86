"""The views' runners in a process of their own, beside `livebridge run` (the default).

Every view's runner reads every event of the ledger's log, decodes it and writes its rows
to PostgreSQL: in the bridge's own process that work held the GIL a quarter of the time
while bets were taken at half the bridge's rate, and every bet waited its turn behind it.
The child runs at `NICE` (lower priority than the bridge and nats-server): the views are
behind the log by design, and while the machine is busy they fall a little further
behind, then catch up in larger batches, rather than taking the cores a bet is waiting for.

Measured with `livebridge bench --only socket` on two cores, the bench's players in a
process of their own: with the runners in the bridge's process, `ws_bet_per_s` 500-555 and
`ws_bet_p99_ms` 58-70 at half that rate; in this child at `NICE`, 709-746 and 38-50 (at
that higher half rate; the README has each step).

`views_process(env, gates)` starts `python -m services.bridge.projections_main
--for-bridge` (a fresh interpreter that imports only what the views need), waits until its
runners have started, and stops it (SIGTERM) when the app stops; the child dies with the
bridge, and ends when its stdin does. The bridge keeps the leases: every `MIRROR_S` it
looks at the views' leases it holds and, when that changes, writes their names to the
child's stdin; a runner looks at its gate before every pass (a lease lives
`LIVEBRIDGE_LEASE_TTL_S`, 3 s by default). The settings go the same way, as the first
line, not through the environment. A child that ends while the bridge runs is started
again (at most every `RESTART_PAUSE_S`). The bridge reads the views itself
(`projections.run.reading_views`).

`LIVEBRIDGE_VIEWS_PROCESS=0` keeps the runners in the bridge's process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Mapping

from services.infra.natsserver import die_with_parent

log = logging.getLogger(__name__)

NICE = 10
"""Added to the views' process's niceness (CFS weight about a tenth of the bridge's)."""
MIRROR_S = 0.05
"""How often the leases held are looked at (and told to the child when they changed)."""
START_TIMEOUT_S = 120.0
"""How long the child may take to import and start its runners."""
STOP_TIMEOUT_S = 30.0
RESTART_PAUSE_S = 5.0
"""The least time between two starts of the child (one that keeps failing is not spun)."""
CHILD = (sys.executable, "-m", "services.bridge.projections_main", "--for-bridge")
RUNNING = b"projections running"
"""What the child prints once every runner has started."""


class ViewsProcessError(RuntimeError):
    """The views' process did not start."""


class _Child:
    """The views' process: started, told the leases, watched, stopped with the bridge."""

    def __init__(self, env: Mapping[str, str], gates: Mapping[str, Callable[[], bool]]) -> None:
        self._settings = json.dumps(dict(env)).encode() + b"\n"
        self._gates = dict(gates)
        self._told: frozenset[str] | None = None
        self.started_at = 0.0
        self.process = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        # Started on the loop's thread, which lives as long as the bridge: the child's
        # death signal is tied to the thread that starts it.
        process = subprocess.Popen(
            [*CHILD, "--nice", str(NICE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            preexec_fn=die_with_parent,
        )
        assert process.stdin is not None
        process.stdin.write(self._settings)
        process.stdin.flush()
        self._told = None
        self.started_at = time.monotonic()
        return process

    def started(self) -> bool:
        """Whether the child said its runners started before it ended or timed out (run in
        a thread: it reads the child's stdout)."""
        assert self.process.stdout is not None
        return any(line.strip() == RUNNING for line in self.process.stdout)

    def _tell(self) -> None:
        """Write the names of the views whose leases are held, when they changed."""
        held = frozenset(name for name, holding in self._gates.items() if holding())
        if held == self._told:
            return
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):  # a child that ended: started again below
            self.process.stdin.write(" ".join(sorted(held)).encode() + b"\n")
            self.process.stdin.flush()
            self._told = held

    async def watch(self) -> None:
        """Tell the child the leases held, and start it again if it ended."""
        while True:
            self._tell()
            ended = self.process.poll() is not None
            if ended and time.monotonic() - self.started_at >= RESTART_PAUSE_S:
                log.warning(
                    "the views' process ended (exit code %s); starting it again",
                    self.process.returncode,
                )
                _close_pipes(self.process)
                self.process = self._start()
            await asyncio.sleep(MIRROR_S)

    async def stop(self) -> None:
        self.process.terminate()  # SIGTERM: the child stops its runners and ends
        try:
            await asyncio.to_thread(self.process.wait, STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            await asyncio.to_thread(self.process.wait)
        _close_pipes(self.process)


def _close_pipes(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):  # a child gone with what was written to it
                pipe.close()


@contextlib.asynccontextmanager
async def views_process(
    env: Mapping[str, str], gates: Mapping[str, Callable[[], bool]]
) -> AsyncIterator[None]:
    child = _Child(env, gates)
    watching = asyncio.create_task(child.watch(), name="views-process")
    try:
        try:
            running = await asyncio.wait_for(asyncio.to_thread(child.started), START_TIMEOUT_S)
        except TimeoutError:
            running = False
        if not running:
            raise ViewsProcessError(
                f"the views' process did not start (exit code {child.process.poll()})"
            )
        yield
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        await child.stop()
