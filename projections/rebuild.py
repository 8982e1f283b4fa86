"""Rebuild a view from the log: into a scratch schema, diffed against the live tables, swapped.

`catch_up` is the fast path shared by rebuilds and the bench: it reads the log in pages
(a reader thread fetches and decodes the next pages while the current one is written),
feeds every event through the view's own `Projection`, and commits each page as one
transaction with its last tracking row. It gives exactly the rows the live runner gives
one event at a time, because both run the same `process_event` code and the view folds
a page the way the per-event upserts would.

`rebuild` (invariant I7):
1. opens the live view and a scratch copy of it in schema `<live>__<name>_scratch`;
2. builds the scratch copy from the log up to the live view's position, then again to
   close the gap while the live runner kept going;
3. locks the live tables against writers (readers go on), brings the scratch copy to
   the live position, diffs every table row for row, and, if they are identical,
   swaps the scratch tables in and the old ones out to `<live>__<name>_previous`.
An empty live view (never built) is simply replaced. Differences are reported and
nothing is swapped; so is a live view that has not reached the log's head as it was when
the rebuild began (a stalled view): a rebuild never reports success short of the head.
Events the view cannot store are parked in both copies alike (`pgview`), so they are
compared like any row.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.persistence import Mapper
from eventsourcing.persistence import StoredEvent
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from eventsourcing.utils import Environment
from eventsourcing.utils import get_topic
from opentelemetry import trace
from opentelemetry.trace import Span

from contracts.tracing import parent_context
from contracts.tracing import traceparent_of
from contracts.tracing import tracing_on
from projections.pgview import CONNECTION_ERRORS
from projections.pgview import PostgresView

PAGE = 2000
STALL_S = 5.0
"""How long a live view may make no progress, short of the log's head, before a rebuild
calls it stalled (and reports no success)."""

AnyView = PostgresView[Any]
_tracer = trace.get_tracer("livebridge.projections")


def open_view(
    projection_class: type[Projection[Any]],
    view_class: type[AnyView],
    env: Mapping[str, str],
) -> AnyView:
    """Build a view the way `ProjectionRunner` does (settings under `<NAME>_` first)."""
    factory = InfrastructureFactory[AnyView].construct(
        Environment(projection_class.name, dict(env))
    )
    return factory.tracking_recorder(view_class)


Decoded = tuple[DomainEventProtocol[Any], Tracking, str | None]
"""An event, its log position, and the `traceparent` it was written under."""


def _pages(
    app: Application[Any],
    start: int,
    stop: int | None,
    topics: Sequence[str],
    page: int,
) -> Iterator[list[Decoded]]:
    """Pages of decoded events after `start`, read one page ahead in a thread."""
    pages: queue.Queue[list[Decoded] | BaseException | None]
    pages = queue.Queue(maxsize=4)
    halt = threading.Event()

    def read() -> None:
        position = start
        try:
            while not halt.is_set():
                notifications = app.recorder.select_notifications(
                    start=position + 1, limit=page, stop=stop, topics=topics
                )
                if not notifications:
                    break
                events = [
                    (decoded(app.mapper, n), Tracking(app.name, n.id), traceparent_of(n))
                    for n in notifications
                ]
                pages.put(events)
                position = notifications[-1].id
                if stop is not None and position >= stop:
                    break
            pages.put(None)
        except BaseException as error:  # handed to the consumer, re-raised there
            pages.put(error)

    reader = threading.Thread(target=read, name="rebuild-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = pages.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        halt.set()
        while reader.is_alive():
            try:
                pages.get_nowait()
            except queue.Empty:
                reader.join(timeout=0.05)


@dataclass(frozen=True)
class Undecodable:
    """A stored event the application cannot turn back into a domain event."""

    topic: str
    reason: str


def decoded(mapper: Mapper[Any], notification: StoredEvent) -> Any:
    """The domain event, or `Undecodable` (for `project` to park) when it cannot be one."""
    try:
        return mapper.to_domain_event(notification)
    except Exception as error:
        return Undecodable(notification.topic, f"{type(error).__name__}: {error}")


def project(projection: Projection[Any], domain_event: Any, tracking: Tracking) -> None:
    """`projection.process_event`, parking an event that cannot be decoded or projected.

    A database failure is not the event's fault: it is raised, and the event is offered
    again after it.
    """
    view = projection.view
    assert isinstance(view, PostgresView)
    if isinstance(domain_event, Undecodable):
        view.park(tracking, domain_event.topic, f"cannot decode: {domain_event.reason}")
        return
    try:
        projection.process_event(domain_event, tracking)
    except CONNECTION_ERRORS:
        raise
    except Exception as error:
        view.park(tracking, get_topic(type(domain_event)), f"{type(error).__name__}: {error}")


def catch_up(
    app: Application[Any],
    projection: Projection[Any],
    *,
    stop: int | None = None,
    page: int = PAGE,
    traced: bool = False,
) -> int:
    """Apply every event after the view's position (up to `stop`); returns how many.

    `traced` (the live runner): each event written under a trace gets a `project <view>`
    span in that trace, from its projection until its rows are committed. A rebuild
    leaves old traces alone.
    """
    view = projection.view
    assert isinstance(view, PostgresView)
    start = view.max_tracking_id(app.name) or 0
    if stop is not None and start >= stop:
        return 0
    count = 0
    # Three stages overlap: read and decode (reader thread), project (here), write
    # (writer thread, batches committed strictly in order, one transaction each).
    batches: queue.Queue[tuple[Any, list[Span]] | None] = queue.Queue(maxsize=2)
    failed: list[BaseException] = []
    traced = traced and tracing_on()

    def write() -> None:
        while (item := batches.get()) is not None:
            taken, spans = item
            if failed:
                _end(spans, failed[0])
                continue
            try:
                view.commit_batch(taken)
            except BaseException as error:  # re-raised by the projecting thread
                failed.append(error)
            _end(spans, failed[0] if failed else None)

    writer = threading.Thread(target=write, name="rebuild-writer", daemon=True)
    writer.start()
    try:
        with view.batched():
            for events in _pages(app, start, stop, projection.topics, page):
                spans: list[Span] = []
                for domain_event, tracking, traceparent in events:
                    if traced and traceparent:
                        span = _tracer.start_span(
                            f"project {projection.name}",
                            context=parent_context(traceparent),
                            kind=trace.SpanKind.CONSUMER,
                            attributes={
                                "livebridge.view": projection.name,
                                "livebridge.log_position": tracking.notification_id,
                                "livebridge.event": type(domain_event).__qualname__,
                            },
                        )
                        spans.append(span)
                        with trace.use_span(span, end_on_exit=False):
                            project(projection, domain_event, tracking)
                    else:
                        project(projection, domain_event, tracking)
                taken = view.take_batch()
                if taken is not None:
                    batches.put((taken, spans))
                    count += taken.count
                else:
                    _end(spans, None)
                if failed:
                    break
    finally:
        batches.put(None)
        writer.join()
    if failed:
        raise failed[0]
    return count


def _end(spans: list[Span], error: BaseException | None) -> None:
    """End the spans of a batch once its transaction is over (committed or failed)."""
    for span in spans:
        if error is not None:
            span.record_exception(error)
            span.set_status(trace.StatusCode.ERROR, str(error))
        span.end()


@dataclass
class RebuildReport:
    name: str
    events: int = 0
    seconds: float = 0.0
    position: int | None = None
    differences: list[str] = field(default_factory=list)
    swapped: bool = False
    live_was_empty: bool = False
    head: int | None = None
    """The log's head when the rebuild began: a rebuild that stops short of it is no success."""
    parked: int = 0

    @property
    def short_of_head(self) -> bool:
        return (self.head or 0) > (self.position or 0)

    @property
    def ok(self) -> bool:
        return not self.differences and not self.short_of_head

    def lines(self) -> list[str]:
        rate = self.events / self.seconds if self.seconds else 0.0
        head = (
            f"{self.name}: rebuilt {self.events} events up to log position "
            f"{self.position} in {self.seconds:.2f} s ({rate:,.0f} events/s); "
            f"{self.parked} event(s) parked"
        )
        if self.short_of_head:
            verdict = (
                f"stopped at log position {self.position}, short of the log's head "
                f"{self.head}: the live view is behind the log (see `livebridge projections "
                "parked` and the bridge's log); nothing swapped"
            )
        elif self.live_was_empty:
            verdict = "live view was empty; rebuilt copy installed"
        elif self.differences:
            verdict = f"{len(self.differences)} difference line(s); live view kept, nothing swapped"
        else:
            verdict = "no differences; swapped in" if self.swapped else "no differences"
        return [head, *self.differences, f"{self.name}: {verdict}"]


