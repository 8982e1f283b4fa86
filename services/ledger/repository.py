"""The ledger's repository: its aggregate cache holds what this process last saved.

The library's `Repository`, with fast-forward on (its default), never puts a saved
aggregate back in the cache: a cached wallet stays at the version it was first read at,
every later load catches it up by reading the events this process wrote itself, and the
event store, seeing a head it never served, reads the wallet's subject from its first
message (a bet read 18 messages on average, more as the wallet and the log grew). Here:

- `keep` puts an aggregate this process saved in the cache (the ledger calls it after every
  recorded save) when that aggregate is cached already and the cached one is older. New
  aggregates enter the cache when first read, as in the library, so bets and transaction
  records, written once and rarely read, do not push the wallets out. As the library does
  with fast-forward off, the saved object itself is cached, not a copy (a settlement saves
  a thousand wallets at once): an aggregate handed to `save` must not be changed after.
  One that was (it has pending events) is never served: it is dropped and read again.
- A cached aggregate is never changed in place: a catch-up builds a new one from a copy
  and replaces it, so a reader copying the cached one never sees half an update.
- Commands get a copy of the cached aggregate, as from the library, but made knowing what
  an aggregate holds (`copy_aggregate`): values that cannot change are shared, containers
  of them copied one level, anything else deep-copied (a wallet in a few microseconds
  instead of tens).
- The cache is bounded by bytes (`SizedCache`, `AGGREGATE_CACHE_BYTES`): each aggregate is
  weighed when it is put (`approx_size`, measured against tracemalloc in the tests), and
  the least recently used go first. Types named `uncached` (bets and transaction records:
  written once, rarely read back) never enter it.
- `get(..., snapshotted=False)` skips the snapshot store for an aggregate whose type is
  never snapshotted (a transaction record, a bet): one read instead of two on a miss.
- `get(..., trusted=True)` returns the cached aggregate as it is, without the catch-up read.
  Only for an attempt whose stale read cannot win: every write of a loaded aggregate
  expects its subject to end where this process last saw it
  (`Nats-Expected-Last-Subject-Sequence`), so a write by another process since makes the
  save conflict, the event store forget its head, and the retry read. A refusal decided on
  a trusted read must be decided again on a fresh one (the ledger's optimistic attempts
  do exactly that).
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import threading
from collections import OrderedDict
from collections.abc import Collection
from collections.abc import Iterable
from copy import deepcopy
from datetime import datetime
from decimal import Decimal
from typing import Any
from typing import cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.application import Cache
from eventsourcing.application import ProjectorFunction
from eventsourcing.application import Repository
from eventsourcing.application import project_aggregate
from eventsourcing.domain import MutableOrImmutableAggregate
from eventsourcing.domain import TDomainEvent
from eventsourcing.domain import TMutableOrImmutableAggregate

from services.ledger.turns import Acquire
from services.ledger.turns import plain_acquire

_IMMUTABLE = frozenset({str, int, bool, float, Decimal, UUID, datetime, type(None)})


def copy_aggregate(aggregate: Any) -> Any:
    """A copy as independent of `aggregate` as `deepcopy` makes it, made cheaply: attributes
    of immutable types are shared, dicts and lists of them copied one level (dicts of such
    dicts two), and anything else deep-copied."""
    clone = object.__new__(type(aggregate))
    memo: dict[int, Any] = {id(aggregate): clone}
    state = clone.__dict__
    for name, value in vars(aggregate).items():
        kind = type(value)
        if kind in _IMMUTABLE:
            state[name] = value
        elif (kind is dict or kind is list) and _all_immutable(
            value.values() if kind is dict else value
        ):
            state[name] = value.copy()
        elif kind is dict and _all_flat_dicts(value.values()):
            # A wallet's tallies: a dict of periods, each a dict of figures.
            state[name] = {key: inner.copy() for key, inner in value.items()}
        else:
            state[name] = deepcopy(value, memo)
    return clone


def _all_immutable(values: Iterable[Any]) -> bool:
    return all(type(v) in _IMMUTABLE for v in values)


def _all_flat_dicts(values: Iterable[Any]) -> bool:
    return all(type(v) is dict and _all_immutable(v.values()) for v in values)


AGGREGATE_OVERHEAD = 1_000
"""Bytes an aggregate costs beyond what `approx_size` counts of its attributes: the object,
its `__dict__`, its id and timestamps, and the cache's own entry."""


ITEM_OVERHEAD = 100
"""Bytes a container's item costs beyond its own size: the allocator's rounding and what
its values hold one level further down."""


WEIGHED_ITEMS = 8
"""Items of a container weighed one by one; the rest are taken to weigh what those did on
average (an aggregate's containers each hold items of one kind: holds, bets, positions).
Weighing every item cost a wallet save 60 us at 60 open holds, on every bet."""


def approx_size(aggregate: Any) -> int:
    """About the bytes `aggregate` holds: its attributes, and the items of its containers
    one level down (an aggregate's state is flat: dicts of strings, Decimals, lists)."""
    total = AGGREGATE_OVERHEAD
    for value in vars(aggregate).values():
        total += sys.getsizeof(value)
        kind = type(value)
        if kind is dict:
            weighed = itertools.islice(value.items(), WEIGHED_ITEMS)
            total += _items(len(value), [sys.getsizeof(k) + sys.getsizeof(v) for k, v in weighed])
        elif kind is list or kind is set or kind is tuple:
            weighed = itertools.islice(value, WEIGHED_ITEMS)
            total += _items(len(value), [sys.getsizeof(item) for item in weighed])
    return total


