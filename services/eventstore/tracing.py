"""The trace a stored event carries, for whoever reads it from the log.

The recorder stores the W3C `traceparent` of the command that wrote an event on its
message (`recorders.TRACEPARENT`) and hands it back on the notification it reads
(`TracedNotification.traceparent`). Every consumer of the log (the views' runners, the
settle publisher) starts its span for that event as a child of that context, so one bet
is one trace from the provider's HTTP call to its webhook delivery.

Reading the header costs a little per event, so it is only read when a tracing SDK is
installed (`tracing_on`): without one, every span would be a no-op anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

from eventsourcing.persistence import Notification
from opentelemetry import propagate, trace
from opentelemetry.context import Context


@dataclass(frozen=True)
class TracedNotification(Notification):
    """A notification with the trace context of the command that wrote it (None: none)."""

    traceparent: str | None = None


def tracing_on() -> bool:
    """Whether an SDK tracer provider is installed (else every span is a no-op)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def traceparent_of(notification: Notification) -> str | None:
    """The stored `traceparent` of a notification (None for one read without it)."""
    return getattr(notification, "traceparent", None)


def parent_context(traceparent: str | None) -> Context | None:
    """The context to start a consumer's span in: the writer's trace (None: a new trace)."""
    if not traceparent:
        return None
    return propagate.extract({"traceparent": traceparent})


def inject(headers: dict[str, str]) -> dict[str, str]:
    """`headers` with the current span's `traceparent` (and `tracestate`) added."""
    propagate.inject(headers)
    return headers
