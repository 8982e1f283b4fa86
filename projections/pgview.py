"""The PostgreSQL side every view shares: exactly-once writes, batches, diff and swap.

A view's Postgres adapter (`projections/<view>/postgres.py`) subclasses `PostgresView`
and supplies its tables' DDL, how to fold a run of changes, and how to write them. This
base owns the transaction discipline (invariant I7):

- `apply(tracking, changes)` writes the changes and the tracking row in ONE transaction.
  The tracking row only moves forward, so an event offered twice fails the second time
  and changes nothing. A connection lost mid-transaction rolls back; the call is retried
  on a fresh connection, and if the first attempt did commit (the ack was lost), the
  retry sees the tracking row already there and returns without writing again.
- inside `batched()`, `apply` only buffers; the buffer is folded and written with the
  last tracking row in one transaction per batch (the rebuild path: same projection
  code, far fewer round trips).
- a poison event (one the view cannot store: its write fails on the data, such as a NUL
  in a text column, or it cannot be decoded or projected) is **parked**: its position,
  what it was and why go to the `<name>_parked` table with its tracking row, in one
  transaction, and the view goes on with the next event. A view never stalls on an event;
  `parked()` lists them (`livebridge projections parked`), `parked_count()` counts them,
  and the `livebridge.projections.parked` counter (`/metrics`) counts them as they come.
- `differences(other)` compares every table of two copies of the view (live and
  scratch) row for row; `swap_in(live)` moves this copy's tables over the live ones in
  one transaction, keeping the replaced ones in a backup schema.

Table names are `<projection name>_<table>`; the schema comes from `POSTGRES_SCHEMA`
(created if missing), so a scratch copy is the same view in another schema.

While PostgreSQL is away, the read API's tracking read (`has_tracking_id_once`) fails
after one wait for a connection (the library tries its tracking reads ten times, which
held a reader's thread for 20 s), and the API answers 503. `close()` ends any retry in
progress, so a stopping process does not wait for PostgreSQL. The connection pool tries
to reconnect at most every
`RECONNECT_MAX_DELAY` seconds: psycopg_pool's own backoff doubles without bound (1, 2,
4, ... 64 s), so after an outage of a minute the views waited up to another minute
for the pool's next attempt before catching up.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from abc import abstractmethod
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from typing import Generic
from typing import TypeVar

import psycopg
from eventsourcing.persistence import IntegrityError
from eventsourcing.persistence import InterfaceError
from eventsourcing.persistence import OperationalError
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import ConnectionPool
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.postgres import PostgresTrackingRecorder
from opentelemetry import metrics
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL
from psycopg.sql import Composable
from psycopg.sql import Composed
from psycopg.sql import Identifier
from psycopg_pool.base import AttemptWithBackoff

C = TypeVar("C")

log = logging.getLogger(__name__)
_parked_events = metrics.get_meter("livebridge.projections").create_counter(
    "livebridge.projections.parked",
    unit="{event}",
    description="events a view could not store and parked (see `livebridge projections parked`)",
)

CONNECTION_ERRORS = (
    InterfaceError,
    OperationalError,
    psycopg.InterfaceError,
    psycopg.OperationalError,
)
"""Failures of the database, not of an event: never a reason to park one."""
MAX_REASON = 2000

PARKED = "parked"
"""The table (suffix) of events a view could not store."""
APPLY_ATTEMPTS = 30
APPLY_RETRY_WAIT = 0.02
APPLY_RETRY_MAX_WAIT = 1.0
SAMPLE_ROWS = 5
RECONNECT_MAX_DELAY = 1.0


def arrays(rows: Sequence[object], *fields: str) -> list[list[Any]]:
    """One array per field of `rows`, in `fields` order: the parameters of an
    `unnest(%s::type[], ...)` that writes every row in one statement."""
    return [[getattr(row, name) for row in rows] for name in fields]


def create_index(index: Composable, table: Composable, columns: str, where: str = "") -> Composed:
    """`CREATE INDEX IF NOT EXISTS index ON table (columns)`, partial when `where` is given.
    `columns` and `where` are SQL written in the views' code, never input."""
    condition = f" WHERE {where}" if where else ""
    return SQL("CREATE INDEX IF NOT EXISTS {0} ON {1} (" + columns + ")" + condition).format(
        index, table
    )


class _PromptReconnect(AttemptWithBackoff):
    """psycopg_pool's reconnect backoff, capped at `RECONNECT_MAX_DELAY`."""

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, RECONNECT_MAX_DELAY)