def _items(count: int, weighed: list[int]) -> int:
    """What `count` items cost, `weighed` the sizes of the first of them."""
    if not weighed:
        return 0
    return count * (ITEM_OVERHEAD + sum(weighed) // len(weighed))


class SizedCache(Cache[UUID, Any]):
    """The library's cache interface, least recently used first out, bounded by bytes.

    An entry's size is taken when it is put (cached aggregates are never changed in place:
    see the module docstring). One larger than the whole bound is not kept.
    """

    def __init__(self, max_bytes: int, size_of: Any = approx_size) -> None:
        super().__init__()
        self.max_bytes = max_bytes
        self.bytes = 0
        self._size_of = size_of
        self._items: OrderedDict[UUID, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: UUID, *, evict: bool = False) -> Any:
        with self._lock:
            if evict:
                value, size = self._items.pop(key)
                self.bytes -= size
                return value
            value, _ = self._items[key]
            self._items.move_to_end(key)
            return value

    def put(self, key: UUID, value: Any | None) -> None:
        if value is None:
            return
        size = self._size_of(value)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            if size > self.max_bytes:
                return
            self._items[key] = (value, size)
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self.bytes -= dropped


class LedgerRepository(Repository[UUID]):
    """`Repository` whose cache follows this process's saves; see the module docstring.

    `cache_bytes`: bound the cache by bytes (`SizedCache`) instead of the library's count;
    `uncached`: aggregate types never cached.
    """

    def __init__(
        self,
        *args: Any,
        cache_bytes: int | None = None,
        uncached: Collection[type[Any]] = (),
        acquire: Acquire | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._acquire = acquire or plain_acquire
        if cache_bytes is not None:
            self.cache = SizedCache(cache_bytes) if cache_bytes > 0 else None
        self._uncached = frozenset(uncached)
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
        snapshotted: bool = True,
    ) -> TMutableOrImmutableAggregate:
        if self.cache is None or version is not None:
            if snapshotted:
                return super().get(
                    aggregate_id,
                    version=version,
                    projector_func=projector_func,
                    fastforward_skipping=fastforward_skipping,
                    deepcopy_from_cache=deepcopy_from_cache,
                )
            found = self._reconstruct(aggregate_id, version, projector_func, snapshotted=False)
            return cast("TMutableOrImmutableAggregate", found)
        aggregate = self._cached(aggregate_id)
        if aggregate is None:
            aggregate = self._reconstruct(aggregate_id, None, projector_func, snapshotted)
            if type(aggregate) in self._uncached:
                return cast("TMutableOrImmutableAggregate", aggregate)
            aggregate = self._keep(aggregate, new=True)
        elif self.fastforward and not trusted:
            skip = fastforward_skipping or self.fastforward_skipping
            aggregate = self._catch_up(aggregate_id, aggregate, projector_func, skip)
        if deepcopy_from_cache and self.deepcopy_from_cache:
            aggregate = copy_aggregate(aggregate)
        return cast("TMutableOrImmutableAggregate", aggregate)

    def keep(self, aggregates: Iterable[MutableOrImmutableAggregate[UUID]]) -> None:
        """Cache what this process has just saved, where an older version is cached."""
        if self.cache is None:
            return
        for aggregate in aggregates:
            self._keep(aggregate, new=False)

    def forget(self, aggregate_ids: Iterable[UUID]) -> None:
        """Drop these aggregates from the cache (a later `get` reads them again)."""
        if self.cache is None:
            return
        for aggregate_id in aggregate_ids:
            with contextlib.suppress(KeyError):
                self.cache.get(aggregate_id, evict=True)

    def holds(self, aggregate_id: UUID) -> bool:
        """Whether the cache holds the aggregate (a trusted `get` then reads nothing)."""
        return self.cache is not None and self._cached(aggregate_id) is not None

    def _reconstruct(
        self,
        aggregate_id: UUID,
        version: int | None,
        projector_func: ProjectorFunction[Any, Any],
        snapshotted: bool,
    ) -> Any:
        if snapshotted:
            return self._reconstruct_aggregate(aggregate_id, version, projector_func)
        events = self.event_store.get(originator_id=aggregate_id, lte=version)
        aggregate = projector_func(None, events)
        if aggregate is None:
            raise AggregateNotFoundError(
                f"Aggregate {aggregate_id!r} version {version!r} not found."
            )
        return aggregate

    def _cached(self, aggregate_id: UUID) -> Any:
        assert self.cache is not None
        try:
            aggregate = self.cache.get(aggregate_id)
        except KeyError:
            return None
        if getattr(aggregate, "_pending_events", None):
            # Changed after it was saved: not what is stored. Forget it.
            with contextlib.suppress(KeyError):
                self.cache.get(aggregate_id, evict=True)
            return None
        return aggregate

    def _keep(self, aggregate: Any, *, new: bool) -> Any:
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
            self.cache.put(aggregate.id, aggregate)
            return aggregate

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
            if not self._acquire(lock, not skip):
                return aggregate
            try:
                current = self._cached(aggregate_id) or aggregate
                new_events = list(
                    self.event_store.get(originator_id=aggregate_id, gt=current.version)
                )
                if not new_events:
                    return current
                fresh = projector_func(copy_aggregate(current), new_events)
                if fresh is None:
                    raise AggregateNotFoundError(aggregate_id)
                return self._keep(fresh, new=True)
            finally:
                lock.release()
        finally:
            self._disuse_fastforward_lock(aggregate_id)
