"""Table and provider status: hot state in JetStream KV, seen by every bridge process.

Bucket `<prefix>_table_status`, history 1, no TTL:

- `p.<provider>`: `ProviderState`, whether the provider is up. A provider nobody marked
  is up.
- `t.<provider>.<digest of the table id>`: `TableState`, a status set by hand (an
  operator's `PUT`, an ops playbook). A table nobody set has its configured status.

Each process watches the bucket and keeps the last value of every key, so a status set
anywhere applies everywhere within milliseconds, and reading one costs no round trip.
`set_table` and `set_provider` write the KV and then their own copy, so the caller reads
its own write at once. Listeners (`listen`) hear every change (the bet socket pushes
`provider.error` from them).

To hide a degraded provider's tables (an ops playbook)::

    statuses = app[TABLE_STATUSES]
    await statuses.set_provider("evolution", up=False, reason="feed silent for 30 s")
    ...
    await statuses.set_provider("evolution", up=True)

Its tables are then `HIDDEN` in every listing and bets there answer
`LBRG-503 PROVIDER_DOWN`; once it is up they show the status they had before.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from datetime import UTC
from datetime import datetime

import msgspec
from aiohttp import web
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from contracts.catalog import ProviderState
from contracts.catalog import TableState
from contracts.catalog import TableStatus

log = logging.getLogger(__name__)

Listener = Callable[[ProviderState | TableState], None]

_provider_decoder = msgspec.json.Decoder(ProviderState)
_table_decoder = msgspec.json.Decoder(TableState)


def _table_key(provider: str, table: str) -> str:
    return f"t.{provider}.{hashlib.sha256(table.encode()).hexdigest()[:32]}"


class TableStatuses:
    def __init__(self, kv: KeyValue | None = None) -> None:
        """`kv` is the bucket; statuses made without one (an app's, before it starts) are
        usable once `attach` has opened it."""
        self._bucket = kv
        self._providers: dict[str, ProviderState] = {}
        self._tables: dict[tuple[str, str], TableState] = {}
        self._listeners: list[Listener] = []
        self._watching: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, js: JetStreamContext, bucket: str, *, replicas: int = 1) -> TableStatuses:
        statuses = cls()
        await statuses.attach(js, bucket, replicas=replicas)
        return statuses

    async def attach(self, js: JetStreamContext, bucket: str, *, replicas: int = 1) -> None:
        """Open (or create) the bucket and follow it: every key's value now, then each
        change. Called again on each new connection (`services.edge.natslink`), it reads
        the values anew, so a change made while no watch ran is not missed."""
        await self.close()
        self._bucket = await js.create_key_value(
            bucket=bucket, history=1, direct=True, replicas=replicas
        )
        watcher = await self._bucket.watchall()
        async for entry in watcher:  # the current values, then None
            if entry is None:
                break
            self._apply(entry.key, entry.value)

        async def follow() -> None:
            try:
                async for entry in watcher:
                    if entry is not None:
                        self._apply(entry.key, entry.value)
            finally:
                with contextlib.suppress(Exception):
                    await watcher.stop()  # type: ignore[no-untyped-call]

        self._watching = asyncio.create_task(follow(), name="table-status-watch")

    async def close(self) -> None:
        watching, self._watching = self._watching, None
        if watching is not None:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching

    @property
    def _kv(self) -> KeyValue:
        if self._bucket is None:
            raise RuntimeError("table statuses used before their bucket was opened (attach)")
        return self._bucket

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with every change from now on; returns the function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _apply(self, key: str, value: bytes | None) -> None:
        if not value:
            return
        try:
            state: ProviderState | TableState
            if key.startswith("p."):
                state = _provider_decoder.decode(value)
                if self._providers.get(state.provider) == state:
                    return
                self._providers[state.provider] = state
            else:
                state = _table_decoder.decode(value)
                if self._tables.get((state.provider, state.table_id)) == state:
                    return
                self._tables[(state.provider, state.table_id)] = state
        except msgspec.DecodeError:
            log.warning("table status %s holds no status; ignored", key)
            return
        for listener in list(self._listeners):
            listener(state)

    async def set_provider(self, provider: str, *, up: bool, reason: str = "") -> ProviderState:
        """Mark `provider` up or down (its tables hidden and closed to bets while down)."""
        state = ProviderState(provider=provider, up=up, reason=reason, changed_at=_now())
        value = msgspec.json.encode(state)
        await self._kv.put(f"p.{provider}", value)
        self._apply(f"p.{provider}", value)
        return state

    async def set_table(
        self, provider: str, table: str, status: TableStatus, *, reason: str = ""
    ) -> TableState:
        """Set one table's status (`OPEN`, `CLOSED`, `MAINTENANCE`, `HIDDEN`) everywhere."""
        state = TableState(
            provider=provider, table_id=table, status=status, reason=reason, changed_at=_now()
        )
        key = _table_key(provider, table)
        value = msgspec.json.encode(state)
        await self._kv.put(key, value)
        self._apply(key, value)
        return state

    def provider(self, provider: str) -> ProviderState | None:
        return self._providers.get(provider)

    def provider_up(self, provider: str) -> bool:
        state = self._providers.get(provider)
        return state is None or state.up

    def table(self, provider: str, table: str) -> TableState | None:
        return self._tables.get((provider, table))


def _now() -> datetime:
    return datetime.now(UTC)


TABLE_STATUSES = web.AppKey("table_statuses", TableStatuses)
