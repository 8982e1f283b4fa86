"""The trace of the command that writes events travels with them in JetStream."""

from __future__ import annotations

import uuid

from eventsourcing.persistence import StoredEvent
from opentelemetry.sdk.trace import TracerProvider

from services.eventstore.connection import JetStreamConnection
from services.eventstore.layout import aggregate_token
from services.eventstore.recorders import JetStreamApplicationRecorder


def test_events_written_inside_a_span_carry_its_w3c_traceparent(nats_url: str) -> None:
    tracer = TracerProvider().get_tracer("test")
    connection = JetStreamConnection(nats_url, name="tracing")
    try:
        recorder = JetStreamApplicationRecorder(connection, "TR" + uuid.uuid4().hex[:12].upper())
        wallet, bet = uuid.uuid4(), uuid.uuid4()
        with tracer.start_as_current_span("POST /wallet/hub88/transaction/bet") as span:
            recorder.insert_events(
                [StoredEvent(wallet, 1, "held", b"{}"), StoredEvent(bet, 1, "placed", b"{}")]
            )
        trace_id = f"{span.get_span_context().trace_id:032x}"
        for originator in (wallet, bet):
            subject = f"{recorder.stream}.e.{aggregate_token(originator)}"
            stored = connection.call(connection.last_by_subject(recorder.stream, subject))
            assert stored is not None
            assert stored.headers["traceparent"].split("-")[1] == trace_id

        recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "untraced", b"{}")])  # no span
        last = connection.call(
            connection.last_by_subject(recorder.stream, f"{recorder.stream}.e.*")
        )
        assert last is not None and "traceparent" not in last.headers
    finally:
        connection.close()