class _ViewPool(ConnectionPool[Any]):
    """The library's pool, reconnecting promptly (see the module doc)."""

    def _add_connection(self, attempt: AttemptWithBackoff | None, growing: bool = False) -> None:
        if attempt is None:
            attempt = _PromptReconnect(timeout=self.reconnect_timeout)
        super()._add_connection(attempt, growing)


@dataclass(frozen=True)
class ParkedEvent:
    """An event a view could not store, kept for operations: where, what and why."""

    position: int
    what: str
    """The event's topic, or the kinds of rows it would have written."""
    reason: str


class PoisonEvent(Exception):
    """A write that failed on the data it was given (not on the connection)."""


class PostgresView(PostgresTrackingRecorder, Generic[C]):
    """A materialised view in PostgreSQL whose updates are recorded with their tracking row."""

    table_suffixes: tuple[str, ...] = ()
    """The view's own tables, without the `<name>_` prefix; the tracking table is added."""

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        tracking_table_name: str = "notification_tracking",
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, tracking_table_name=tracking_table_name, **kwargs)
        # The datastore builds its pool itself (not opened yet): give it our reconnects.
        if type(datastore.pool) is ConnectionPool:
            datastore.pool.__class__ = _ViewPool
        self.prefix = tracking_table_name.removesuffix("_tracking")
        self.schema = self.datastore.schema
        self.sql_create_statements.insert(
            0, SQL("CREATE SCHEMA IF NOT EXISTS {0}").format(Identifier(self.schema))
        )
        self.sql_create_statements.extend(self.create_statements())
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (application_name text NOT NULL, "
                "position bigint NOT NULL, what text NOT NULL, reason text NOT NULL, "
                "PRIMARY KEY (application_name, position))"
            ).format(self.table(PARKED))
        )
        self.sql_create_statements.append(
            SQL("CREATE TABLE IF NOT EXISTS {0} (view text PRIMARY KEY, log text NOT NULL)").format(
                self._logs_table()
            )
        )
        self._local = threading.local()
        self._statements: dict[str, bytes] = {}
        self._closing = threading.Event()

    def create_table(self) -> None:
        """The library's, once more if another process created the tables meanwhile.

        The library looks for its tracking table before its DDL transaction; two bridges
        starting at once on a fresh database both find none, and the second's migration
        row then conflicts with the first's. Looked at again, the tables are there.
        """
        try:
            super().create_table()
        except IntegrityError:
            self.tracking_table_exists = False
            super().create_table()

    def _create_table(self, curs: Cursor[DictRow]) -> None:
        """The library's DDL, less the indexes that exist already.

        `CREATE INDEX IF NOT EXISTS` locks its table against writes before it finds the
        index, and the DDL runs in one transaction: a view opened beside a live runner
        writing two of its tables deadlocked with it. Two bridges starting at once on a
        fresh database would race on `CREATE TABLE IF NOT EXISTS` (PostgreSQL's catalog
        refuses the second type of the same name): one transaction-scoped advisory lock per
        view makes the second wait and find the tables.
        """
        curs.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"livebridge.view.{self.prefix}",)
        )
        statements = self.sql_create_statements
        try:
            self.sql_create_statements = [s for s in statements if not _index_exists(curs, s)]
            super()._create_table(curs)
        finally:
            self.sql_create_statements = statements

    # What a view supplies.

    def table(self, suffix: str) -> Composable:
        """The qualified name of one of this view's tables."""
        return Identifier(self.schema, f"{self.prefix}_{suffix}")

    def statement(self, key: str, build: Callable[[], Composed]) -> bytes:
        """`build()` rendered once per view: composing SQL costs more than running it."""
        found = self._statements.get(key)
        if found is None:
            found = self._statements[key] = build().as_bytes()
        return found

    def rows(
        self, key: str, build: Callable[[], Composed], params: Mapping[str, Any]
    ) -> list[DictRow]:
        """The rows statement `key` (see `statement`) reads with `params`, in a read-only
        transaction."""
        with self.datastore.transaction(commit=False) as curs:
            return curs.execute(self.statement(key, build), params).fetchall()

    def index(self, name: str) -> Composable:
        """An index name (indexes live in their table's schema, unqualified)."""
        return Identifier(f"{self.prefix}_{name}_idx")

    @abstractmethod
    def create_statements(self) -> list[Composed]:
        """DDL for the view's tables (IF NOT EXISTS)."""

    @abstractmethod
    def write(self, curs: Cursor[DictRow], changes: Sequence[C]) -> None:
        """Write a run of changes (already in log order) inside the caller's transaction."""

    # Tracking reads, tried once (see the module doc).

    def has_tracking_id_once(self, application_name: str, notification_id: int | None) -> bool:
        """`has_tracking_id` without the library's ten attempts: for the read API, which
        answers 503 at once when PostgreSQL is away rather than hold a thread for 20 s."""
        if notification_id is None:
            return True
        position = self._max_tracking_id_once(application_name)
        return position is not None and position >= notification_id

    # Exactly-once writes.

    def apply(self, tracking: Tracking, changes: Sequence[C]) -> None:
        """Record `changes` and `tracking` atomically; an event already recorded is refused.

        Raises `IntegrityError` when `tracking` is not after the recorded position (the
        event was applied before). Connection failures are retried; see the module doc.
        """
        batch: _Batch[C] | None = getattr(self._local, "batch", None)
        if batch is not None:
            batch.add(tracking, changes)
            return
        self._commit(tracking, list(changes))

    def park(self, tracking: Tracking, what: str, reason: str) -> None:
        """Record that the event at `tracking` cannot be stored, and move past it."""
        parked = self._parking(tracking, what, reason[:MAX_REASON])
        batch: _Batch[C] | None = getattr(self._local, "batch", None)
        if batch is not None:
            batch.add(tracking, (), parked)
            return
        self._commit(tracking, [], [parked])

    def _parking(self, tracking: Tracking, what: str, reason: object) -> ParkedEvent:
        """Log and count an event this view parks; the record to store for it."""
        log.error(
            "view %s parks event %d of %s (%s): %s",
            self.prefix,
            tracking.notification_id,
            tracking.application_name,
            what,
            reason,
        )
        _parked_events.add(1, {"livebridge.view": self.prefix})
        return ParkedEvent(tracking.notification_id, what, str(reason)[:MAX_REASON])

    @contextmanager
    def batched(self) -> Iterator[None]:
        """Buffer `apply` calls in this thread; `flush()` writes them in one transaction."""
        self._local.batch = _Batch[C]()
        try:
            yield
            self.flush()
        finally:
            self._local.batch = None

    def flush(self) -> int:
        """Write the buffered batch now; returns how many events it held."""
        taken = self.take_batch()
        if taken is None:
            return 0
        self.commit_batch(taken)
        return taken.count

    def take_batch(self) -> _Batch[C] | None:
        """The buffered batch (`count` events), emptying the buffer.

        For a writer thread: `commit_batch` the batches in the order they were taken.
        """
        batch: _Batch[C] | None = getattr(self._local, "batch", None)
        if batch is None or batch.tracking is None:
            return None
        self._local.batch = _Batch[C]()
        return batch

    def commit_batch(self, batch: _Batch[C]) -> None:
        """Write one taken batch with its last tracking row, in one transaction; if an event
        of it cannot be stored, write its events one by one and park that one."""
        assert batch.tracking is not None
        try:
            self._commit(batch.tracking, batch.changes, batch.parked, poison_ok=False)
        except PoisonEvent:
            for tracking, changes, parked in batch.items:
                self._commit(tracking, changes, parked)

    def _commit(
        self,
        tracking: Tracking,
        changes: list[C],
        parked: Sequence[ParkedEvent] = (),
        *,
        poison_ok: bool = True,
    ) -> None:
        """Write `changes` (and `parked`) with `tracking`. A write failing on its data
        parks the event when `poison_ok` (one event), else raises `PoisonEvent`."""
        for attempt in range(APPLY_ATTEMPTS):
            try:
                with self.datastore.transaction(commit=True) as curs:
                    # Tracking first: a repeat fails before any view row is touched.
                    self._insert_tracking(curs, tracking)
                    if parked:
                        self._write_parked(curs, tracking.application_name, parked)
                    if changes:
                        try:
                            self.write(curs, changes)
                        except CONNECTION_ERRORS:
                            raise
                        except Exception as error:
                            raise PoisonEvent(f"{type(error).__name__}: {error}") from error
                return
            except PoisonEvent as poison:
                if not poison_ok:
                    raise
                kinds = ", ".join(sorted({type(change).__name__ for change in changes}))
                own = self._parking(tracking, kinds, poison)
                self._commit(tracking, [], [*parked, own])
                return
            except (InterfaceError, OperationalError):
                # The connection died (server restart, terminated backend). The
                # transaction either committed or rolled back as a whole; the tracking
                # row says which.
                if attempt == APPLY_ATTEMPTS - 1 or self._closing.is_set():
                    raise
                time.sleep(min(APPLY_RETRY_WAIT * 2**attempt, APPLY_RETRY_MAX_WAIT))
                if self._recorded(tracking):
                    return
            except IntegrityError:
                if attempt == 0:
                    raise
                # An earlier attempt committed and only its acknowledgement was lost.
                return

    def _write_parked(
        self, curs: Cursor[DictRow], application_name: str, parked: Sequence[ParkedEvent]
    ) -> None:
        statement = self.statement(
            "park",
            lambda: SQL(
                "INSERT INTO {0} (application_name, position, what, reason) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"
            ).format(self.table(PARKED)),
        )
        curs.executemany(
            statement,
            [
                (application_name, p.position, _printable(p.what), _printable(p.reason))
                for p in parked
            ],
        )

    def parked(self, application_name: str, limit: int = 100) -> list[ParkedEvent]:
        """The events this view parked, oldest first (at most `limit`)."""
        with self.datastore.transaction(commit=False) as curs:
            rows = curs.execute(
                SQL(
                    "SELECT position, what, reason FROM {0} WHERE application_name = %s "
                    "ORDER BY position LIMIT %s"
                ).format(self.table(PARKED)),
                (application_name, limit),
            ).fetchall()
        return [ParkedEvent(r["position"], r["what"], r["reason"]) for r in rows]

    def parked_count(self, application_name: str) -> int:
        with self.datastore.transaction(commit=False) as curs:
            row = curs.execute(
                SQL("SELECT count(*) AS n FROM {0} WHERE application_name = %s").format(
                    self.table(PARKED)
                ),
                (application_name,),
            ).fetchone()
        return int(row["n"]) if row else 0

    def _recorded(self, tracking: Tracking) -> bool:
        try:
            position = self._max_tracking_id_once(tracking.application_name)
        except (InterfaceError, OperationalError):
            return False
        return position is not None and position >= tracking.notification_id

    def _max_tracking_id_once(self, application_name: str) -> int | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            return self._max_tracking_id(application_name, curs)

    # Which log the view was built from.

    def _logs_table(self) -> Composable:
        return Identifier(self.schema, "view_logs")

    def follow_log(self, application_name: str, identity: str, head: int) -> bool:
        """Make this view one of the log `identity` (whose last position is `head`).

        A view recorded as built from another log, or (built before logs were recorded)
        standing past `head`, is emptied, to be built again from this log's start;
        returns True then. Writers are held off meanwhile (`locked`).
        """
        with self.locked() as curs:
            row = curs.execute(
                SQL("SELECT log FROM {0} WHERE view = %s").format(self._logs_table()),
                (self.prefix,),
            ).fetchone()
            position = self._max_tracking_id(application_name, curs) or 0
            if row is not None and row["log"] == identity:
                return False
            stale = row is not None or position > head
            if stale:
                for name in self.tables()[:-1]:
                    curs.execute(SQL("TRUNCATE {0}").format(Identifier(self.schema, name)))
                # Only this log's rows: the library keeps a row of its own in the table.
                curs.execute(
                    SQL("DELETE FROM {0} WHERE application_name = %s").format(
                        Identifier(self.schema, self.tracking_table_name)
                    ),
                    (application_name,),
                )
            curs.execute(
                SQL(
                    "INSERT INTO {0} (view, log) VALUES (%s, %s) "
                    "ON CONFLICT (view) DO UPDATE SET log = EXCLUDED.log"
                ).format(self._logs_table()),
                (self.prefix, identity),
            )
            return stale

    # Rebuild support: compare two copies of the view, swap one in.

    def tables(self) -> list[str]:
        names = [f"{self.prefix}_{suffix}" for suffix in (*self.table_suffixes, PARKED)]
        return [*names, self.tracking_table_name]

    def differences(self, other: PostgresView[C]) -> list[str]:
        """Rows present in one copy and not the other, table by table (empty: identical).

        Both copies must be in the same database; `other` is usually the live view and
        `self` the scratch copy.
        """
        found: list[str] = []
        with self.datastore.transaction(commit=False) as curs:
            for name in self.tables():
                mine = Identifier(self.schema, name)
                theirs = Identifier(other.schema, name)
                for label, left, right in (
                    (f"only in {other.schema} (live)", theirs, mine),
                    (f"only in {self.schema} (rebuilt)", mine, theirs),
                ):
                    statement = SQL(
                        "SELECT row_to_json(d)::text AS r, count(*) OVER () AS n FROM "
                        "(SELECT * FROM {0} EXCEPT ALL SELECT * FROM {1}) d LIMIT {2}"
                    ).format(left, right, SAMPLE_ROWS)
                    rows = curs.execute(statement).fetchall()
                    if rows:
                        found.append(f"{name}: {rows[0]['n']} row(s) {label}")
                        found.extend(f"    {row['r']}" for row in rows)
        return found

    @contextmanager
    def locked(self) -> Iterator[Cursor[DictRow]]:
        """Hold off every writer of this view (readers go on) until the block ends."""
        # The tracking table first: writers touch it first too (see `_commit`), so the
        # lock order is the same everywhere and a rebuild never deadlocks a runner.
        names = [self.tracking_table_name, *self.tables()[:-1]]
        with self.datastore.transaction(commit=True) as curs:
            for name in names:
                curs.execute(
                    SQL("LOCK TABLE {0} IN EXCLUSIVE MODE").format(Identifier(self.schema, name))
                )
            yield curs

    def swap_in(self, curs: Cursor[DictRow], live_schema: str, backup_schema: str) -> None:
        """Move this copy's tables into `live_schema`, the live ones into `backup_schema`.

        Runs in the caller's transaction (`locked()` on the live view), so readers see
        the old tables or the new ones, never a mix.
        """
        curs.execute(SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(Identifier(backup_schema)))
        curs.execute(SQL("CREATE SCHEMA {0}").format(Identifier(backup_schema)))
        for name in self.tables():
            curs.execute(
                SQL("ALTER TABLE IF EXISTS {0} SET SCHEMA {1}").format(
                    Identifier(live_schema, name), Identifier(backup_schema)
                )
            )
            curs.execute(
                SQL("ALTER TABLE {0} SET SCHEMA {1}").format(
                    Identifier(self.schema, name), Identifier(live_schema)
                )
            )

    def analyze(self) -> None:
        """Fresh statistics for this copy's tables (a rebuilt copy has none yet)."""
        with self.datastore.transaction(commit=True) as curs:
            for name in self.tables():
                curs.execute(SQL("ANALYZE {0}").format(Identifier(self.schema, name)))

    def drop_schema(self) -> None:
        """Drop this copy's schema and everything in it (scratch copies only)."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(Identifier(self.schema)))

    def close(self) -> None:
        """Close the pool; a write retrying on another thread gives up at once."""
        self._closing.set()
        self.datastore.close()


class _Batch(Generic[C]):
    """Buffered events: their changes in one run, and each event's own (to park one)."""

    def __init__(self) -> None:
        self.changes: list[C] = []
        self.parked: list[ParkedEvent] = []
        self.items: list[tuple[Tracking, list[C], list[ParkedEvent]]] = []
        self.tracking: Tracking | None = None
        self.count = 0

    def add(
        self, tracking: Tracking, changes: Sequence[C], parked: ParkedEvent | None = None
    ) -> None:
        if self.tracking is not None and tracking.notification_id <= self.tracking.notification_id:
            msg = (
                f"event {tracking.notification_id} of {tracking.application_name} offered "
                f"after {self.tracking.notification_id} in one batch"
            )
            raise IntegrityError(msg)
        self.tracking = tracking
        self.changes.extend(changes)
        own = [parked] if parked is not None else []
        self.parked.extend(own)
        self.items.append((tracking, list(changes), own))
        self.count += 1


_CREATE_INDEX = re.compile(r'CREATE INDEX IF NOT EXISTS ("(?:[^"]|"")+") ON ("(?:[^"]|"")+")\.')


def _index_exists(curs: Cursor[DictRow], statement: Composable) -> bool:
    """Whether `statement` creates an index (in its table's schema) that is there already."""
    found = _CREATE_INDEX.match(statement.as_string())
    if found is None:
        return False
    name = f"{found[2]}.{found[1]}"
    row = curs.execute("SELECT to_regclass(%s) AS found", (name,)).fetchone()
    return row is not None and row["found"] is not None


def _printable(text: str) -> str:
    """`text` as PostgreSQL text can hold it (a reason may quote the poison itself)."""
    return text.replace("\x00", "\\x00")
