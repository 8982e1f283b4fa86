"""The ledger's repository: its aggregate cache holds what this process last saved.

The library's `Repository`, with fast-forward on (its default), never puts a saved
aggregate back in the cache: a cached wallet stays at the version it was first read at,
every later load catches it up by reading the events this process wrote itself, and the
event store, seeing a head it never served, reads the wallet's subject from its first
message (a bet read 18 messages on average, more as the wallet and the log grew). Here:

- `keep` puts an aggregate this process saved in the cache (the ledger calls it after every
  recorded save) when that aggregate is cached already and the cached one is older. New
  aggregates enter the cache when first read, as in the library, so bets and transaction
  records, written once and rarely read, do not push the wallets out.
- A cached aggregate is never changed in place: a catch-up builds a new one from a copy
  and replaces it, so a reader copying the cached one never sees half an update.
- `get(..., trusted=True)` returns the cached aggregate as it is, without the catch-up read.
  Only for an attempt whose stale read cannot win: every write of a loaded aggregate
  expects its subject to end where this process last saw it
  (`Nats-Expected-Last-Subject-Sequence`), so a write by another process since makes the
  save conflict, the event store forget its head, and the retry read. A refusal decided on
  a trusted read must be decided again on a fresh one (the ledger's optimistic attempts
  do exactly that).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from copy import deepcopy
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    ProjectorFunction,
    Repository,
    project_aggregate,
)
from eventsourcing.domain import (
    MutableOrImmutableAggregate,
    TDomainEvent,
    TMutableOrImmutableAggregate,
)


class LedgerRepository(Repository[UUID]):
    """`Repository` whose cache follows this process's saves; see the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._keep_lock = threading.Lock()

    def get(
        self,
        aggregate_id: UUID,
        *,
        version: int | None = None,
        projector_func: ProjectorFunction[
            TMutableOrImmutableAggregate, TDomainEvent
        ] = project_aggregate,
        fastforward_skipping: bool = False,
        deepcopy_from_cache: bool = True,
        trusted: bool = False,
    ) -> TMutableOrImmutableAggregate:
        if self.cache is None or version is not None:
            return super().get(
                aggregate_id,
                version=version,
                projector_func=projector_func,
                fastforward_skipping=fastforward_skipping,
                deepcopy_from_cache=deepcopy_from_cache,
            )
        aggregate = self._cached(aggregate_id)
        if aggregate is None:
            aggregate = self._reconstruct_aggregate(aggregate_id, None, projector_func)
            aggregate = self._keep(aggregate, new=True)
        elif self.fastforward and not trusted:
            skip = fastforward_skipping or self.fastforward_skipping
            aggregate = self._catch_up(aggregate_id, aggregate, projector_func, skip)
        if deepcopy_from_cache and self.deepcopy_from_cache:
            aggregate = deepcopy(aggregate)
        return cast("TMutableOrImmutableAggregate", aggregate)

    def keep(self, aggregates: Iterable[MutableOrImmutableAggregate[UUID]]) -> None:
        """Cache what this process has just saved, where an older version is cached."""
        if self.cache is None:
            return
        for aggregate in aggregates:
            # The saver keeps its object: the cache takes a copy of it.
            self._keep(aggregate, new=False, copy=True)

    def _cached(self, aggregate_id: UUID) -> Any:
        assert self.cache is not None
        try:
            return self.cache.get(aggregate_id)
        except KeyError:
            return None

    def _keep(self, aggregate: Any, *, new: bool, copy: bool = False) -> Any:
        """Put `aggregate` in the cache unless a version as new is there; the cached one.

        `new`: cache it even if nothing is cached under its id yet.
        """
        assert self.cache is not None
        with self._keep_lock:
            cached = self._cached(aggregate.id)
            if cached is None and not new:
                return aggregate
            if cached is not None and cached.version >= aggregate.version:
                return cached
            kept = deepcopy(aggregate) if copy else aggregate
            self.cache.put(aggregate.id, kept)
            return kept

    def _catch_up(
        self,
        aggregate_id: UUID,
        aggregate: Any,
        projector_func: ProjectorFunction[Any, Any],
        skip: bool,
    ) -> Any:
        """The cached aggregate with the events stored after it, one catch-up at a time."""
        lock = self._use_fastforward_lock(aggregate_id)
        try:
            if not lock.acquire(blocking=not skip):
                return aggregate
            try:
                current = self._cached(aggregate_id) or aggregate
                new_events = list(
                    self.event_store.get(originator_id=aggregate_id, gt=current.version)
                )
                if not new_events:
                    return current
                fresh = projector_func(deepcopy(current), new_events)
                if fresh is None:
                    raise AggregateNotFoundError(aggregate_id)
                return self._keep(fresh, new=True)
            finally:
                lock.release()
        finally:
            self._disuse_fastforward_lock(aggregate_id)
