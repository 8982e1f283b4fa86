"""Keep the nats-server that `livebridge run` started running: restart it when it dies.

`NatsKeeper.watch()` (a task for the life of the app) looks at the child process every
`CHECK_INTERVAL` seconds. When it has exited, the keeper starts it again on the same port
and store (clients reconnect by themselves), waiting `RESTART_BACKOFF` seconds, doubled
after each failed attempt up to `RESTART_MAX_BACKOFF`; each attempt is logged once. While
the server is down after a failed attempt, `down` says why, and `/healthz` answers 503: a
dependency the bridge could not bring back.
"""

from __future__ import annotations

import asyncio
import logging
import time

from services.infra.natsserver import NatsServer
from services.infra.natsserver import NatsServerError

log = logging.getLogger("livebridge")

CHECK_INTERVAL = 0.25
RESTART_BACKOFF = 0.5
RESTART_MAX_BACKOFF = 10.0


class NatsKeeper:
    def __init__(self, server: NatsServer) -> None:
        self.server = server
        self.restarts = 0
        self.failed_attempts = 0
        self.last_error = ""
        self._down_since: float | None = None

    @property
    def down(self) -> str | None:
        """Why the server is down and could not be restarted, or None."""
        if self._down_since is None or not self.failed_attempts:
            return None
        seconds = time.monotonic() - self._down_since
        return (
            f"nats-server down for {seconds:.0f} s, {self.failed_attempts} restart(s) failed: "
            f"{self.last_error}"
        )

    async def watch(self) -> None:
        backoff = RESTART_BACKOFF
        while True:
            await asyncio.sleep(CHECK_INTERVAL)
            if self.server.running():
                continue
            code = self.server.returncode
            if self._down_since is None:
                self._down_since = time.monotonic()
            attempt = self.failed_attempts + 1
            log.warning("nats-server exited (code %s); restarting it, attempt %d", code, attempt)
            try:
                await asyncio.to_thread(self.server.start)
            except (NatsServerError, OSError) as error:
                self.failed_attempts += 1
                self.last_error = str(error).splitlines()[0] if str(error) else repr(error)
                log.warning(
                    "nats-server restart attempt %d failed (%s); next in %.1f s",
                    attempt,
                    self.last_error,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RESTART_MAX_BACKOFF)
                continue
            self.restarts += 1
            log.info("nats-server restarted on %s after %d attempt(s)", self.server.url, attempt)
            self._down_since, self.failed_attempts, self.last_error = None, 0, ""
            backoff = RESTART_BACKOFF
