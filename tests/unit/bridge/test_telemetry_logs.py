"""Logs as `livebridge run` writes them: JSON lines on request, carrying the current trace."""

from __future__ import annotations

import io
import json
import logging

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import format_span_id
from opentelemetry.trace import format_trace_id

from services.bridge.telemetry import log_handler


def logged(environ: dict[str, str], within_span: bool) -> tuple[str, str, str]:
    """One line logged through the handler `environ` asks for: (line, trace id, span id)."""
    handler = log_handler(environ)
    stream = io.StringIO()
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    logger = logging.getLogger("livebridge.test.telemetry")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        if not within_span:
            logger.warning("provider %s: no answer", "evo")
            return stream.getvalue(), "", ""
        tracer = TracerProvider().get_tracer("test")
        with tracer.start_as_current_span("wallet debit") as span:
            logger.warning("provider %s: no answer", "evo")
            context = span.get_span_context()
        return (
            stream.getvalue(),
            format_trace_id(context.trace_id),
            format_span_id(context.span_id),
        )
    finally:
        logger.removeHandler(handler)


def test_json_logs_carry_the_trace_and_span_of_the_current_span() -> None:
    line, trace_id, span_id = logged({"LIVEBRIDGE_LOG_FORMAT": "json"}, within_span=True)

    record = json.loads(line)

    assert record["message"] == "provider evo: no answer"
    assert record["level"] == "WARNING"
    assert record["logger"] == "livebridge.test.telemetry"
    assert record["trace_id"] == trace_id and len(trace_id) == 32
    assert record["span_id"] == span_id and len(span_id) == 16
    assert "time" in record


def test_json_logs_outside_a_span_say_there_is_no_trace() -> None:
    line, _, _ = logged({"LIVEBRIDGE_LOG_FORMAT": "json"}, within_span=False)

    record = json.loads(line)

    assert record["trace_id"] is None and record["span_id"] is None


def test_logs_stay_plain_text_unless_json_is_asked_for() -> None:
    line, _, _ = logged({}, within_span=True)

    assert line.rstrip().endswith("livebridge.test.telemetry provider evo: no answer")
