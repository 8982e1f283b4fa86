"""Keep the read models up to date inside the service, and open them for readers.

The composition root calls `running_projections(env)` once and keeps the block open for
the life of the process::

    with running_projections(env) as views:
        setup_read_api(app, balances=views.balances, rounds=views.rounds)
        ...serve...

Each view runs in a thread of its own, resuming from its tracking row, so no event is
skipped or applied twice across restarts. Two runners, same rows:
- `BatchedRunner` (default): `catch_up` in a loop, each batch of events committed with
  its last tracking row in one transaction; far more events per second under load.
- the library's `ProjectionRunner` (`batched=False`), one event per transaction, after a
  batched catch-up at start; a supervisor thread restarts it from its tracking row when
  it stops on an error (PostgreSQL gone for longer than the write retries). An event it
  cannot decode or project is parked, as the batched runner parks it.

Settings: the ledger's own (`PERSISTENCE_MODULE=services.eventstore`, `NATS_URL`,
`NATS_STREAM_PREFIX`), plus `projections.catalog.view_env(database_url)` for the views,
which puts every view in PostgreSQL under `<NAME>_` keys apart from the ledger's settings.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Mapper
from eventsourcing.persistence import StoredEvent
from eventsourcing.persistence import Tracking
from eventsourcing.projection import ApplicationSubscription
from eventsourcing.projection import EventSourcedProjection
from eventsourcing.projection import Projection
from eventsourcing.projection import ProjectionRunner

from projections.balances.postgres import PostgresBalancesView
from projections.catalog import VIEWS
from projections.catalog import ViewSpec
from projections.pgview import PostgresView
from projections.rebuild import PAGE
from projections.rebuild import catch_up
from projections.rebuild import decoded
from projections.rebuild import open_view
from projections.rebuild import project
from projections.reconcile.postgres import PostgresReconcileView
from projections.rounds.postgres import PostgresRoundsView

log = logging.getLogger(__name__)

SUPERVISE_INTERVAL = 1.0


READ_POOL_TIMEOUT = 2
"""Seconds a reader waits for a connection: the read API answers 503 soon after, never 30 s."""


def reader_env(env: Mapping[str, str], names: tuple[str, ...] = tuple(VIEWS)) -> dict[str, str]:
    """`env` for the views' readers: a short wait for a connection.

    (Not `PRE_PING`: psycopg_pool backs off 1, 2, 4 s between dead connections it
    checks, so after PostgreSQL restarts a read waited seconds; the read API tries a
    read that failed on a dead connection again instead.)
    """
    found = dict(env)
    for name in names:
        found[f"{name.upper()}_POSTGRES_CONNECT_TIMEOUT"] = str(READ_POOL_TIMEOUT)
    return found


def follow_log(app: Application[Any], view: PostgresView[Any]) -> None:
    """Rebuild `view` from the start if it was built from another log than `app`'s.

    A new `LIVEBRIDGE_HOME` (a new nats store) against a database whose views came from
    the old one: the views' positions mean nothing in the new log. Logs that cannot tell
    who they are (the library's in-memory store) are taken as they are.
    """
    identify = getattr(app.recorder, "log_identity", None)
    if identify is None:
        return
    identity, head = identify()
    if view.follow_log(app.name, identity, head):
        log.warning(
            "view %s was built from another log than %s: emptied, rebuilding it from the start",
            view.prefix,
            identity,
        )


class _ParkingMapper(Mapper[Any]):
    """The application's mapper, answering `Undecodable` for an event it cannot decode."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        super().__init__(mapper.transcoder, mapper.compressor, mapper.cipher)
        self._mapper = mapper

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return decoded(self._mapper, stored_event)


class _Parking(Projection[Any]):
    """`inner`, parking an event it cannot decode or project (`rebuild.project`)."""

    def __init__(self, inner: Projection[Any]) -> None:
        super().__init__(inner.view)
        self.inner = inner

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        project(self.inner, domain_event, tracking)


class ParkingProjectionRunner(ProjectionRunner[Application[Any], Any]):
    """The library's runner, one event per transaction, that parks a poison event as the
    batched runner does instead of stopping on it (and being restarted onto it forever)."""

    @staticmethod
    def _process_events_loop(
        subscription: ApplicationSubscription[Any],
        projection: EventSourcedProjection[Any] | Projection[Any],
        is_stopping: threading.Event,
        runner: weakref.ReferenceType[ProjectionRunner[Application[Any], Any]],
    ) -> None:
        assert isinstance(projection, Projection)
        subscription.mapper = _ParkingMapper(subscription.mapper)
        ProjectionRunner._process_events_loop(
            subscription, _Parking(projection), is_stopping, runner
        )


class SupervisedRunner:
    """A `ProjectionRunner` that is restarted from its tracking row when it fails."""

    def __init__(
        self, application_class: type[Application[Any]], spec: ViewSpec, env: Mapping[str, str]
    ) -> None:
        self.application_class = application_class
        self.spec = spec
        self.env = dict(env)
        self.restarts = 0
        self.last_error: BaseException | None = None
        self._stopping = threading.Event()
        self._runner = self._start()
        self._supervisor = threading.Thread(
            target=self._supervise, name=f"projection-{spec.name}", daemon=True
        )
        self._supervisor.start()

    def _start(self) -> ProjectionRunner[Application[Any], Any]:
        runner: ProjectionRunner[Application[Any], Any] = ParkingProjectionRunner(
            application_class=self.application_class,
            projection_class=self.spec.projection_class,
            view_class=self.spec.view_class,
            env=self.env,
        )
        return runner.__enter__()

    def _supervise(self) -> None:
        while not self._stopping.wait(SUPERVISE_INTERVAL):
            runner = self._runner
            if not runner.is_interrupted.is_set() or self._stopping.is_set():
                continue
            try:
                runner.__exit__(None, None, None)
            except BaseException as error:  # the thread's error, re-raised by __exit__
                self.last_error = error
                log.warning("projection %s stopped (%s); restarting", self.spec.name, error)
            finally:
                runner.view.close()
            if self._stopping.is_set():
                return
            try:
                self._runner = self._start()
                self.restarts += 1
            except Exception as error:
                self.last_error = error
                log.warning("projection %s could not restart (%s)", self.spec.name, error)

    @property
    def app_name(self) -> str:
        name: str = self._runner.app_name
        return name

    def stop(self) -> None:
        self._stopping.set()
        self._supervisor.join()
        try:
            self._runner.__exit__(None, None, None)
        except BaseException as error:
            self.last_error = error
        self._runner.view.close()


class BatchedRunner:
    """Keeps one view current with `catch_up`: many events per transaction under load.

    Same exactly-once rule as the library runner (each batch commits its rows with its
    last tracking row), several times its throughput when events come faster than one
    transaction per event allows; a batch is at most `page` events. Idle, it looks for
    new events every `poll` seconds.
    A failed batch (PostgreSQL gone longer than the write retries) is retried from the
    tracking row after a pause.
    """

    def __init__(
        self,
        application_class: type[Application[Any]],
        spec: ViewSpec,
        env: Mapping[str, str],
        *,
        poll: float = 0.05,
        page: int = PAGE,
        gate: Callable[[], bool] | None = None,
    ) -> None:
        self.spec = spec
        self.gate = gate
        """Whether to run now (this process holds the view's lease); None: always."""
        self.app = application_class(dict(env))
        self.view = open_view(spec.projection_class, spec.view_class, env)
        follow_log(self.app, self.view)
        self.projection = spec.projection_class(self.view)
        self.poll = poll
        self.page = page
        self.restarts = 0
        self.last_error: BaseException | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"projection-{spec.name}", daemon=True
        )
        self._thread.start()

    @property
    def app_name(self) -> str:
        return self.app.name

    def _run(self) -> None:
        while not self._stopping.is_set():
            if self.gate is not None and not self.gate():
                self._stopping.wait(self.poll)
                continue
            try:
                applied = catch_up(self.app, self.projection, page=self.page, traced=True)
            except Exception as error:
                if self._stopping.is_set():
                    return  # stop() closed the view under a batch
                self.last_error = error
                self.restarts += 1
                log.warning("projection %s failed (%s); resuming", self.spec.name, error)
                self._stopping.wait(SUPERVISE_INTERVAL)
                continue
            if not applied:
                self._stopping.wait(self.poll)

    def stop(self) -> None:
        """Stop at once, even while PostgreSQL is away: closing the view ends its waits."""
        self._stopping.set()
        self.view.close()
        self._thread.join()
        self.app.close()


