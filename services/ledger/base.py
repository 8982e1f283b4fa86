"""The eventsourcing application the ledger's parts share: how it saves, finds and retries.

`LedgerBase` is the library's `Application` with the ledger's storage choices and nothing
of what a command means: one atomic `save` per command (which the JetStream recorder turns
into one batch with per-aggregate optimistic concurrency), a repository cache that keeps
what this process saved, snapshots taken once per due version, `find` by class, and
`_retrying`, which runs a command again on fresh state after a lost race (`IntegrityError`)
at most `retry_budget` times and then refuses it with `RETRY_EXHAUSTED`.

The command handlers (`services.ledger.commands`), the round book
(`services.ledger.book`) and the public seam (`services.ledger.application`) build on it.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any
from typing import ClassVar
from typing import Protocol
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.application import Application
from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.domain import MutableOrImmutableAggregate
from eventsourcing.persistence import IntegrityError
from eventsourcing.persistence import Recording
from eventsourcing.utils import EnvType
from eventsourcing.utils import strtobool

from contracts.wallet import Debit
from contracts.wallet import Refusal
from contracts.wallet import WalletReply
from services.ledger.domain import Bet
from services.ledger.domain import TxRecord
from services.ledger.domain import Wallet
from services.ledger.domain import project
from services.ledger.domain import round_uuid
from services.ledger.domain import wallet_id
from services.ledger.errors import LedgerRefused
from services.ledger.known_rounds import KnownRounds
from services.ledger.repository import LedgerRepository
from services.ledger.rounds import BookCursor
from services.ledger.rounds import Round
from services.ledger.turns import Acquire
from services.ledger.turns import plain_acquire

T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)

DEFAULT_CACHE_BYTES = 64 * 2**20
"""The aggregate cache's default bound (`AGGREGATE_CACHE_BYTES`): 64 MiB."""


class BetPolicy(Protocol):
    """Limits and player protection, checked before every hold and cashier deposit
    (`services.ledger.protection.Protection`); each raises `LedgerRefused` to refuse."""

    def check_bet(self, cmd: Debit, wallet: Wallet, round_key: str, amount: Decimal) -> None: ...

    def check_deposit(
        self, player: str, currency: str, wallet: Wallet, amount: Decimal
    ) -> None: ...

    def check_may_play(self, player: str) -> None: ...