def _await_live(
    live: AnyView, application_name: str, head: int, stall_s: float, seen: tuple[int, float]
) -> None:
    """Wait for the live view to reach `head`, as long as it keeps moving: a lagging view
    is waited for, a stalled one (no progress for `stall_s`) is not.

    Progress counts from `seen`, the live position and the time it was read as the rebuild
    began: a view no runner has moved while the rebuild read the whole log (one rebuilt
    offline, or in the bench) is stalled already, not waited for `stall_s` more.
    """
    position, moved_at = seen
    while True:
        now = live.max_tracking_id(application_name) or 0
        if now > position:
            position, moved_at = now, time.monotonic()
        if position >= head or time.monotonic() - moved_at >= stall_s:
            return
        time.sleep(0.05)


def scratch_schema(live_schema: str, name: str) -> str:
    return f"{live_schema}__{name.lower()}_scratch"[:63]


def backup_schema(live_schema: str, name: str) -> str:
    return f"{live_schema}__{name.lower()}_previous"[:63]


def rebuild(
    app: Application[Any],
    projection_class: type[Projection[Any]],
    view_class: type[AnyView],
    env: Mapping[str, str],
    *,
    swap: bool = True,
    stall_s: float = STALL_S,
) -> RebuildReport:
    """Rebuild one view from `app`'s log beside the live one, diff, and swap (see module doc)."""
    name = projection_class.name
    report = RebuildReport(name=name)
    live = open_view(projection_class, view_class, env)
    scratch_env = {**env, f"{name.upper()}_POSTGRES_SCHEMA": scratch_schema(live.schema, name)}
    scratch = open_view(projection_class, view_class, scratch_env)
    try:
        # A scratch copy left by an interrupted rebuild is thrown away first.
        scratch.drop_schema()
        scratch.create_table()
        projection = projection_class(scratch)
        started = time.perf_counter()
        report.head = app.recorder.max_notification_id()
        live_position = live.max_tracking_id(app.name)
        seen = (live_position or 0, time.monotonic())
        report.live_was_empty = live_position is None
        target = app.recorder.max_notification_id() if live_position is None else live_position
        report.events += catch_up(app, projection, stop=target)
        report.events += catch_up(app, projection, stop=live.max_tracking_id(app.name) or target)
        if report.head is not None:
            _await_live(live, app.name, report.head, stall_s, seen)
            report.events += catch_up(app, projection, stop=live.max_tracking_id(app.name))
        scratch.analyze()
        with live.locked() as curs:
            position = live._max_tracking_id(app.name, curs)
            if position is not None:
                report.events += catch_up(app, projection, stop=position)
                report.differences = scratch.differences(live)
            report.position = scratch.max_tracking_id(app.name)
            report.parked = scratch.parked_count(app.name)
            report.seconds = time.perf_counter() - started
            if swap and report.ok:
                scratch.swap_in(curs, live.schema, backup_schema(live.schema, name))
                report.swapped = True
        if report.swapped:
            scratch.drop_schema()
    finally:
        scratch.close()
        live.close()
    return report