class RunningViews:
    """The running projections of one process, and views opened for readers.

    `balances`, `rounds` and `reconcile` are connection pools apart from the runners', so
    a reader never waits behind a write and survives a runner restart.
    """

    def __init__(
        self,
        runners: dict[str, SupervisedRunner | BatchedRunner],
        readers: dict[str, PostgresView[Any]],
        app_name: str | None = None,
    ) -> None:
        self.runners = runners
        """Empty where the runners are in another process (`reading_views`)."""
        self.readers = readers
        self._app_name = app_name

    @property
    def balances(self) -> PostgresBalancesView:
        view = self.readers["balances"]
        assert isinstance(view, PostgresBalancesView)
        return view

    @property
    def rounds(self) -> PostgresRoundsView:
        view = self.readers["rounds"]
        assert isinstance(view, PostgresRoundsView)
        return view

    @property
    def reconcile(self) -> PostgresReconcileView:
        view = self.readers["reconcile"]
        assert isinstance(view, PostgresReconcileView)
        return view

    def wait(self, notification_id: int | None, timeout: float = 5.0) -> None:
        """Block until every view reflects log position `notification_id` (read-your-writes)."""
        for name, reader in self.readers.items():
            runner = self.runners.get(name)
            app_name = runner.app_name if runner is not None else self._app_name
            assert app_name is not None, "a view read with no runner names its log's app"
            reader.wait(app_name, notification_id, timeout=timeout)


