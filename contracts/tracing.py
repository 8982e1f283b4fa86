"""The W3C trace context a stored event or a message carries, for whoever reads it.

The event store stores the `traceparent` of the command that wrote an event on its
JetStream message and hands it back on the notification it reads (an attribute
`traceparent`, None when it has none). Every consumer of the log (the views' runners, the
settle publisher, webhook deliveries) starts its span for that event as a child of that
context, so one bet is one trace from the provider's HTTP call to its webhook delivery.

Reading the header costs a little per event, so readers only read it when a tracing SDK is
installed (`tracing_on`): without one, every span would be a no-op anyway.
"""

from __future__ import annotations

from opentelemetry import propagate
from opentelemetry import trace
from opentelemetry.context import Context

TRACEPARENT = "traceparent"
"""The W3C header (and message header) that carries the trace."""


def tracing_on() -> bool:
    """Whether an SDK tracer provider is installed (else every span is a no-op)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def traceparent_of(notification: object) -> str | None:
    """The stored `traceparent` of a notification (None for one read without it)."""
    value = getattr(notification, TRACEPARENT, None)
    return value if isinstance(value, str) else None


def parent_context(traceparent: str | None) -> Context | None:
    """The context to start a consumer's span in: the writer's trace (None: a new trace)."""
    if not traceparent:
        return None
    return propagate.extract({TRACEPARENT: traceparent})


def inject(headers: dict[str, str]) -> dict[str, str]:
    """`headers` with the current span's `traceparent` (and `tracestate`) added."""
    propagate.inject(headers)
    return headers