class LedgerBase(Application[UUID]):
    """The ledger's storage and retries; `services.ledger.application.Ledger` is the seam."""

    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {}

    def __init__(self, env: EnvType | None = None) -> None:
        super().__init__(env)
        providers = self.env.get("BRIDGE_SETTLED_PROVIDERS", "") or ""
        self.bridge_settled = frozenset(p.strip() for p in providers.split(",") if p.strip())
        self.retry_budget = int(self.env.get("RETRY_BUDGET", "64") or "64")
        self.policy: BetPolicy | None = None
        """Limits and protection, checked before every hold and deposit (set by the
        composition root)."""
        self.conflicts_retried = 0
        """Concurrent writes lost and retried on fresh state (a gauge for operations)."""
        self.known_rounds = KnownRounds()
        """Rounds this process saved or its followers read: what a debit knows of its round
        without reading it (`services.ledger.known_rounds`)."""

    def construct_repository(self) -> LedgerRepository:
        """The library's repository, configured the library's way, whose cache keeps what
        this process saved (`services.ledger.repository`)."""
        maxsize = self.env.get(self.AGGREGATE_CACHE_MAXSIZE)
        cache_bytes = self.env.get("AGGREGATE_CACHE_BYTES")
        return LedgerRepository(
            event_store=self.events,
            snapshot_store=self.snapshots,
            cache_maxsize=int(maxsize) if maxsize else None,
            cache_bytes=int(cache_bytes) if maxsize and cache_bytes else None,
            # Written once and rarely read back: caching them only pushed wallets out.
            uncached=(Bet, TxRecord),
            fastforward=strtobool(self.env.get(self.AGGREGATE_CACHE_FASTFORWARD, "y")),
            fastforward_skipping=strtobool(
                self.env.get(self.AGGREGATE_CACHE_FASTFORWARD_SKIPPING, "n")
            ),
            deepcopy_from_cache=strtobool(self.env.get(self.DEEPCOPY_FROM_AGGREGATE_CACHE, "y")),
            acquire=self.acquire,
        )

    @property
    def acquire(self) -> Acquire:
        """How a command takes a lock it may hold across reads and writes: the recorder's
        own where it has one. A JetStream recorder's never blocks its loop, where a command
        may run (`services.eventstore.greenloop`)."""
        acquire: Acquire = getattr(self.recorder, "acquire", plain_acquire)
        return acquire

    @property
    def pause(self) -> Callable[[float], None]:
        """How a command pauses: as `acquire`, the recorder's own where it has one."""
        pause: Callable[[float], None] = getattr(self.recorder, "pause", time.sleep)
        return pause

    @property
    def repository(self) -> LedgerRepository:
        repository = super().repository
        assert isinstance(repository, LedgerRepository)
        return repository

    def save(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        """`Application.save`, collecting events without a runtime-Protocol `isinstance`
        per aggregate (`_Collected`)."""
        processing_event = _Collected()
        processing_event.collect_events(*objs, **kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # deprecated, as in the library
        return recordings

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Snapshot each aggregate just saved whose events passed a multiple of its interval,
        once, at the version saved. The library reads the aggregate back from the store at
        each such version (a round book booking a thousand bets: five whole reads)."""
        if not (self.snapshots and self.snapshotting_intervals):
            return
        due: dict[UUID, Aggregate] = {}
        for event in processing_event.events:
            aggregate = processing_event.aggregates.get(event.originator_id)
            interval = self.snapshotting_intervals.get(type(aggregate))
            if interval is not None and event.originator_version % interval == 0:
                assert isinstance(aggregate, Aggregate)
                due[aggregate.id] = aggregate
        if due:
            self.snapshots.put([type(a).Snapshot.take(a) for a in due.values()])

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """Record as the library does, then cache what was saved (which the library, with
        fast-forward on, leaves behind)."""
        recordings = super()._record(processing_event)
        self.repository.keep(processing_event.aggregates.values())
        for aggregate in processing_event.aggregates.values():
            if isinstance(aggregate, Round):
                self.known_rounds.note(aggregate)
        return recordings

    def _composing(self) -> AbstractContextManager[None]:
        """Around a command: a recorder that shares atomic batches between concurrent
        writes (`services.eventstore`) lets a batch wait for this command's write."""
        composing = getattr(self.recorder, "composing", None)
        return composing() if composing is not None else contextlib.nullcontext()

    def _saved(self, record: TxRecord, *aggregates: Aggregate) -> WalletReply:
        recordings = self.save(*aggregates)
        assert record.reply is not None
        position = recordings[-1].notification.id if recordings else 0
        return WalletReply(**record.reply, log_position=position)

    def _retrying(self, what: str, command: Callable[..., T], *args: Any) -> T:
        for attempt in range(self.retry_budget):
            try:
                return command(*args, attempt)
            except IntegrityError:
                self.conflicts_retried += 1
                # Back off a little, more each time, so two writers stop colliding in step.
                self.pause(random.uniform(0, 0.001 * min(attempt, 20)))
        raise LedgerRefused(
            Refusal.RETRY_EXHAUSTED,
            f"{what}: {self.retry_budget} attempts each lost to a concurrent write; "
            "nothing was written, send it again",
        )

    def find(self, cls: type[A], aggregate_id: UUID, *, trusted: bool = False) -> A | None:
        """The aggregate of type `cls` with `aggregate_id`, or None. `trusted`: as cached,
        without catching up (see `services.ledger.repository`): only where a stale one
        cannot win."""
        try:
            aggregate: Aggregate = self.repository.get(
                aggregate_id,
                projector_func=project,
                trusted=trusted,
                snapshotted=cls in self.snapshotting_intervals,
            )
        except AggregateNotFoundError:
            return None
        assert isinstance(aggregate, cls), (aggregate_id, type(aggregate))
        return aggregate

    def _wallet(self, player: str, currency: str, *, trusted: bool = False) -> Wallet:
        wallet = self.find(Wallet, wallet_id(player, currency), trusted=trusted)
        if wallet is None:
            raise LedgerRefused(
                Refusal.UNKNOWN_WALLET,
                f"player {player!r} has no {currency} wallet; open it first",
            )
        return wallet

    def _wallet_currency(self, wallet: UUID) -> str:
        found = self.find(Wallet, wallet)
        return found.currency if found else ""

    def load_book_cursor(self) -> BookCursor:
        return self.find(BookCursor, BookCursor.create_id()) or BookCursor()

    def _peek_round(self, provider: str, round_id: str) -> Round | None:
        """The round as stored now, read around the aggregate cache.

        Every bet of a hot table reads its round; through the cache they would queue on the
        round's fast-forward lock, one JetStream read at a time. A round has few events.
        """
        events = self.events.get(round_uuid(provider, round_id))
        found = project(None, events)
        assert found is None or isinstance(found, Round)
        # Known from now on: a round with no events yet too, whose opening a follower or
        # this process's own write will tell.
        if found is None:
            self.known_rounds.note_empty(provider, round_id)
        else:
            self.known_rounds.note(found)
        return found

    def _tx_record(self, record_id: UUID) -> TxRecord:
        found = self.find(TxRecord, record_id)
        assert found is not None, record_id
        return found

    def bet(self, bet_id: UUID) -> Bet:
        found = self.find(Bet, bet_id)
        if found is None:
            raise LedgerRefused(Refusal.BET_NOT_FOUND, f"no bet {bet_id.hex} in the ledger")
        return found


class _Collected(ProcessingEvent[UUID]):
    """The library's `ProcessingEvent`, checking the ledger's own aggregates by class: its
    `isinstance` against runtime Protocols costs more than a bet's domain work."""

    def collect_events(self, *objs: Any, **kwargs: Any) -> None:
        others = []
        for obj in objs:
            if isinstance(obj, Aggregate):
                self.events.extend(obj.collect_events())
                self.aggregates[obj.id] = obj
            elif obj is not None:
                others.append(obj)
        super().collect_events(*others, **kwargs)