@contextmanager
def running_projections(
    env: Mapping[str, str],
    *,
    application_class: type[Application[Any]] | None = None,
    names: tuple[str, ...] = tuple(VIEWS),
    catch_up_first: bool = True,
    batched: bool = True,
    page: int = PAGE,
    gates: Mapping[str, Callable[[], bool]] | None = None,
) -> Iterator[RunningViews]:
    """Run the named views (default: all) until the block exits; see the module doc.

    By default each view runs a `BatchedRunner` (at most `page` events per transaction);
    `batched=False` runs the library's `ProjectionRunner` instead (same rows; measured on
    JetStream here: ~150 events/s for both views one event per transaction, against
    ~3,500 batched). `gates[name]`, where given, says when view `name`'s batched runner
    may run (its lease is held: several bridges, one runner each view).
    """
    if application_class is None:
        from services.ledger.application import Ledger

        application_class = Ledger
    runners: dict[str, SupervisedRunner | BatchedRunner] = {}
    readers: dict[str, PostgresView[Any]] = {}
    try:
        if catch_up_first and not batched:
            app = application_class(dict(env))
            try:
                for name in names:
                    spec = VIEWS[name]
                    view = open_view(spec.projection_class, spec.view_class, env)
                    try:
                        follow_log(app, view)
                        catch_up(app, spec.projection_class(view), page=page)
                    finally:
                        view.close()
            finally:
                app.close()
        for name in names:
            spec = VIEWS[name]
            if batched:
                gate = (gates or {}).get(name)
                runners[name] = BatchedRunner(application_class, spec, env, page=page, gate=gate)
            else:
                runners[name] = SupervisedRunner(application_class, spec, env)
            readers[name] = open_view(spec.projection_class, spec.view_class, reader_env(env))
        yield RunningViews(runners, readers)
    finally:
        for runner in runners.values():
            runner.stop()
        for reader in readers.values():
            reader.close()


@contextmanager
def reading_views(
    env: Mapping[str, str],
    *,
    app_name: str,
    names: tuple[str, ...] = tuple(VIEWS),
) -> Iterator[RunningViews]:
    """The named views opened for reading only, while their runners run in another process
    (`running_projections` there); `wait` waits for the runners of the log of `app_name`."""
    readers: dict[str, PostgresView[Any]] = {}
    try:
        for name in names:
            spec = VIEWS[name]
            readers[name] = open_view(spec.projection_class, spec.view_class, reader_env(env))
        yield RunningViews({}, readers, app_name)
    finally:
        for reader in readers.values():
            reader.close()
